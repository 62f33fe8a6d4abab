package mongopipe

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var stringOps = map[string]func(any) (expr, error){
	"$concat": opN("$concat", 0, -1, func(vals []any) (any, error) {
		var sb strings.Builder
		n := 0
		for _, v := range vals {
			if isNullish(v) {
				return nil, nil
			}
			s, ok := v.(string)
			if !ok {
				return nil, errf(16702, "$concat only supports strings, not %s", typeName(v))
			}
			n += len(s)
		}
		// Refused before it is built: stages of $concat of a field with
		// itself double a string each (2^30 bytes in 30 stages).
		if n > MaxDocBytes {
			return nil, errf(codeBSONObjectTooLarge, "$concat would build a string of %d bytes, over the maximum BSON size of %d", n, MaxDocBytes)
		}
		for _, v := range vals {
			sb.WriteString(v.(string))
		}
		return sb.String(), nil
	}),
	"$toLower": opN("$toLower", 1, 1, func(v []any) (any, error) { return caseMap("$toLower", v[0], asciiLower) }),
	"$toUpper": opN("$toUpper", 1, 1, func(v []any) (any, error) { return caseMap("$toUpper", v[0], asciiUpper) }),
	"$substrCP": opN("$substrCP", 3, 3, func(v []any) (any, error) {
		s, err := coerceString("$substrCP", v[0])
		if err != nil {
			return nil, err
		}
		start, err := cpArg("starting index", v[1])
		if err != nil {
			return nil, err
		}
		n, err := cpArg("length", v[2])
		if err != nil {
			return nil, err
		}
		runes := []rune(s)
		if !utf8.ValidString(s) {
			return nil, errf(codeBadValue, "$substrCP: invalid UTF-8 string")
		}
		if start >= int64(len(runes)) {
			return "", nil
		}
		end := min(start+n, int64(len(runes)))
		return string(runes[start:end]), nil
	}),
}

// MongoDB's $toLower/$toUpper change only ASCII letters.
func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + ('a' - 'A')
	}
	return r
}

func asciiUpper(r rune) rune {
	if r >= 'a' && r <= 'z' {
		return r - ('a' - 'A')
	}
	return r
}

func caseMap(op string, v any, f func(rune) rune) (any, error) {
	s, err := coerceString(op, v)
	if err != nil {
		return nil, err
	}
	return strings.Map(f, s), nil
}

// coerceString is the string conversion of the string operators: null and
// missing become "", numbers, dates and strings their text.
func coerceString(op string, v any) (string, error) {
	switch x := v.(type) {
	case nil, missingT, bson.Null, bson.Undefined:
		return "", nil
	case string:
		return x, nil
	case bson.Symbol:
		return string(x), nil
	case float64:
		return formatDouble(x, false), nil
	case int32, int64, bson.Decimal128, bson.DateTime, bson.Timestamp:
		s, err := toStringValue(x)
		if err != nil {
			return "", err
		}
		return s.(string), nil
	}
	return "", errf(16007, "can't convert from BSON type %s to String in %s", typeName(v), op)
}

func cpArg(what string, v any) (int64, error) {
	if !isNumber(v) {
		return 0, errf(34450, "$substrCP: %s must be a numeric type (is BSON type %s)", what, typeName(v))
	}
	f := numFloat(v)
	if f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, errf(34451, "$substrCP: %s cannot be represented as a 32-bit integral value", what)
	}
	if f < 0 {
		return 0, errf(34452, "$substrCP: %s must be a nonnegative integer", what)
	}
	return int64(f), nil
}

// formatDouble renders a double as the server's string builder does:
// printf's %g, six significant digits (3.14159265 → "3.14159", 1e6 →
// "1e+06"). $toString names the special values; the string operators
// ($toLower, $concat's callers) print them as %g does.
func formatDouble(f float64, named bool) string {
	switch {
	case math.IsNaN(f) && named:
		return "NaN"
	case math.IsInf(f, 0) && named:
		if f > 0 {
			return "Infinity"
		}
		return "-Infinity"
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

func toStringValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, missingT, bson.Null, bson.Undefined:
		return nil, nil
	case string:
		return x, nil
	case bson.Symbol:
		return string(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return formatDouble(x, true), nil
	case bson.Decimal128:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case bson.ObjectID:
		return x.Hex(), nil
	case bson.DateTime:
		return x.Time().UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return nil, errf(codeCannotConvert, "unsupported conversion from %s to string in $convert with no onError value", typeName(v))
}

func toDouble(v any) (any, error) {
	switch x := v.(type) {
	case nil, missingT, bson.Null, bson.Undefined:
		return nil, nil
	case int32, int64, float64, bson.Decimal128:
		return numFloat(x), nil
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	case bson.DateTime:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || strings.TrimSpace(x) != x {
			return nil, errf(codeCannotConvert, "failed to parse number '%s' in $convert with no onError value", x)
		}
		return f, nil
	}
	return nil, errf(codeCannotConvert, "unsupported conversion from %s to double in $convert with no onError value", typeName(v))
}
