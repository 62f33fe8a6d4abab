package mongopipe

import (
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var dateOps = map[string]func(any) (expr, error){
	"$year":         datePart("$year", func(t time.Time) any { return int32(t.Year()) }),
	"$month":        datePart("$month", func(t time.Time) any { return int32(t.Month()) }),
	"$dayOfMonth":   datePart("$dayOfMonth", func(t time.Time) any { return int32(t.Day()) }),
	"$dateToString": compileDateToString,
}

// datePart compiles $year-like operators: either {$year: <date>} or
// {$year: {date: <date>, timezone: <tz>}}.
func datePart(op string, part func(time.Time) any) func(any) (expr, error) {
	return func(args any) (expr, error) {
		dateArg, tzArg := args, any(nil)
		if d, ok := args.(bson.D); ok && len(d) > 0 && d[0].Key == "date" {
			dateArg = missing
			for _, e := range d {
				switch e.Key {
				case "date":
					dateArg = e.Value
				case "timezone":
					tzArg = e.Value
				default:
					return nil, errf(40535, "unrecognized option to %s: %q", op, e.Key)
				}
			}
		}
		if a, ok := dateArg.(bson.A); ok {
			if len(a) != 1 {
				return nil, errf(codeLocation16020, "expression %s takes exactly 1 arguments; %d were passed in", op, len(a))
			}
			dateArg = a[0]
		}
		de, err := compileExpr(dateArg)
		if err != nil {
			return nil, err
		}
		tz, err := compileTZ(tzArg)
		if err != nil {
			return nil, err
		}
		return func(doc bson.D) (any, error) {
			v, err := de(doc)
			if err != nil {
				return nil, err
			}
			if isNullish(v) {
				return nil, nil
			}
			t, ok := dateTime(v)
			if !ok {
				return nil, errf(16006, "can't convert from BSON type %s to Date", typeName(v))
			}
			loc, err := tz(doc)
			if err != nil || loc == nil {
				return nil, err
			}
			return part(t.In(loc)), nil
		}, nil
	}
}

// compileTZ compiles an optional timezone argument: an Olson name or a
// UTC offset ("+03", "-0530", "+05:30"). A nil location means null.
func compileTZ(arg any) (func(bson.D) (*time.Location, error), error) {
	if arg == nil {
		return func(bson.D) (*time.Location, error) { return time.UTC, nil }, nil
	}
	e, err := compileExpr(arg)
	if err != nil {
		return nil, err
	}
	return func(doc bson.D) (*time.Location, error) {
		v, err := e(doc)
		if err != nil {
			return nil, err
		}
		if isNullish(v) {
			return nil, nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, errf(40517, "timezone must evaluate to a string, found %s", typeName(v))
		}
		return parseTZ(s)
	}, nil
}

func parseTZ(s string) (*time.Location, error) {
	if s == "UTC" || s == "GMT" || s == "Z" {
		return time.UTC, nil
	}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		digits := strings.ReplaceAll(s[1:], ":", "")
		var h, m int
		var err error
		switch len(digits) {
		case 2:
			_, err = fmt.Sscanf(digits, "%02d", &h)
		case 4:
			_, err = fmt.Sscanf(digits, "%02d%02d", &h, &m)
		default:
			err = fmt.Errorf("bad offset")
		}
		if err != nil || h > 23 || m > 59 {
			return nil, errf(40485, "unrecognized time zone identifier: %q", s)
		}
		off := h*3600 + m*60
		if s[0] == '-' {
			off = -off
		}
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, errf(40485, "unrecognized time zone identifier: %q", s)
	}
	return loc, nil
}

func compileDateToString(args any) (expr, error) {
	d, ok := args.(bson.D)
	if !ok {
		return nil, errf(18629, "$dateToString only supports an object as its argument")
	}
	format := "%Y-%m-%dT%H:%M:%S.%LZ"
	var dateArg, tzArg, onNullArg any = nil, nil, missing
	hasDate := false
	for _, e := range d {
		switch e.Key {
		case "format":
			s, ok := e.Value.(string)
			if !ok {
				return nil, errf(18533, "$dateToString requires that 'format' be a string, found: %s", typeName(e.Value))
			}
			format = s
		case "date":
			dateArg, hasDate = e.Value, true
		case "timezone":
			tzArg = e.Value
		case "onNull":
			onNullArg = e.Value
		default:
			return nil, errf(18534, "unrecognized argument to $dateToString: %s", e.Key)
		}
	}
	if !hasDate {
		return nil, errf(18628, "missing 'date' parameter to $dateToString")
	}
	if err := checkDateFormat(format); err != nil {
		return nil, err
	}
	de, err := compileExpr(dateArg)
	if err != nil {
		return nil, err
	}
	tz, err := compileTZ(tzArg)
	if err != nil {
		return nil, err
	}
	var onNull expr
	if !isMissing(onNullArg) {
		if onNull, err = compileExpr(onNullArg); err != nil {
			return nil, err
		}
	}
	return func(doc bson.D) (any, error) {
		v, err := de(doc)
		if err != nil {
			return nil, err
		}
		if isNullish(v) {
			if onNull != nil {
				return onNull(doc)
			}
			return nil, nil
		}
		t, ok := dateTime(v)
		if !ok {
			return nil, errf(16006, "can't convert from BSON type %s to Date", typeName(v))
		}
		loc, err := tz(doc)
		if err != nil || loc == nil {
			return nil, err
		}
		return formatDate(format, t.In(loc)), nil
	}, nil
}

// dateSpecifiers is the format subset of $dateToString the evaluator
// implements; any other %-specifier is refused at compile time.
const dateSpecifiers = "YmdHMSLjwuz%"

func checkDateFormat(f string) error {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 >= len(f) {
			return errf(18535, "unmatched '%%' at end of $dateToString format string")
		}
		if !strings.ContainsRune(dateSpecifiers, rune(f[i+1])) {
			return errf(18536, "$dateToString format specifier %%%c is not supported by the proxy's pipeline evaluator", f[i+1])
		}
		i++
	}
	return nil
}

func formatDate(f string, t time.Time) string {
	var sb strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			sb.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			fmt.Fprintf(&sb, "%04d", t.Year())
		case 'm':
			fmt.Fprintf(&sb, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&sb, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&sb, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&sb, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&sb, "%02d", t.Second())
		case 'L':
			fmt.Fprintf(&sb, "%03d", t.Nanosecond()/1e6)
		case 'j':
			fmt.Fprintf(&sb, "%03d", t.YearDay())
		case 'w':
			fmt.Fprintf(&sb, "%d", int(t.Weekday())+1) // 1 = Sunday
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			fmt.Fprintf(&sb, "%d", wd) // ISO: 1 = Monday
		case 'z':
			sb.WriteString(t.Format("-0700"))
		case '%':
			sb.WriteByte('%')
		}
	}
	return sb.String()
}
