package mongopipe

import (
	"math"
	"math/big"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var arithOps = map[string]func(any) (expr, error){
	"$add":      opN("$add", 0, -1, evalAdd),
	"$subtract": opN("$subtract", 2, 2, evalSubtract),
	"$multiply": opN("$multiply", 0, -1, evalMultiply),
	"$divide":   opN("$divide", 2, 2, evalDivide),
	"$mod":      opN("$mod", 2, 2, evalMod),
	"$abs":      opN("$abs", 1, 1, evalAbs),
	"$round":    opN("$round", 1, 2, evalRound),
	"$size": opN("$size", 1, 1, func(v []any) (any, error) {
		arr, ok := v[0].(bson.A)
		if !ok {
			return nil, errf(17124, "the argument to $size must be an array; type of argument: %s", typeName(v[0]))
		}
		return int32(len(arr)), nil
	}),
	"$toDouble": opN("$toDouble", 1, 1, func(v []any) (any, error) { return toDouble(v[0]) }),
	"$toString": opN("$toString", 1, 1, func(v []any) (any, error) { return toStringValue(v[0]) }),
}

// noDecimal refuses decimal128 arithmetic: exact decimal semantics are not
// implemented, and a float approximation would give different digits.
func noDecimal(op string, vals []any) error {
	for _, v := range vals {
		if _, ok := v.(bson.Decimal128); ok {
			return errf(codeTypeMismatch, "%s on decimal128 values is not supported by the proxy's pipeline evaluator", op)
		}
	}
	return nil
}

// numKind orders the numeric result types: an int32 result widens to
// int64 when both fit no more, and to double when any operand is one.
type numKind int

const (
	kindInt numKind = iota
	kindLong
	kindDouble
)

func kindOf(v any) numKind {
	switch v.(type) {
	case int32:
		return kindInt
	case int64:
		return kindLong
	}
	return kindDouble
}

func asInt64(v any) int64 {
	switch n := v.(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	}
	return int64(numFloat(v))
}

// narrow returns an integer result in the narrowest type the operands
// allow: int32 when all were int32 and the value fits.
func narrow(k numKind, n int64) any {
	if k == kindInt && n >= math.MinInt32 && n <= math.MaxInt32 {
		return int32(n)
	}
	return n
}

func evalAdd(vals []any) (any, error) {
	if err := noDecimal("$add", vals); err != nil {
		return nil, err
	}
	kind := kindInt
	var isum int64
	var fsum float64
	var date *bson.DateTime
	overflow := false
	for _, v := range vals {
		switch {
		case isNullish(v):
			return nil, nil
		case isNumber(v):
			k := kindOf(v)
			if k > kind {
				kind = k
			}
			if k == kindDouble || overflow {
				fsum += numFloat(v)
				continue
			}
			n := asInt64(v)
			s := isum + n
			if (n > 0 && s < isum) || (n < 0 && s > isum) {
				// int64 overflow: MongoDB continues in double.
				overflow = true
				fsum += float64(isum) + float64(n)
				isum = 0
				continue
			}
			isum = s
		default:
			d, ok := v.(bson.DateTime)
			if !ok {
				return nil, errf(codeTypeMismatch, "$add only supports numeric or date types, not %s", typeName(v))
			}
			if date != nil {
				return nil, errf(16612, "only one date allowed in an $add expression")
			}
			date = &d
		}
	}
	if date != nil {
		ms := float64(isum) + fsum
		return bson.DateTime(int64(*date) + int64(math.Round(ms))), nil
	}
	if kind == kindDouble || overflow {
		return float64(isum) + fsum, nil
	}
	return narrow(kind, isum), nil
}

func evalMultiply(vals []any) (any, error) {
	if err := noDecimal("$multiply", vals); err != nil {
		return nil, err
	}
	kind := kindInt
	var iprod int64 = 1
	fprod := 1.0
	overflow := false
	for _, v := range vals {
		if isNullish(v) {
			return nil, nil
		}
		if !isNumber(v) {
			return nil, errf(codeTypeMismatch, "$multiply only supports numeric types, not %s", typeName(v))
		}
		k := kindOf(v)
		if k > kind {
			kind = k
		}
		if k == kindDouble || overflow {
			fprod *= numFloat(v)
			continue
		}
		n := asInt64(v)
		p := iprod * n
		if iprod != 0 && (p/iprod != n || (iprod == -1 && n == math.MinInt64) || (n == -1 && iprod == math.MinInt64)) {
			overflow = true
			fprod *= float64(iprod) * float64(n)
			iprod = 1
			continue
		}
		iprod = p
	}
	if kind == kindDouble || overflow {
		return float64(iprod) * fprod, nil
	}
	return narrow(kind, iprod), nil
}

func evalSubtract(vals []any) (any, error) {
	if err := noDecimal("$subtract", vals); err != nil {
		return nil, err
	}
	a, b := vals[0], vals[1]
	if isNullish(a) || isNullish(b) {
		return nil, nil
	}
	da, aDate := a.(bson.DateTime)
	db, bDate := b.(bson.DateTime)
	switch {
	case aDate && bDate:
		return int64(da) - int64(db), nil
	case aDate && isNumber(b):
		return bson.DateTime(int64(da) - int64(math.Round(numFloat(b)))), nil
	case isNumber(a) && isNumber(b):
		k := max(kindOf(a), kindOf(b))
		if k == kindDouble {
			return numFloat(a) - numFloat(b), nil
		}
		x, y := asInt64(a), asInt64(b)
		d := x - y
		if (y > 0 && d > x) || (y < 0 && d < x) {
			return float64(x) - float64(y), nil
		}
		return narrow(k, d), nil
	}
	return nil, errf(codeTypeMismatch, "cant $subtract a %s from a %s", typeName(b), typeName(a))
}

func evalDivide(vals []any) (any, error) {
	if err := noDecimal("$divide", vals); err != nil {
		return nil, err
	}
	a, b := vals[0], vals[1]
	if isNullish(a) || isNullish(b) {
		return nil, nil
	}
	if !isNumber(a) || !isNumber(b) {
		return nil, errf(codeTypeMismatch, "$divide only supports numeric types, not %s and %s", typeName(a), typeName(b))
	}
	if numFloat(b) == 0 {
		return nil, errf(codeDivideByZero, "can't $divide by zero")
	}
	return numFloat(a) / numFloat(b), nil
}

func evalMod(vals []any) (any, error) {
	if err := noDecimal("$mod", vals); err != nil {
		return nil, err
	}
	a, b := vals[0], vals[1]
	if isNullish(a) || isNullish(b) {
		return nil, nil
	}
	if !isNumber(a) || !isNumber(b) {
		return nil, errf(codeTypeMismatch, "$mod only supports numeric types, not %s and %s", typeName(a), typeName(b))
	}
	if numFloat(b) == 0 {
		return nil, errf(codeModByZero, "can't $mod by zero")
	}
	k := max(kindOf(a), kindOf(b))
	if k == kindDouble {
		return math.Mod(numFloat(a), numFloat(b)), nil
	}
	x, y := asInt64(a), asInt64(b)
	if y == -1 {
		return narrow(k, 0), nil
	}
	return narrow(k, x%y), nil
}

func evalAbs(vals []any) (any, error) {
	if err := noDecimal("$abs", vals); err != nil {
		return nil, err
	}
	switch n := vals[0].(type) {
	case int32:
		if n < 0 {
			return narrow(kindInt, -int64(n)), nil
		}
		return n, nil
	case int64:
		if n == math.MinInt64 {
			return nil, errf(28680, "can't take $abs of long long min")
		}
		if n < 0 {
			return -n, nil
		}
		return n, nil
	case float64:
		return math.Abs(n), nil
	}
	if isNullish(vals[0]) {
		return nil, nil
	}
	return nil, errf(28765, "$abs only supports numeric types, not %s", typeName(vals[0]))
}

// roundDouble rounds as the server does: the double's exact value taken
// to 34 significant decimal digits (a Decimal128), quantized at place with
// ties to even, and converted back. Multiplying in floating point instead
// would round 19.05 (really 19.0500000000000007…) down to 19.0.
func roundDouble(f float64, place int64) float64 {
	if f == 0 {
		return f
	}
	r := roundSignificant(new(big.Rat).SetFloat64(f), 34)
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(place)), nil))
	if place < 0 {
		scale.Inv(scale)
	}
	q := new(big.Rat).SetInt(roundHalfEven(new(big.Rat).Mul(r, scale)))
	out, _ := q.Quo(q, scale).Float64()
	if out == 0 && f < 0 {
		return math.Copysign(0, -1)
	}
	return out
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// roundSignificant rounds r to digits significant decimal digits, ties
// to even.
func roundSignificant(r *big.Rat, digits int) *big.Rat {
	f, _ := r.Float64()
	e := int(math.Floor(math.Log10(math.Abs(f))))
	pow := func(n int) *big.Rat {
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs64(int64(n)))), nil))
		if n < 0 {
			p.Inv(p)
		}
		return p
	}
	abs := new(big.Rat).Abs(r)
	// Correct the estimate of floor(log10|r|) exactly.
	for abs.Cmp(pow(e+1)) >= 0 {
		e++
	}
	for abs.Cmp(pow(e)) < 0 {
		e--
	}
	scale := pow(digits - 1 - e)
	q := new(big.Rat).SetInt(roundHalfEven(new(big.Rat).Mul(r, scale)))
	return q.Quo(q, scale)
}

