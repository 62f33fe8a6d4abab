package mongopipe

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// missingT marks a field that does not exist. MongoDB distinguishes a
// missing field from one holding null: an expression yielding missing adds
// no field, $push skips it, and in comparisons missing sorts below null.
type missingT struct{}

var missing any = missingT{}

func isMissing(v any) bool { _, ok := v.(missingT); return ok }

// isNullish reports null, undefined or missing: the values arithmetic
// operators turn into a null result and accumulators such as $min ignore.
func isNullish(v any) bool {
	switch v.(type) {
	case nil, missingT, bson.Null, bson.Undefined:
		return true
	}
	return false
}

// normalize converts a Go value as a caller may build it (int, bson.M,
// []any, time.Time, ...) into the types the driver decodes BSON into, by a
// BSON round trip, so the evaluator only ever sees canonical BSON types.
func normalizeDoc(d bson.D) (bson.D, error) {
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, errf(codeFailedToParse, "cannot encode %v: %v", d, err)
	}
	var out bson.D
	if err := bson.Unmarshal(raw, &out); err != nil {
		return nil, errf(codeFailedToParse, "cannot decode: %v", err)
	}
	return out, nil
}

// Canonical BSON type order for comparisons and sorting
// (https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/).
const (
	rankMinKey = iota
	rankMissing
	rankNull
	rankNumber
	rankString
	rankObject
	rankArray
	rankBinary
	rankObjectID
	rankBool
	rankDate
	rankTimestamp
	rankRegex
	rankOther
	rankMaxKey
)

func typeRank(v any) int {
	switch v.(type) {
	case bson.MinKey:
		return rankMinKey
	case missingT, bson.Undefined:
		return rankMissing
	case nil, bson.Null:
		return rankNull
	case int32, int64, float64, bson.Decimal128:
		return rankNumber
	case string, bson.Symbol:
		return rankString
	case bson.D:
		return rankObject
	case bson.A:
		return rankArray
	case bson.Binary:
		return rankBinary
	case bson.ObjectID:
		return rankObjectID
	case bool:
		return rankBool
	case bson.DateTime:
		return rankDate
	case bson.Timestamp:
		return rankTimestamp
	case bson.Regex:
		return rankRegex
	case bson.MaxKey:
		return rankMaxKey
	}
	return rankOther
}

func isNumber(v any) bool { return typeRank(v) == rankNumber }

// numRat returns a number as an exact rational (nil for NaN/±Inf, which
// compare specially).
func numRat(v any) *big.Rat {
	switch n := v.(type) {
	case int32:
		return new(big.Rat).SetInt64(int64(n))
	case int64:
		return new(big.Rat).SetInt64(n)
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil
		}
		return new(big.Rat).SetFloat64(n)
	case bson.Decimal128:
		if n.IsNaN() || n.IsInf() != 0 {
			return nil
		}
		r, ok := new(big.Rat).SetString(n.String())
		if !ok {
			return nil
		}
		return r
	}
	return nil
}

// numFloat returns a number as float64 (decimals approximated).
func numFloat(v any) float64 {
	switch n := v.(type) {
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	case float64:
		return n
	case bson.Decimal128:
		f, _ := strconv.ParseFloat(n.String(), 64)
		if n.IsNaN() {
			return math.NaN()
		}
		if s := n.IsInf(); s != 0 {
			return math.Inf(s)
		}
		return f
	}
	return math.NaN()
}

func compareNumbers(a, b any) int {
	// Fast paths keep the common integer and double cases cheap.
	switch x := a.(type) {
	case int32:
		if y, ok := b.(int32); ok {
			return cmpOrdered(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
	}
	fa, fb := numFloat(a), numFloat(b)
	// Below 2^53 every integer is exact as a double, so int/double pairs
	// compare as doubles; beyond that the exact rationals decide.
	_, da := a.(bson.Decimal128)
	_, db := b.(bson.Decimal128)
	if !da && !db && math.Abs(fa) < 1<<53 && math.Abs(fb) < 1<<53 {
		if math.IsNaN(fa) || math.IsNaN(fb) {
			return cmpOrdered(boolInt(!math.IsNaN(fa)), boolInt(!math.IsNaN(fb)))
		}
		return cmpOrdered(fa, fb)
	}
	// NaN sorts below every other number and equals itself.
	if math.IsNaN(fa) || math.IsNaN(fb) {
		switch {
		case math.IsNaN(fa) && math.IsNaN(fb):
			return 0
		case math.IsNaN(fa):
			return -1
		default:
			return 1
		}
	}
	if math.IsInf(fa, 0) || math.IsInf(fb, 0) {
		return cmpOrdered(fa, fb)
	}
	ra, rb := numRat(a), numRat(b)
	if ra == nil || rb == nil {
		return cmpOrdered(fa, fb)
	}
	return ra.Cmp(rb)
}

func cmpOrdered[T int32 | int64 | float64 | string | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// compareValues orders any two values the way MongoDB does: first by the
// canonical type order, then within a type. Documents compare field by
// field (name, then value); arrays element by element.
func compareValues(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return cmpOrdered(int64(ra), int64(rb))
	}
	switch ra {
	case rankMinKey, rankMaxKey, rankNull, rankMissing:
		return 0
	case rankNumber:
		return compareNumbers(a, b)
	case rankString:
		return strings.Compare(stringOf(a), stringOf(b))
	case rankObject:
		da, db := a.(bson.D), b.(bson.D)
		for i := 0; i < len(da) && i < len(db); i++ {
			if c := cmpOrdered(int64(typeRank(da[i].Value)), int64(typeRank(db[i].Value))); c != 0 {
				return c
			}
			if c := strings.Compare(da[i].Key, db[i].Key); c != 0 {
				return c
			}
			if c := compareValues(da[i].Value, db[i].Value); c != 0 {
				return c
			}
		}
		return cmpOrdered(int64(len(da)), int64(len(db)))
	case rankArray:
		aa, ab := a.(bson.A), b.(bson.A)
		for i := 0; i < len(aa) && i < len(ab); i++ {
			if c := compareValues(aa[i], ab[i]); c != 0 {
				return c
			}
		}
		return cmpOrdered(int64(len(aa)), int64(len(ab)))
	case rankBinary:
		x, y := a.(bson.Binary), b.(bson.Binary)
		if c := cmpOrdered(int64(len(x.Data)), int64(len(y.Data))); c != 0 {
			return c
		}
		if c := cmpOrdered(int64(x.Subtype), int64(y.Subtype)); c != 0 {
			return c
		}
		return bytes.Compare(x.Data, y.Data)
	case rankObjectID:
		x, y := a.(bson.ObjectID), b.(bson.ObjectID)
		return bytes.Compare(x[:], y[:])
	case rankBool:
		return cmpBool(a.(bool), b.(bool))
	case rankDate:
		return cmpOrdered(int64(a.(bson.DateTime)), int64(b.(bson.DateTime)))
	case rankTimestamp:
		x, y := a.(bson.Timestamp), b.(bson.Timestamp)
		if c := cmpOrdered(x.T, y.T); c != 0 {
			return c
		}
		return cmpOrdered(x.I, y.I)
	case rankRegex:
		x, y := a.(bson.Regex), b.(bson.Regex)
		if c := strings.Compare(x.Pattern, y.Pattern); c != 0 {
			return c
		}
		return strings.Compare(x.Options, y.Options)
	}
	// Types without a defined order here (JavaScript, DBPointer, ...):
	// compare their printed form so the order is at least total.
	return strings.Compare(debugString(a), debugString(b))
}

func stringOf(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case bson.Symbol:
		return string(s)
	}
	return ""
}

func debugString(v any) string {
	b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, true, false)
	if err != nil {
		return ""
	}
	return string(b)
}

