package nlp

import (
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The answer's columns: the projection of a plain query, the $group of an
// aggregate, and where each column is read from.

// outputs names the answer's columns: an alias, else the column's name,
// dots made underscores (a projected name cannot hold a dot), unique.
type outputs struct {
	names []string
	used  map[string]bool
}

func (o *outputs) add(want string) string {
	if o.used == nil {
		o.used = map[string]bool{}
	}
	base := strings.ReplaceAll(want, ".", "_")
	if base == "" || strings.HasPrefix(base, "$") {
		base = "_" + base
	}
	n := base
	for i := 2; o.used[n]; i++ {
		n = base + "_" + strconv.Itoa(i)
	}
	o.used[n] = true
	o.names = append(o.names, n)
	return n
}

// starColumns are the columns rel.* shows: every field but a nested
// document's own entry (its fields are shown one by one).
func (r *mongoRender) starColumns(rel string) ([]*Column, error) {
	t := r.s.Table(rel)
	if t == nil {
		return nil, unsupported("%s.* of a derived table", rel)
	}
	var out []*Column
	for _, c := range t.Columns {
		if !c.Object {
			out = append(out, c)
		}
	}
	return out, nil
}

// plain renders a query without aggregates. Computed values are set on
// the documents under fresh names, the order sorts on fields, and an
// inclusion projection keeps what the answer shows; the answer's columns
// are paths into the documents, so no field needs renaming.
func (r *mongoRender) plain(q *selectQ, out *MongoQuery) error {
	var o outputs
	var paths []string
	keys := map[string]string{} // rendered SQL expression -> path
	set := bson.D{}
	for _, it := range q.items {
		if s, ok := it.e.(starExpr); ok {
			cols, err := r.starColumns(s.rel)
			if err != nil {
				return err
			}
			for _, c := range cols {
				ce := colExpr{s.rel, c.Name}
				_, path, err := r.column(ce)
				if err != nil {
					return err
				}
				o.add(c.Name)
				paths = append(paths, path)
				keys[ce.render(r.sqlr)] = path
			}
			continue
		}
		name := it.alias
		var path string
		if c, ok := it.e.(colExpr); ok {
			_, p, err := r.column(c)
			if err != nil {
				return err
			}
			path = p
			if name == "" {
				name = c.col
			}
		} else {
			v, _, err := r.expr(it.e)
			if err != nil {
				return err
			}
			r.tmp++
			path = r.alias(fmt.Sprintf("_v%d", r.tmp))
			r.prefix[path] = path + "." // reserved
			set = append(set, bson.E{Key: path, Value: v})
			if name == "" {
				name = "expr"
			}
		}
		o.add(name)
		paths = append(paths, path)
		keys[it.e.render(r.sqlr)] = path
		if it.alias != "" {
			keys[rawAlias{it.alias}.render(r.sqlr)] = path
		}
	}
	if len(set) > 0 {
		r.stages = append(r.stages, bson.D{{Key: "$set", Value: set}})
	}
	var sort bson.D
	for _, oi := range q.order {
		dir := 1
		if oi.desc {
			dir = -1
		}
		var path string
		if c, ok := oi.e.(colExpr); ok {
			_, p, err := r.plainColumn(c)
			if err != nil {
				return err
			}
			path = p
		} else {
			p, ok := keys[oi.e.render(r.sqlr)]
			if !ok {
				return unsupported("an order by %s", oi.e.render(r.sqlr))
			}
			path = p
		}
		if !r.sortable(r.unalias(oi.e, q)) {
			return unsupported("an order by %s, which may be null (SQL and MongoDB place NULLs differently)", oi.e.render(r.sqlr))
		}
		sort = append(sort, bson.E{Key: path, Value: dir})
	}
	if len(sort) > 0 {
		r.stages = append(r.stages, bson.D{{Key: "$sort", Value: sort}})
	}
	if err := r.include(paths); err != nil {
		return err
	}
	out.Columns, out.Names = paths, o.names
	return nil
}

// unalias is the expression an ORDER BY alias names.
func (r *mongoRender) unalias(e sqlExpr, q *selectQ) sqlExpr {
	if a, ok := e.(rawAlias); ok {
		for _, it := range q.items {
			if it.alias == a.name {
				return it.e
			}
		}
	}
	return e
}

// include appends an inclusion $project of paths (_id dropped unless
// shown). Two paths one inside the other cannot both be included.
func (r *mongoRender) include(paths []string) error {
	proj := bson.D{}
	seen := map[string]bool{}
	hasID := false
	for _, p := range paths {
		hasID = hasID || p == "_id"
		if seen[p] {
			continue
		}
		for q := range seen {
			if strings.HasPrefix(p, q+".") || strings.HasPrefix(q, p+".") {
				return unsupported("showing both %s and %s", p, q)
			}
		}
		seen[p] = true
		proj = append(proj, bson.E{Key: p, Value: 1})
	}
	if !hasID {
		proj = append(bson.D{{Key: "_id", Value: 0}}, proj...)
	}
	r.stages = append(r.stages, bson.D{{Key: "$project", Value: proj}})
	return nil
}

// grouped renders GROUP BY, DISTINCT and aggregates without groups.
func (r *mongoRender) grouped(q *selectQ, out *MongoQuery) error {
	groupExprs := q.group
	if q.distinct {
		if len(q.group) > 0 || queryHasAggregate(q) {
			return unsupported("DISTINCT with GROUP BY or aggregates")
		}
		for _, it := range q.items {
			if _, ok := it.e.(starExpr); ok {
				return unsupported("DISTINCT *")
			}
			groupExprs = append(groupExprs, it.e)
		}
	}
	keyOf := map[string]string{} // rendered group expression -> "_id.kN"
	keyCol := map[string]*Column{}
	id := bson.D{}
	// Groups by a collection's _id: its other fields are the same in the
	// whole group, whether null or missing.
	byID := map[string]bool{}
	for _, g := range groupExprs {
		if c, ok := g.(colExpr); ok && c.col == "_id" && !r.leftJoined(g) {
			byID[c.rel] = true
		}
	}
	for i, g := range groupExprs {
		v, col, err := r.expr(g)
		if err != nil {
			return err
		}
		keyCol[g.render(r.sqlr)] = col
		c, isCol := g.(colExpr)
		if (!isCol || !byID[c.rel]) && (!nonNull(col) || r.leftJoined(g)) {
			// A missing field leaves its key out of the group's _id, a null
			// one does not: SQL puts both in the one NULL group.
			v = bson.D{{Key: "$ifNull", Value: bson.A{v, nil}}}
		}
		k := "k" + strconv.Itoa(i)
		id = append(id, bson.E{Key: k, Value: v})
		keyOf[g.render(r.sqlr)] = "_id." + k
	}
	// Accumulators, one per distinct aggregate of the select list and HAVING.
	accOf := map[string]string{}
	accCol := map[string]*Column{}
	acc := bson.D{}
	var distinctCount *aggExpr
	addAgg := func(a aggExpr) error {
		key := a.render(r.sqlr)
		if _, ok := accOf[key]; ok {
			return nil
		}
		name := "a" + strconv.Itoa(len(acc))
		if a.distinct {
			if a.fn != "COUNT" || distinctCount != nil {
				return unsupported("%s", key)
			}
			distinctCount = &a
			accOf[key] = "n"
			accCol[key] = &Column{Kind: KindInt, Presence: 1}
			return nil
		}
		v, col, err := r.accumulator(a)
		if err != nil {
			return err
		}
		acc = append(acc, bson.E{Key: name, Value: v})
		accOf[key] = name
		accCol[key] = col
		return nil
	}
	for _, it := range q.items {
		var err error
		walkAggs(it.e, func(a aggExpr) {
			if err == nil {
				err = addAgg(a)
			}
		})
		if err != nil {
			return err
		}
	}
	var having bson.A
	for _, h := range q.having {
		b, ok := h.(binExpr)
		a, oka := b.l.(aggExpr)
		lit, okl := b.r.(litExpr)
		op := cmpOps[b.op]
		if !ok || !oka || !okl || op == "" {
			return unsupported("the condition on groups %s", h.render(r.sqlr))
		}
		if err := addAgg(a); err != nil {
			return err
		}
		switch lit.v.(type) {
		case int64, int, float64:
		default:
			return unsupported("the condition on groups %s", h.render(r.sqlr))
		}
		having = append(having, bson.D{{Key: accOf[a.render(r.sqlr)], Value: bson.D{{Key: op, Value: lit.v}}}})
	}
	var idVal any = id
	if len(groupExprs) == 0 {
		idVal = nil
	}
	if distinctCount != nil {
		// COUNT(DISTINCT x): group by the keys and x, then count the groups
		// per key. Only $sum accumulators, which every server runs.
		if len(acc) > 0 {
			return unsupported("COUNT(DISTINCT) with other aggregates")
		}
		c, ok := distinctCount.arg.(colExpr)
		if !ok {
			return unsupported("COUNT(DISTINCT) of an expression")
		}
		col, path, err := r.plainColumn(c)
		if err != nil {
			return err
		}
		if len(groupExprs) > 0 && !nonNull(col) {
			// Dropping the nulls first would drop groups that count 0.
			return unsupported("COUNT(DISTINCT %s) per group, which may be null", path)
		}
		r.stages = append(r.stages, bson.D{{Key: "$match", Value: bson.D{{Key: path, Value: bson.D{{Key: "$ne", Value: nil}}}}}})
		inner := append(bson.D{}, id...)
		inner = append(inner, bson.E{Key: "v", Value: "$" + path})
		r.stages = append(r.stages, bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: inner}}}})
		outerID := bson.D{}
		for _, e := range id {
			outerID = append(outerID, bson.E{Key: e.Key, Value: "$_id." + e.Key})
		}
		var oid any = outerID
		if len(groupExprs) == 0 {
			oid = nil
		}
		r.stages = append(r.stages, bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: oid}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}})
	} else {
		r.stages = append(r.stages, bson.D{{Key: "$group", Value: append(bson.D{{Key: "_id", Value: idVal}}, acc...)}})
	}
	if len(having) == 1 {
		r.stages = append(r.stages, bson.D{{Key: "$match", Value: having[0]}})
	} else if len(having) > 1 {
		r.stages = append(r.stages, bson.D{{Key: "$match", Value: bson.D{{Key: "$and", Value: having}}}})
	}
	// The answer: group keys and accumulators in the select list's order,
	// read where $group left them.
	var o outputs
	var paths []string
	keys := map[string]string{}
	var empty []any
	post := bson.D{}
	scalarExpr := false
	for _, it := range q.items {
		if s, ok := it.e.(starExpr); ok {
			cols, err := r.starColumns(s.rel)
			if err != nil {
				return err
			}
			for _, c := range cols {
				ce := colExpr{s.rel, c.Name}
				k, ok := keyOf[ce.render(r.sqlr)]
				if !ok {
					return unsupported("%s.%s is neither grouped nor aggregated", s.rel, c.Name)
				}
				o.add(c.Name)
				paths = append(paths, k)
				keys[ce.render(r.sqlr)] = k
			}
			continue
		}
		key := it.e.render(r.sqlr)
		var src string
		if a, ok := it.e.(aggExpr); ok {
			src = accOf[key]
			if a.fn == "COUNT" {
				empty = append(empty, int64(0))
			} else {
				empty = append(empty, nil)
			}
		} else if k, ok := keyOf[key]; ok {
			src = k
		} else {
			// An expression over group keys and aggregates (a full name,
			// a total in minutes), computed after the $group.
			if r.post == nil {
				r.post = map[string]postValue{}
				for k, p := range keyOf {
					r.post[k] = postValue{p, keyCol[k]}
				}
				for k, p := range accOf {
					r.post[k] = postValue{p, accCol[k]}
				}
			}
			v, _, err := r.expr(it.e)
			if err != nil {
				return err
			}
			r.tmp++
			src = fmt.Sprintf("_v%d", r.tmp)
			post = append(post, bson.E{Key: src, Value: v})
			if containsAgg(it.e) {
				// Over no document SQL computes the expression from NULL
				// aggregates, NULL when one of them is not a COUNT.
				nullAgg := false
				walkAggs(it.e, func(a aggExpr) { nullAgg = nullAgg || a.fn != "COUNT" })
				if !nullAgg {
					scalarExpr = true
				}
				empty = append(empty, nil)
			}
		}
		name := it.alias
		if name == "" {
			if c, ok := it.e.(colExpr); ok {
				name = c.col
			} else {
				name = "expr"
			}
		}
		o.add(name)
		paths = append(paths, src)
		keys[key] = src
		if it.alias != "" {
			keys[rawAlias{it.alias}.render(r.sqlr)] = src
		}
	}
	if len(post) > 0 {
		r.stages = append(r.stages, bson.D{{Key: "$set", Value: post}})
	}
	var sort bson.D
	for _, oi := range q.order {
		n, ok := keys[oi.e.render(r.sqlr)]
		if !ok {
			return unsupported("an order by %s, which is not in the answer", oi.e.render(r.sqlr))
		}
		if !r.sortable(r.unalias(oi.e, q)) {
			return unsupported("an order by %s, which may be null (SQL and MongoDB place NULLs differently)", oi.e.render(r.sqlr))
		}
		dir := 1
		if oi.desc {
			dir = -1
		}
		sort = append(sort, bson.E{Key: n, Value: dir})
	}
	if len(sort) > 0 {
		r.stages = append(r.stages, bson.D{{Key: "$sort", Value: sort}})
	}
	out.Columns, out.Names = paths, o.names
	if len(groupExprs) == 0 && len(q.having) == 0 {
		if scalarExpr {
			// The one row of an empty input would need the expression
			// evaluated over NULL aggregates.
			return unsupported("an expression of aggregates without groups")
		}
		out.EmptyRow = empty
	}
	return nil
}

