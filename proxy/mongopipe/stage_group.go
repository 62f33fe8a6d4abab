package mongopipe

import (
	"context"
	"io"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// accumulator folds one group's values; add reports how many values it
// now holds in addition (for the memory bound).
type accumulator interface {
	add(v any) (held int, err error)
	result() any
}

var accumulators = map[string]func() accumulator{
	"$sum":      func() accumulator { return &sumAcc{} },
	"$avg":      func() accumulator { return &avgAcc{} },
	"$min":      func() accumulator { return &minMaxAcc{sign: -1} },
	"$max":      func() accumulator { return &minMaxAcc{sign: 1} },
	"$first":    func() accumulator { return &firstAcc{} },
	"$last":     func() accumulator { return &lastAcc{} },
	"$push":     func() accumulator { return &pushAcc{arr: bson.A{}} },
	"$addToSet": func() accumulator { return &setAcc{arr: bson.A{}, seen: map[string]bool{}} },
}

// numSum adds numbers with MongoDB's widening: int32 while every value is
// int32 and the total fits, then int64, then double (also on int64
// overflow).
type numSum struct {
	kind     numKind
	i        int64
	f        float64
	overflow bool
}

func (s *numSum) add(v any) error {
	if _, ok := v.(bson.Decimal128); ok {
		return errf(codeTypeMismatch, "$sum and $avg of decimal128 values are not supported by the proxy's pipeline evaluator")
	}
	k := kindOf(v)
	if k > s.kind {
		s.kind = k
	}
	if k == kindDouble || s.overflow {
		s.f += numFloat(v)
		return nil
	}
	n := asInt64(v)
	t := s.i + n
	if (n > 0 && t < s.i) || (n < 0 && t > s.i) {
		s.overflow = true
		s.f += float64(s.i) + float64(n)
		s.i = 0
		return nil
	}
	s.i = t
	return nil
}

func (s *numSum) value() any {
	if s.kind == kindDouble || s.overflow {
		return float64(s.i) + s.f
	}
	return narrow(s.kind, s.i)
}

type sumAcc struct{ s numSum }

// In $group, $sum ignores non-numeric values (arrays included).
func (a *sumAcc) add(v any) (int, error) {
	if !isNumber(v) {
		return 0, nil
	}
	return 0, a.s.add(v)
}
func (a *sumAcc) result() any { return a.s.value() }

type avgAcc struct {
	s numSum
	n int64
}

func (a *avgAcc) add(v any) (int, error) {
	if !isNumber(v) {
		return 0, nil
	}
	a.n++
	return 0, a.s.add(v)
}

func (a *avgAcc) result() any {
	if a.n == 0 {
		return nil
	}
	if a.s.kind == kindDouble || a.s.overflow {
		return numFloat(a.s.value()) / float64(a.n)
	}
	// An exact integer total divided once keeps the double result as
	// precise as the server's.
	return float64(a.s.i) / float64(a.n)
}

type minMaxAcc struct {
	sign int
	v    any
	set  bool
}

func (a *minMaxAcc) add(v any) (int, error) {
	if isNullish(v) {
		return 0, nil
	}
	if !a.set || compareValues(v, a.v)*a.sign > 0 {
		a.v, a.set = v, true
	}
	return 0, nil
}

func (a *minMaxAcc) result() any {
	if !a.set {
		return nil
	}
	return a.v
}

type firstAcc struct {
	v   any
	set bool
}

func (a *firstAcc) add(v any) (int, error) {
	if !a.set {
		a.v, a.set = v, true
	}
	return 0, nil
}

func (a *firstAcc) result() any { return nullIfMissing(a.v) }

type lastAcc struct{ v any }

func (a *lastAcc) add(v any) (int, error) { a.v = v; return 0, nil }
func (a *lastAcc) result() any            { return nullIfMissing(a.v) }

func nullIfMissing(v any) any {
	if isMissing(v) {
		return nil
	}
	return v
}

type pushAcc struct{ arr bson.A }

func (a *pushAcc) add(v any) (int, error) {
	if isMissing(v) {
		return 0, nil
	}
	a.arr = append(a.arr, v)
	return 1, nil
}
func (a *pushAcc) result() any { return a.arr }

type setAcc struct {
	arr  bson.A
	seen map[string]bool
}

func (a *setAcc) add(v any) (int, error) {
	if isMissing(v) {
		return 0, nil
	}
	k := groupKey(v)
	if a.seen[k] {
		return 0, nil
	}
	a.seen[k] = true
	a.arr = append(a.arr, v)
	return 1, nil
}
func (a *setAcc) result() any { return a.arr }

type groupField struct {
	name string
	newA func() accumulator
	arg  expr
}

func compileGroup(spec any, env Env) (stage, error) {
	d, ok := spec.(bson.D)
	if !ok {
		return nil, errf(15947, "a group's fields must be specified in an object")
	}
	var idExpr expr
	var fields []groupField
	for _, el := range d {
		if el.Key == "_id" {
			e, err := compileGroupID(el.Value)
			if err != nil {
				return nil, err
			}
			idExpr = e
			continue
		}
		if strings.Contains(el.Key, ".") {
			return nil, errf(40235, "the field name '%s' cannot contain '.'", el.Key)
		}
		if strings.HasPrefix(el.Key, "$") {
			return nil, errf(40236, "the field name '%s' cannot be an operator name", el.Key)
		}
		acc, ok := el.Value.(bson.D)
		if !ok || len(acc) != 1 {
			return nil, errf(40234, "the field '%s' must be an accumulator object", el.Key)
		}
		opName, arg := acc[0].Key, acc[0].Value
		if opName == "$count" {
			// {$count: {}} is {$sum: 1}.
			if a, ok := arg.(bson.D); !ok || len(a) != 0 {
				return nil, errf(codeFailedToParse, "$count takes no arguments, i.e. $count:{}")
			}
			opName, arg = "$sum", int32(1)
		}
		newA, ok := accumulators[opName]
		if !ok {
			return nil, errf(15952, "group accumulator %s is not supported by the proxy's pipeline evaluator", opName)
		}
		if _, isArr := arg.(bson.A); isArr {
			return nil, errf(40237, "the %s accumulator is a unary operator", opName)
		}
		e, err := compileExpr(arg)
		if err != nil {
			return nil, err
		}
		fields = append(fields, groupField{name: el.Key, newA: newA, arg: e})
	}
	if idExpr == nil {
		return nil, errf(15955, "a group specification must include an _id")
	}
	limit := env.maxDocs()
	return func(in Iter) Iter {
		return blockingIter(in, func(ctx context.Context, in Iter) ([]bson.D, error) {
			return runGroup(ctx, in, idExpr, fields, limit)
		})
	}, nil
}

// compileGroupID compiles the group key. A document of expressions
// ({c: "$cust", t: "$tag"}) is not an ordinary expression object: as in
// the server, each field is its own expression, a lone field's missing
// value becomes null ({c: null}), and inclusion-style values are refused.
func compileGroupID(v any) (expr, error) {
	d, ok := v.(bson.D)
	if !ok || len(d) == 0 || strings.HasPrefix(d[0].Key, "$") {
		return compileExpr(v)
	}
	for _, f := range d {
		switch f.Value.(type) {
		case bool, int32, int64, float64, bson.Decimal128:
			return nil, errf(17390, "$group does not support inclusion-style expressions")
		}
	}
	obj, err := compileObject(d)
	if err != nil || len(d) != 1 {
		return obj, err
	}
	key := d[0].Key
	return func(doc bson.D) (any, error) {
		out, err := obj(doc)
		if err != nil {
			return nil, err
		}
		if od, ok := out.(bson.D); ok && len(od) == 0 {
			return bson.D{{Key: key, Value: nil}}, nil
		}
		return out, nil
	}, nil
}

type group struct {
	id   any
	accs []accumulator
}

func runGroup(ctx context.Context, in Iter, idExpr expr, fields []groupField, limit int) ([]bson.D, error) {
	index := map[string]*group{}
	var order []*group
	held := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc, err := in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		id, err := idExpr(doc)
		if err != nil {
			return nil, err
		}
		if isMissing(id) {
			id = nil
		}
		k := groupKey(id)
		g, ok := index[k]
		if !ok {
			g = &group{id: id, accs: make([]accumulator, len(fields))}
			for i, f := range fields {
				g.accs[i] = f.newA()
			}
			index[k] = g
			order = append(order, g)
			held++
		}
		for i, f := range fields {
			v, err := f.arg(doc)
			if err != nil {
				return nil, err
			}
			n, err := g.accs[i].add(v)
			if err != nil {
				return nil, err
			}
			held += n
		}
		if held > limit {
			return nil, errf(codeExceededMemory, "$group holds more than %d groups and accumulated values (the limit); add a $match or $limit before it", limit)
		}
	}
	out := make([]bson.D, 0, len(order))
	for _, g := range order {
		d := make(bson.D, 0, len(fields)+1)
		d = append(d, bson.E{Key: "_id", Value: g.id})
		for i, f := range fields {
			d = append(d, bson.E{Key: f.name, Value: g.accs[i].result()})
		}
		out = append(out, d)
	}
	return out, nil
}
