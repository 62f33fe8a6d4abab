package nlp

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Value expressions of a pipeline, for $set and $group.

// expr renders a value expression for $project / $group. After a $group
// (r.post set) a group key or an aggregate is read where $group left it.
func (r *mongoRender) expr(e sqlExpr) (any, *Column, error) {
	if r.post != nil {
		if p, ok := r.post[e.render(r.sqlr)]; ok {
			return "$" + p.path, p.col, nil
		}
		switch e.(type) {
		case colExpr, aggExpr:
			return nil, nil, unsupported("%s is neither grouped nor aggregated", e.render(r.sqlr))
		}
	}
	switch x := e.(type) {
	case colExpr:
		col, path, err := r.column(x)
		if err != nil {
			return nil, nil, err
		}
		return "$" + path, col, nil
	case litExpr:
		k := KindOther
		switch x.v.(type) {
		case int64, int:
			k = KindInt
		case float64:
			k = KindNumber
		case string:
			k = KindText
		}
		return bson.D{{Key: "$literal", Value: x.v}}, &Column{Kind: k, Presence: 1, Nullable: x.v == nil}, nil
	case binExpr:
		op := map[string]string{"+": "$add", "-": "$subtract", "*": "$multiply", "/": "$divide"}[x.op]
		if op == "" {
			return nil, nil, unsupported("operator %s in a value", x.op)
		}
		l, lc, err := r.expr(x.l)
		if err != nil {
			return nil, nil, err
		}
		rr, rc, err := r.expr(x.r)
		if err != nil {
			return nil, nil, err
		}
		if !numeric(lc, x.l) || !numeric(rc, x.r) {
			return nil, nil, unsupported("arithmetic on values that are not numbers")
		}
		if op == "$divide" {
			// SQL divides integers as integers; only a division by a
			// non-zero literal with a fraction (60000.0), or of a decimal
			// by a group's row count, reads alike.
			lit, ok := x.r.(litExpr)
			f, isF := lit.v.(float64)
			_, byCount := x.r.(nullifZeroExpr)
			if byCount && !decimalProduct(x.l) {
				byCount = false
			}
			if !byCount && (!ok || !isF || f == 0) {
				return nil, nil, unsupported("a division by anything but a non-zero decimal literal")
			}
		}
		return bson.D{{Key: op, Value: bson.A{l, rr}}}, &Column{Kind: KindNumber, Nullable: lc.Nullable || rc.Nullable, Presence: min(lc.Presence, rc.Presence), Types: mergeTypes(lc, rc)}, nil
	case intDivExpr:
		v, c, err := r.expr(x.e)
		if err != nil {
			return nil, nil, err
		}
		if c.Kind != KindInt || x.n == 0 {
			return nil, nil, unsupported("an integer division of a value that is not an integer")
		}
		// SQL's integer division truncates toward zero, as $mod keeps the
		// dividend's sign: (x - x mod n) / n.
		whole := bson.D{{Key: "$subtract", Value: bson.A{v, bson.D{{Key: "$mod", Value: bson.A{v, x.n}}}}}}
		return bson.D{{Key: "$divide", Value: bson.A{whole, x.n}}}, &Column{Kind: KindInt, Nullable: c.Nullable, Presence: c.Presence, Types: c.Types}, nil
	case nullifZeroExpr:
		// NULLIF(COUNT(*), 0) after a $group: a group holds at least one
		// document, so its count is never 0.
		a, ok := x.e.(aggExpr)
		if !ok || a.fn != "COUNT" || a.arg != nil || r.post == nil {
			return nil, nil, unsupported("NULLIF of anything but a group's row count")
		}
		return r.expr(a)
	case caseExpr:
		cond, err := r.cond(x.cond)
		if err != nil {
			return nil, nil, err
		}
		a, ok1 := x.a.(litExpr)
		b, ok2 := x.b.(litExpr)
		if !ok1 || !ok2 || a.v == nil || b.v == nil {
			return nil, nil, unsupported("CASE with values that are not literals")
		}
		ka, _, _ := r.expr(a)
		kb, _, _ := r.expr(b)
		return bson.D{{Key: "$cond", Value: bson.A{cond, ka, kb}}}, &Column{Kind: KindInt, Presence: 1}, nil
	case concatExpr:
		var parts bson.A
		for i, p := range x.parts {
			v, c, err := r.expr(p)
			if err != nil {
				return nil, nil, err
			}
			if c.Kind != KindText {
				return nil, nil, unsupported("joining values that are not text")
			}
			if i > 0 {
				parts = append(parts, " ")
			}
			parts = append(parts, v)
		}
		return bson.D{{Key: "$concat", Value: parts}}, &Column{Kind: KindText}, nil
	case extractExpr:
		op := map[string]string{"YEAR": "$year", "MONTH": "$month", "DAY": "$dayOfMonth"}[x.unit]
		if op == "" {
			return nil, nil, unsupported("EXTRACT(%s)", x.unit)
		}
		v, c, err := r.expr(x.e)
		if err != nil {
			return nil, nil, err
		}
		if c.Kind != KindTime && c.Kind != KindDate {
			return nil, nil, unsupported("EXTRACT from a field that is not a date")
		}
		return bson.D{{Key: op, Value: v}}, &Column{Kind: KindInt}, nil
	}
	return nil, nil, unsupported("the expression %s", e.render(r.sqlr))
}