// sortable reports that an order expression is never null: a count, or an
// aggregate or key of fields that are never null.
func (r *mongoRender) sortable(e sqlExpr) bool {
	switch x := e.(type) {
	case aggExpr:
		if x.fn == "COUNT" {
			return true
		}
		return x.arg != nil && r.sortable(x.arg)
	case colExpr:
		col, _, err := r.column(x)
		return err == nil && nonNull(col)
	case extractExpr:
		return r.sortable(x.e)
	case binExpr:
		return r.sortable(x.l) && r.sortable(x.r)
	case litExpr:
		return x.v != nil
	}
	return false
}

// accumulator renders one aggregate of a $group. SQL's aggregates skip
// NULLs as MongoDB's do; where they differ (SUM of no value is NULL in
// SQL and 0 in MongoDB; COUNT(x) counts non-null x) the argument must be
// a field that is never null, or a key that is never null on its side.
func (r *mongoRender) accumulator(a aggExpr) (any, *Column, error) {
	if a.arg == nil {
		if a.fn != "COUNT" {
			return nil, nil, unsupported("%s(*)", a.fn)
		}
		return bson.D{{Key: "$sum", Value: 1}}, &Column{Kind: KindInt, Presence: 1}, nil
	}
	v, col, err := r.expr(a.arg)
	if err != nil {
		return nil, nil, err
	}
	if c, ok := a.arg.(colExpr); ok && a.fn != "COUNT" {
		if _, _, err := r.plainColumn(c); err != nil {
			return nil, nil, err
		}
	}
	switch a.fn {
	case "COUNT":
		count := &Column{Kind: KindInt, Presence: 1}
		if nonNull(col) && !r.leftJoined(a.arg) {
			return bson.D{{Key: "$sum", Value: 1}}, count, nil
		}
		// Count the documents whose value is not null: $gt null is true
		// of every value and false of null and a missing field.
		return bson.D{{Key: "$sum", Value: bson.D{{Key: "$cond", Value: bson.A{bson.D{{Key: "$gt", Value: bson.A{v, nil}}}, 1, 0}}}}}, count, nil
	case "SUM":
		if !nonNull(col) || r.leftJoined(a.arg) {
			return nil, nil, unsupported("SUM of %s, which may be null (SQL's SUM of no value is NULL, MongoDB's 0)", a.arg.render(r.sqlr))
		}
		if col.Kind != KindInt && col.Kind != KindNumber {
			return nil, nil, unsupported("SUM of values that are not numbers")
		}
		return bson.D{{Key: "$sum", Value: v}}, &Column{Kind: KindNumber, Presence: 1}, nil
	case "AVG", "MIN", "MAX":
		if a.fn == "AVG" && col.Kind != KindInt && col.Kind != KindNumber {
			return nil, nil, unsupported("AVG of values that are not numbers")
		}
		// NULL when the group has no value: possible, so nullable.
		k := col.Kind
		if a.fn == "AVG" {
			k = KindNumber
		}
		return bson.D{{Key: "$" + strings.ToLower(a.fn), Value: v}}, &Column{Kind: k, Nullable: true}, nil
	}
	return nil, nil, unsupported("the aggregate %s", a.fn)
}

// leftJoined reports that e reads a relation joined by a LEFT JOIN, whose
// fields are missing where nothing matched.
func (r *mongoRender) leftJoined(e sqlExpr) bool {
	left := false
	walkCols(e, func(c colExpr) {
		if r.left[c.rel] {
			left = true
		}
	})
	return left
}
