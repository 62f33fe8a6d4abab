package nlp

import (
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Conditions of a pipeline: WHERE as $match query filters, EXISTS and
// subquery comparisons through $lookup, CASE conditions as expressions.

// match appends one $match of the conjunction of es (nothing when empty);
// the $lookup stages an EXISTS or a subquery needs come before it.
func (r *mongoRender) match(es []sqlExpr) error {
	if len(es) == 0 {
		return nil
	}
	var conds bson.A
	for _, e := range es {
		if x, ok := e.(existsExpr); ok {
			c, err := r.exists(x)
			if err != nil {
				return err
			}
			conds = append(conds, c)
			continue
		}
		if x, ok := e.(binExpr); ok {
			if sq, ok := x.r.(subqExpr); ok {
				c, err := r.compareSubquery(x, sq.q)
				if err != nil {
					return err
				}
				conds = append(conds, c)
				continue
			}
		}
		c, err := r.filter(e)
		if err != nil {
			return err
		}
		conds = append(conds, c)
	}
	var m bson.D
	if len(conds) == 1 {
		m = conds[0].(bson.D)
	} else {
		m = bson.D{{Key: "$and", Value: conds}}
	}
	r.stages = append(r.stages, bson.D{{Key: "$match", Value: m}})
	return nil
}

// exists renders [NOT] EXISTS (SELECT 1 FROM child [JOIN …] WHERE
// child.fk = outer.key [AND …]) as a $lookup of the children whose
// sub-pipeline keeps those meeting the conditions, and a test of what it
// found.
func (r *mongoRender) exists(x existsExpr) (bson.D, error) {
	sq := x.q
	if sq.fromSub != nil || len(sq.group) > 0 || len(sq.having) > 0 || len(sq.where) == 0 {
		return nil, unsupported("an EXISTS subquery of this shape")
	}
	child := r.s.Table(sq.from)
	if child == nil {
		return nil, unsupported("collection %s is not in the schema", sq.from)
	}
	corr, ok := sq.where[0].(binExpr)
	cl, okl := corr.l.(colExpr)
	ol, oko := corr.r.(colExpr)
	if !ok || corr.op != "=" || !okl || !oko || cl.rel != child.Name || ol.rel == child.Name {
		return nil, unsupported("an EXISTS subquery not correlated by key equality")
	}
	outerCol, outerPath, err := r.plainColumn(ol)
	if err != nil {
		return nil, err
	}
	fk := child.Column(cl.col)
	if fk == nil || fk.Array || fk.Object {
		return nil, unsupported("key %s.%s", child.Name, cl.col)
	}
	if !nonNull(outerCol) {
		// A null outer key would find the children whose key is null.
		return nil, unsupported("an EXISTS test on key %s that may be null", outerPath)
	}
	// The rest of the subquery reads only its own tables.
	sub := &mongoRender{s: r.s, root: child, prefix: map[string]string{child.Name: ""}, sqlr: r.sqlr}
	for _, w := range sq.where[1:] {
		bad := false
		walkCols(w, func(c colExpr) {
			if c.rel == ol.rel && c.rel != child.Name {
				bad = true
			}
		})
		if bad {
			return nil, unsupported("an EXISTS subquery correlated by more than its key")
		}
	}
	if err := sub.source(sq.where[1:], sq.joins); err != nil {
		return nil, err
	}
	r.tmp++
	as := r.alias(fmt.Sprintf("_exists%d", r.tmp))
	r.prefix[as] = as + "."
	lookup := bson.D{{Key: "from", Value: child.Name}, {Key: "localField", Value: outerPath}, {Key: "foreignField", Value: fk.Name}}
	if len(sub.stages) > 0 {
		// One child that qualifies is enough.
		lookup = append(lookup, bson.E{Key: "pipeline", Value: append(sub.stages, bson.D{{Key: "$limit", Value: int64(1)}}, bson.D{{Key: "$project", Value: bson.D{{Key: "_id", Value: 1}}}})})
	}
	lookup = append(lookup, bson.E{Key: "as", Value: as})
	r.stages = append(r.stages, bson.D{{Key: "$lookup", Value: lookup}})
	// The first element found, or none.
	return bson.D{{Key: as + ".0", Value: bson.D{{Key: "$exists", Value: !x.not}}}}, nil
}

// compareSubquery renders col op (SELECT AVG(x) FROM t …): an
// uncorrelated $lookup runs the subquery's pipeline once per document
// (MongoDB caches an uncorrelated sub-pipeline's result), $unwind keeps
// the one value, and $expr compares with it. A subquery over no row gives
// no document, so the comparison drops every row, as SQL's comparison
// with the NULL of an aggregate over nothing does; COUNT, which gives 0,
// is declined.
func (r *mongoRender) compareSubquery(x binExpr, sub *selectQ) (bson.D, error) {
	c, ok := x.l.(colExpr)
	op := cmpOps[x.op]
	if !ok || op == "" || op == "$ne" {
		return nil, unsupported("a comparison with a subquery of this shape")
	}
	col, path, err := r.plainColumn(c)
	if err != nil {
		return nil, err
	}
	if (col.Kind != KindInt && col.Kind != KindNumber) || !nonNull(col) {
		// In $expr null sorts below every number: $lt would keep it.
		return nil, unsupported("a comparison of %s, which may be null or not a number, with a subquery", path)
	}
	if len(sub.items) != 1 || len(sub.group) > 0 {
		return nil, unsupported("a subquery that is not one aggregate")
	}
	if a, ok := sub.items[0].e.(aggExpr); !ok || a.fn == "COUNT" {
		return nil, unsupported("a subquery that is not an aggregate other than COUNT")
	}
	inner := &mongoRender{s: r.s, prefix: map[string]string{}, sqlr: r.sqlr}
	sq, err := inner.query(sub)
	if err != nil {
		return nil, err
	}
	if len(sq.Columns) != 1 {
		return nil, unsupported("a subquery of %d columns", len(sq.Columns))
	}
	r.tmp++
	as := r.alias(fmt.Sprintf("_sub%d", r.tmp))
	r.prefix[as] = as + "."
	r.stages = append(r.stages,
		bson.D{{Key: "$lookup", Value: bson.D{{Key: "from", Value: sq.Collection}, {Key: "pipeline", Value: sq.Pipeline}, {Key: "as", Value: as}}}},
		bson.D{{Key: "$unwind", Value: bson.D{{Key: "path", Value: "$" + as}, {Key: "preserveNullAndEmptyArrays", Value: false}}}})
	return bson.D{{Key: "$expr", Value: bson.D{{Key: op, Value: bson.A{"$" + path, "$" + as + "." + sq.Columns[0]}}}}}, nil
}

var cmpOps = map[string]string{"=": "$eq", "<>": "$ne", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
var flipOps = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>", "!=": "!="}

// filter renders a WHERE condition as a query filter. SQL's three-valued
// logic only keeps rows whose condition is true: a comparison with a NULL
// is not, so <> and NOT IN also exclude null and missing fields, which
// MongoDB's $ne and $nin would keep.
func (r *mongoRender) filter(e sqlExpr) (bson.D, error) {
	switch x := e.(type) {
	case binExpr:
		switch x.op {
		case "AND", "OR":
			l, err := r.filter(x.l)
			if err != nil {
				return nil, err
			}
			rr, err := r.filter(x.r)
			if err != nil {
				return nil, err
			}
			return bson.D{{Key: "$" + strings.ToLower(x.op), Value: bson.A{l, rr}}}, nil
		}
		op, ok := cmpOps[x.op]
		if !ok {
			return nil, unsupported("operator %s in a condition", x.op)
		}
		if _, ok := x.r.(subqExpr); ok {
			// Top-level conditions are rendered by match; inside OR the
			// $unwind of an empty subquery would drop rows OR keeps.
			return nil, unsupported("a comparison with a subquery inside OR")
		}
		c, okc := x.l.(colExpr)
		lit, okl := x.r.(litExpr)
		if !okc || !okl {
			c2, okc2 := x.r.(colExpr)
			lit2, okl2 := x.l.(litExpr)
			if !okc2 || !okl2 {
				return nil, unsupported("a comparison of %s", x.render(r.sqlr))
			}
			c, lit, op = c2, lit2, cmpOps[flipOps[x.op]]
		}
		col, path, err := r.plainColumn(c)
		if err != nil {
			return nil, err
		}
		v, err := r.value(col, lit)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, unsupported("a comparison with NULL")
		}
		if op == "$ne" {
			return bson.D{{Key: path, Value: bson.D{{Key: "$nin", Value: bson.A{v, nil}}}}}, nil
		}
		return bson.D{{Key: path, Value: bson.D{{Key: op, Value: v}}}}, nil
	case inExpr:
		c, ok := x.e.(colExpr)
		if !ok {
			return nil, unsupported("IN on an expression")
		}
		col, path, err := r.plainColumn(c)
		if err != nil {
			return nil, err
		}
		var vals bson.A
		for _, ve := range x.vals {
			l, ok := ve.(litExpr)
			if !ok {
				return nil, unsupported("IN with a non-literal value")
			}
			v, err := r.value(col, l)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, unsupported("IN with NULL")
			}
			vals = append(vals, v)
		}
		if x.not {
			return bson.D{{Key: path, Value: bson.D{{Key: "$nin", Value: append(vals, nil)}}}}, nil
		}
		if len(vals) == 1 {
			return bson.D{{Key: path, Value: bson.D{{Key: "$eq", Value: vals[0]}}}}, nil
		}
		return bson.D{{Key: path, Value: bson.D{{Key: "$in", Value: vals}}}}, nil
	case betweenExpr:
		c, ok := x.e.(colExpr)
		lo, okl := x.lo.(litExpr)
		hi, okh := x.hi.(litExpr)
		if !ok || !okl || !okh {
			return nil, unsupported("BETWEEN on expressions")
		}
		col, path, err := r.plainColumn(c)
		if err != nil {
			return nil, err
		}
		lv, err := r.value(col, lo)
		if err != nil {
			return nil, err
		}
		hv, err := r.value(col, hi)
		if err != nil {
			return nil, err
		}
		if lv == nil || hv == nil {
			return nil, unsupported("BETWEEN with NULL")
		}
		return bson.D{{Key: path, Value: bson.D{{Key: "$gte", Value: lv}, {Key: "$lte", Value: hv}}}}, nil
	case postfixExpr:
		c, ok := x.e.(colExpr)
		if !ok {
			return nil, unsupported("IS NULL on an expression")
		}
		_, path, err := r.plainColumn(c)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "IS NULL": // a missing field is NULL too, as {f: null} says
			return bson.D{{Key: path, Value: nil}}, nil
		case "IS NOT NULL":
			return bson.D{{Key: path, Value: bson.D{{Key: "$ne", Value: nil}}}}, nil
		}
		return nil, unsupported("%s", x.op)
	case andExpr:
		var conds bson.A
		for _, y := range x.es {
			c, err := r.filter(y)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
		return bson.D{{Key: "$and", Value: conds}}, nil
	case existsExpr:
		return r.exists(x)
	}
	return nil, unsupported("the condition %s", e.render(r.sqlr))
}

// value converts a literal to the BSON value a field of col holds: dates
// for date fields (the translator writes them as 'YYYY-MM-DD'), numbers for
// numeric fields, strings for text.
func (r *mongoRender) value(col *Column, l litExpr) (any, error) {
	switch v := l.v.(type) {
	case nil:
		return nil, nil
	case string:
		if col.Kind == KindTime || col.Kind == KindDate {
			for _, layout := range []string{"2006-01-02", "2006-01-02 15:04:05"} {
				if t, err := time.Parse(layout, v); err == nil {
					return t, nil
				}
			}
			return nil, unsupported("the date %q", v)
		}
		if col.Kind != KindText {
			return nil, unsupported("a text value for %s field %s", col.Kind, col.Name)
		}
		return v, nil
	case int64, int, float64:
		if col.Kind != KindInt && col.Kind != KindNumber {
			return nil, unsupported("a number for %s field %s", col.Kind, col.Name)
		}
		return v, nil
	}
	return nil, unsupported("the literal %v", l.v)
}