// roundHalfEven rounds a rational to an integer, ties to even.
func roundHalfEven(x *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	twice := new(big.Int).Abs(m)
	twice.Lsh(twice, 1)
	c := twice.Cmp(x.Denom())
	if c > 0 || (c == 0 && q.Bit(0) == 1) {
		if x.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// evalRound rounds half to even, as $round does, keeping the input's type.
func evalRound(vals []any) (any, error) {
	if err := noDecimal("$round", vals); err != nil {
		return nil, err
	}
	place := int64(0)
	if len(vals) == 2 {
		if isNullish(vals[1]) {
			return nil, nil
		}
		p := vals[1]
		if !isNumber(p) || numFloat(p) != math.Trunc(numFloat(p)) {
			return nil, errf(51082, "place argument to $round must be an integral value")
		}
		place = asInt64(p)
		if place < -20 || place > 100 {
			return nil, errf(51083, "cannot apply $round with precision value %d; value must be in [-20, 100]", place)
		}
	}
	v := vals[0]
	if isNullish(v) {
		return nil, nil
	}
	switch n := v.(type) {
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return n, nil
		}
		return roundDouble(n, place), nil
	case int32, int64:
		if place >= 0 {
			return n, nil
		}
		x := asInt64(n)
		if place < -18 {
			return narrow(kindOf(n), 0), nil
		}
		scale := int64(math.Pow(10, float64(-place)))
		q, r := x/scale, x%scale
		// Round the remainder half to even.
		twice := 2 * r
		if twice < 0 {
			twice = -twice
		}
		if twice > scale || (twice == scale && q%2 != 0) {
			if x < 0 {
				q--
			} else {
				q++
			}
		}
		return narrow(kindOf(n), q*scale), nil
	}
	return nil, errf(51081, "$round only supports numeric types, not %s", typeName(v))
}