// cond renders a condition as an aggregation expression that is true
// exactly where SQL's is true. SQL's NULL is neither true nor false; in an
// expression null compares below every value ($lt: [null, 3] is true), so
// every comparison but = and IN is guarded by the field holding a value.
func (r *mongoRender) cond(e sqlExpr) (any, error) {
	has := func(v any) any {
		return bson.D{{Key: "$ne", Value: bson.A{bson.D{{Key: "$ifNull", Value: bson.A{v, nil}}}, nil}}}
	}
	operand := func(c sqlExpr) (any, *Column, error) {
		ce, ok := c.(colExpr)
		if !ok {
			return nil, nil, unsupported("a condition on %s", c.render(r.sqlr))
		}
		col, path, err := r.plainColumn(ce)
		if err != nil {
			return nil, nil, err
		}
		return "$" + path, col, nil
	}
	switch x := e.(type) {
	case andExpr:
		var cs bson.A
		for _, y := range x.es {
			c, err := r.cond(y)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		return bson.D{{Key: "$and", Value: cs}}, nil
	case binExpr:
		if x.op == "AND" || x.op == "OR" {
			l, err := r.cond(x.l)
			if err != nil {
				return nil, err
			}
			rr, err := r.cond(x.r)
			if err != nil {
				return nil, err
			}
			return bson.D{{Key: "$" + strings.ToLower(x.op), Value: bson.A{l, rr}}}, nil
		}
		op, ok := cmpOps[x.op]
		lit, okl := x.r.(litExpr)
		if !ok || !okl {
			return nil, unsupported("the condition %s", x.render(r.sqlr))
		}
		v, col, err := operand(x.l)
		if err != nil {
			return nil, err
		}
		val, err := r.value(col, lit)
		if err != nil || val == nil {
			return nil, unsupported("the condition %s", x.render(r.sqlr))
		}
		cmp := bson.D{{Key: op, Value: bson.A{v, bson.D{{Key: "$literal", Value: val}}}}}
		if op == "$eq" {
			return cmp, nil
		}
		return bson.D{{Key: "$and", Value: bson.A{has(v), cmp}}}, nil
	case inExpr:
		v, col, err := operand(x.e)
		if err != nil {
			return nil, err
		}
		var eqs bson.A // IN as a disjunction of equalities
		for _, ve := range x.vals {
			l, ok := ve.(litExpr)
			if !ok {
				return nil, unsupported("IN with a non-literal value")
			}
			val, err := r.value(col, l)
			if err != nil || val == nil {
				return nil, unsupported("the condition %s", x.render(r.sqlr))
			}
			eqs = append(eqs, bson.D{{Key: "$eq", Value: bson.A{v, bson.D{{Key: "$literal", Value: val}}}}})
		}
		in := bson.D{{Key: "$or", Value: eqs}}
		if x.not {
			return bson.D{{Key: "$and", Value: bson.A{has(v), bson.D{{Key: "$not", Value: bson.A{in}}}}}}, nil
		}
		return in, nil
	case postfixExpr:
		v, _, err := operand(x.e)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "IS NULL":
			return bson.D{{Key: "$not", Value: bson.A{has(v)}}}, nil
		case "IS NOT NULL":
			return has(v), nil
		}
	}
	return nil, unsupported("the condition %s", e.render(r.sqlr))
}

// decimalProduct reports that e is 100.0 * …: a quotient SQL computes in
// decimals, as $divide does.
func decimalProduct(e sqlExpr) bool {
	b, ok := e.(binExpr)
	if !ok || b.op != "*" {
		return false
	}
	l, ok := b.l.(litExpr)
	_, isF := l.v.(float64)
	return ok && isF
}

func numeric(c *Column, e sqlExpr) bool {
	if l, ok := e.(litExpr); ok {
		switch l.v.(type) {
		case int64, int, float64:
			return true
		}
		return false
	}
	return c != nil && (c.Kind == KindInt || c.Kind == KindNumber)
}

func mergeTypes(a, b *Column) map[string]float64 {
	if a.Types == nil && b.Types == nil {
		return nil
	}
	out := map[string]float64{}
	for _, c := range []*Column{a, b} {
		for k, v := range c.Types {
			out[k] = max(out[k], v)
		}
	}
	return out
}