// groupKey is a canonical string for a value such that two values get the
// same key exactly when MongoDB treats them as equal for grouping and set
// membership ($group _id, $addToSet): 1, 1.0 and NumberLong(1) are one key.
func groupKey(v any) string {
	var sb strings.Builder
	writeKey(&sb, v)
	return sb.String()
}

func writeKey(sb *strings.Builder, v any) {
	sb.WriteByte(byte('a' + typeRank(v)))
	switch x := v.(type) {
	case int32:
		sb.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
	case float64, bson.Decimal128:
		// Integral values share the integers' key (1.0 groups with 1);
		// others use the shortest exact form of the double, or for a
		// decimal no double holds exactly, its rational.
		f := numFloat(x)
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			if _, dec := x.(bson.Decimal128); !dec {
				sb.WriteString(strconv.FormatInt(int64(f), 10))
				break
			}
		}
		if r := numRat(x); r != nil {
			switch {
			case r.IsInt():
				sb.WriteString(r.Num().String())
			default:
				if rf, exact := r.Float64(); exact {
					sb.WriteString(strconv.FormatFloat(rf, 'g', -1, 64))
				} else {
					sb.WriteString(r.RatString())
				}
			}
		} else {
			f := numFloat(x)
			switch {
			case math.IsNaN(f):
				sb.WriteString("NaN")
			case f > 0:
				sb.WriteString("+Inf")
			default:
				sb.WriteString("-Inf")
			}
		}
	case string:
		sb.WriteString(strconv.Quote(x))
	case bson.Symbol:
		sb.WriteString(strconv.Quote(string(x)))
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case bson.DateTime:
		sb.WriteString(strconv.FormatInt(int64(x), 10))
	case bson.ObjectID:
		sb.WriteString(x.Hex())
	case bson.D:
		sb.WriteByte('{')
		for _, e := range x {
			sb.WriteString(strconv.Quote(e.Key))
			sb.WriteByte(':')
			writeKey(sb, e.Value)
			sb.WriteByte(',')
		}
		sb.WriteByte('}')
	case bson.A:
		sb.WriteByte('[')
		for _, e := range x {
			writeKey(sb, e)
			sb.WriteByte(',')
		}
		sb.WriteByte(']')
	case nil, missingT, bson.Null, bson.Undefined, bson.MinKey, bson.MaxKey:
	default:
		sb.WriteString(debugString(x))
	}
}

// truthy is MongoDB's boolean conversion in expressions: false, null,
// missing, undefined and numeric zero are false; everything else is true.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case nil, missingT, bson.Null, bson.Undefined:
		return false
	case int32, int64, float64, bson.Decimal128:
		return numFloat(x) != 0
	}
	return true
}

// typeName is the $type name of a value, used in error messages.
func typeName(v any) string {
	switch v.(type) {
	case missingT:
		return "missing"
	case nil, bson.Null:
		return "null"
	case int32:
		return "int"
	case int64:
		return "long"
	case float64:
		return "double"
	case bson.Decimal128:
		return "decimal"
	case string:
		return "string"
	case bson.D:
		return "object"
	case bson.A:
		return "array"
	case bool:
		return "bool"
	case bson.DateTime:
		return "date"
	case bson.ObjectID:
		return "objectId"
	case bson.Binary:
		return "binData"
	case bson.Regex:
		return "regex"
	case bson.Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("unsupported Go type %T", v)
}

func dateTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case bson.DateTime:
		return x.Time().UTC(), true
	case bson.Timestamp:
		return time.Unix(int64(x.T), 0).UTC(), true
	case bson.ObjectID:
		return x.Timestamp().UTC(), true
	}
	return time.Time{}, false
}
