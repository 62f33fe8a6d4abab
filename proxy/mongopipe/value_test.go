package mongopipe

import (
	"errors"
	"math"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func dec(s string) bson.Decimal128 {
	d, err := bson.ParseDecimal128(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCompareAndKeys(t *testing.T) {
	// Each row lists values in ascending order; equal ones share a group.
	order := [][]any{
		{bson.MinKey{}},
		{missing},
		{nil, bson.Null{}},
		{math.NaN()},
		{math.Inf(-1)},
		{int64(math.MinInt64)},
		{int32(-1), -1.0, int64(-1), dec("-1")},
		{-0.5, dec("-0.5")},
		{int32(0), 0.0, math.Copysign(0, -1), int64(0)},
		{dec("0.1")},
		{0.1}, // the double 0.1 is a little above the decimal 0.1
		{int32(2), 2.0, int64(2), dec("2.0")},
		{float64(1 << 53), int64(1 << 53)},
		{int64(1<<53 + 1)},
		{int64(math.MaxInt64)},
		{1e300},
		{math.Inf(1)},
		{"", bson.Symbol("")},
		{"a"},
		{"b"},
		{bson.D{}},
		{bson.D{{Key: "a", Value: int32(1)}}, bson.D{{Key: "a", Value: 1.0}}},
		// Field types decide before names: a number field sorts first.
		{bson.D{{Key: "b", Value: int32(0)}}},
		{bson.D{{Key: "a", Value: "x"}}},
		{bson.A{}},
		{bson.A{int32(1)}, bson.A{1.0}},
		{bson.A{int32(1), int32(2)}},
		{bson.Binary{Data: []byte{1}}},
		{bson.ObjectID{1}},
		{false},
		{true},
		{bson.DateTime(0)},
		{bson.DateTime(1)},
		{bson.Timestamp{T: 1}},
		{bson.Regex{Pattern: "a"}},
		{bson.MaxKey{}},
	}
	for i, row := range order {
		for _, a := range row {
			for _, b := range row {
				if c := compareValues(a, b); c != 0 {
					t.Errorf("%s vs %s: %d, want equal", show(a), show(b), c)
				}
				if a != missing && b != missing && groupKey(a) != groupKey(b) {
					t.Errorf("%s and %s group apart: %q %q", show(a), show(b), groupKey(a), groupKey(b))
				}
			}
			for _, later := range order[i+1:] {
				for _, b := range later {
					if compareValues(a, b) >= 0 || compareValues(b, a) <= 0 {
						t.Errorf("%s should sort before %s", show(a), show(b))
					}
					if groupKey(a) == groupKey(b) {
						t.Errorf("%s and %s share a group key %q", show(a), show(b), groupKey(a))
					}
				}
			}
		}
	}
}

func TestErrorCodeNames(t *testing.T) {
	for _, tc := range []struct {
		err  error
		name string
	}{
		{errf(codeExceededMemory, "x"), "ExceededMemoryLimit"},
		{errf(codeInvalidOperator, "x"), "InvalidPipelineOperator"},
		{errf(16702, "x"), "Location16702"},
	} {
		var pe *Error
		if !errors.As(tc.err, &pe) || pe.CodeName != tc.name || !strings.HasPrefix(pe.Error(), "mongopipe: ") {
			t.Errorf("%v: code name %q, want %q", tc.err, pe.CodeName, tc.name)
		}
	}
}
