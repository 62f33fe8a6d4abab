package nlp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoQuery is an aggregation pipeline answering a question on a MongoDB
// tenant: what runs on the collection, and how its documents become rows.
type MongoQuery struct {
	Collection string
	Pipeline   []bson.D
	// Columns are the paths of the answer's columns in the result
	// documents, in order: a document is flattened by them (Row), a path
	// it lacks is NULL. Names are the columns' names.
	Columns []string
	Names   []string
	// EmptyRow is the one row an aggregate without groups answers when no
	// document reaches its $group (SQL's COUNT(*) = 0, SUM = NULL), where
	// the pipeline yields no document; nil for every other query.
	EmptyRow []any
}

// MarshalJSON writes the pipeline as MongoDB relaxed extended JSON.
func (q *MongoQuery) MarshalJSON() ([]byte, error) {
	stages := make([]json.RawMessage, len(q.Pipeline))
	for i, st := range q.Pipeline {
		b, err := bson.MarshalExtJSON(st, false, false)
		if err != nil {
			return nil, err
		}
		stages[i] = b
	}
	return json.Marshal(struct {
		Collection string            `json:"collection"`
		Pipeline   []json.RawMessage `json:"pipeline"`
		Columns    []string          `json:"columns"`
		Names      []string          `json:"names"`
	}{q.Collection, stages, q.Columns, q.Names})
}

// Row flattens one result document into the answer's columns: integers as
// int64, doubles as float64, decimals and other scalars as their string,
// dates as time.Time, a missing field or null as nil.
func (q *MongoQuery) Row(doc bson.Raw) []any {
	row := make([]any, len(q.Columns))
	for i, c := range q.Columns {
		v, err := doc.LookupErr(strings.Split(c, ".")...)
		if err != nil {
			continue
		}
		row[i] = mongoScalar(v)
	}
	return row
}

func mongoScalar(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return nil
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		return v.Double()
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeBoolean:
		return v.Boolean()
	case bson.TypeDateTime:
		return v.Time().UTC()
	case bson.TypeObjectID:
		return v.ObjectID().Hex()
	case bson.TypeDecimal128:
		return v.Decimal128().String()
	}
	return v.String()
}

// MongoUnsupported is the error of a query the pipeline renderer declines:
// it renders a construct exactly or not at all.
type MongoUnsupported struct{ What string }

func (e *MongoUnsupported) Error() string {
	return "the MongoDB pipeline renderer cannot express this exactly: " + e.What
}

func unsupported(format string, args ...any) error {
	return &MongoUnsupported{What: fmt.Sprintf(format, args...)}
}

// mongoRender turns one SELECT tree into a pipeline. Joined documents are
// nested under an alias (track.album.title after a $lookup of album), so a
// column's place in the document depends on the relation it belongs to.
type mongoRender struct {
	s      *Schema
	root   *Table
	prefix map[string]string // relation -> path prefix ("" for the root)
	sqlr   *renderer         // renders expressions as keys for matching
	stages []bson.D
	tmp    int
	left   map[string]bool // relations joined by a LEFT JOIN
	// derived holds the output fields of a derived table (FROM (…) AS rel).
	derived     map[string]string // output name -> path
	derivedName string
	// post maps the rendered group keys and aggregates to where $group
	// left them, while expressions over them are rendered.
	post map[string]postValue
}

type postValue struct {
	path string
	col  *Column
}

// renderMongo renders q on schema s.
func renderMongo(s *Schema, q *selectQ) (*MongoQuery, error) {
	r := &mongoRender{s: s, prefix: map[string]string{}, sqlr: newRenderer(Postgres)}
	return r.query(q)
}

func (r *mongoRender) query(q *selectQ) (*MongoQuery, error) {
	out := &MongoQuery{}
	if q.fromSub != nil {
		if len(q.joins) > 0 || len(q.where) > 0 {
			return nil, unsupported("a derived table with joins or conditions")
		}
		inner := &mongoRender{s: r.s, prefix: map[string]string{}, sqlr: r.sqlr}
		iq, err := inner.query(q.fromSub)
		if err != nil {
			return nil, err
		}
		if iq.EmptyRow != nil || len(q.group) > 0 {
			return nil, unsupported("a derived table of this shape")
		}
		out.Collection = iq.Collection
		r.stages = iq.Pipeline
		r.derived = map[string]string{}
		for i, c := range iq.Columns {
			r.derived[iq.Names[i]] = c
		}
		r.derivedName = q.from
		r.prefix[q.from] = ""
	} else {
		r.root = r.s.Table(q.from)
		if r.root == nil {
			return nil, unsupported("collection %s is not in the schema", q.from)
		}
		if err := checkName(q.from); err != nil {
			return nil, err
		}
		out.Collection = r.root.Name
		r.prefix[r.root.Name] = ""
	}
	if err := r.source(q.where, q.joins); err != nil {
		return nil, err
	}
	var err error
	if len(q.group) > 0 || q.distinct || hasAggregate(q) {
		err = r.grouped(q, out)
	} else {
		err = r.plain(q, out)
	}
	if err != nil {
		return nil, err
	}
	if q.limit > 0 {
		r.stages = append(r.stages, bson.D{{Key: "$limit", Value: int64(q.limit)}})
	}
	out.Pipeline = r.stages
	if out.Pipeline == nil {
		out.Pipeline = []bson.D{}
	}
	return out, nil
}

// source renders the joins and conditions: conditions on the root alone
// run before the joins, the rest after.
func (r *mongoRender) source(where []sqlExpr, joins []joinClause) error {
	var early, late []sqlExpr
	for _, w := range where {
		if r.onlyRoot(w) {
			early = append(early, w)
		} else {
			late = append(late, w)
		}
	}
	if err := r.match(early); err != nil {
		return err
	}
	for _, j := range joins {
		if err := r.join(j); err != nil {
			return err
		}
	}
	return r.match(late)
}

func checkName(n string) error {
	if n == "" || strings.HasPrefix(n, "$") || strings.Contains(n, "\x00") {
		return unsupported("the name %q cannot be a field or collection name", n)
	}
	return nil
}

func hasAggregate(q *selectQ) bool {
	for _, it := range q.items {
		if containsAgg(it.e) {
			return true
		}
	}
	return false
}

// walkAggs calls fn for every aggregate in e.
func walkAggs(e sqlExpr, fn func(aggExpr)) {
	switch x := e.(type) {
	case aggExpr:
		fn(x)
	case binExpr:
		walkAggs(x.l, fn)
		walkAggs(x.r, fn)
	case concatExpr:
		for _, p := range x.parts {
			walkAggs(p, fn)
		}
	case intDivExpr:
		walkAggs(x.e, fn)
	case nullifZeroExpr:
		walkAggs(x.e, fn)
	}
}

func containsAgg(e sqlExpr) bool {
	found := false
	walkAggs(e, func(aggExpr) { found = true })
	return found
}

// column resolves rel.col to its schema column and document path.
func (r *mongoRender) column(c colExpr) (*Column, string, error) {
	pre, ok := r.prefix[c.rel]
	if !ok {
		return nil, "", unsupported("relation %s is not joined", c.rel)
	}
	if r.derived != nil && c.rel == r.derivedName {
		path, ok := r.derived[c.col]
		if !ok {
			return nil, "", unsupported("derived column %s", c.col)
		}
		return &Column{Name: c.col, Kind: KindNumber}, path, nil
	}
	t := r.s.Table(c.rel)
	col := t.Column(c.col)
	if col == nil {
		return nil, "", unsupported("field %s.%s is not in the schema", c.rel, c.col)
	}
	for _, part := range strings.Split(col.Name, ".") {
		if err := checkName(part); err != nil {
			return nil, "", err
		}
	}
	return col, pre + col.Name, nil
}

// kindFamily is the comparison family of a BSON type: MongoDB compares
// numbers across int, long, double and decimal, as SQL does.
func kindFamily(ty string) string {
	switch ty {
	case "int", "long", "double", "decimal":
		return "number"
	}
	return ty
}

// plainColumn resolves a column that a comparison or a sort reads: one
// whose sampled values are all of one family and never arrays, so that
// MongoDB's comparison reads as SQL's.
func (r *mongoRender) plainColumn(c colExpr) (*Column, string, error) {
	col, path, err := r.column(c)
	if err != nil {
		return nil, "", err
	}
	if col.Array {
		return nil, "", unsupported("field %s holds arrays; a comparison would match any element", path)
	}
	if col.Object {
		return nil, "", unsupported("field %s holds documents", path)
	}
	fam := ""
	for ty := range col.Types {
		if ty == "null" {
			continue
		}
		if f := kindFamily(ty); fam != "" && f != fam {
			return nil, "", unsupported("field %s holds values of several types", path)
		} else {
			fam = f
		}
	}
	return col, path, nil
}

// nonNull reports that every sampled document holds a non-null value at
// col (the _id always does).
func nonNull(col *Column) bool {
	if col.Name == "_id" {
		return true
	}
	if col.Types == nil { // a derived column: an aggregate of its group
		return !col.Nullable
	}
	return col.Presence == 1 && col.Types["null"] == 0 && !col.Nullable
}

func (r *mongoRender) onlyRoot(e sqlExpr) bool {
	root := true
	walkCols(e, func(c colExpr) {
		if r.root == nil || c.rel != r.root.Name {
			root = false
		}
	})
	if _, ok := e.(existsExpr); ok {
		return false
	}
	return root
}

func walkCols(e sqlExpr, fn func(colExpr)) {
	switch x := e.(type) {
	case colExpr:
		fn(x)
	case binExpr:
		walkCols(x.l, fn)
		walkCols(x.r, fn)
	case postfixExpr:
		walkCols(x.e, fn)
	case inExpr:
		walkCols(x.e, fn)
		for _, v := range x.vals {
			walkCols(v, fn)
		}
	case betweenExpr:
		walkCols(x.e, fn)
		walkCols(x.lo, fn)
		walkCols(x.hi, fn)
	case andExpr:
		for _, y := range x.es {
			walkCols(y, fn)
		}
	case aggExpr:
		if x.arg != nil {
			walkCols(x.arg, fn)
		}
	case concatExpr:
		for _, y := range x.parts {
			walkCols(y, fn)
		}
	case extractExpr:
		walkCols(x.e, fn)
	case intDivExpr:
		walkCols(x.e, fn)
	}
}

// join renders JOIN rel ON child.fk = parent.key as $lookup and $unwind.
func (r *mongoRender) join(j joinClause) error {
	if len(j.on) != 1 {
		return unsupported("a join on %d conditions", len(j.on))
	}
	b, ok := j.on[0].(binExpr)
	l, okl := b.l.(colExpr)
	rc, okr := b.r.(colExpr)
	if !ok || b.op != "=" || !okl || !okr {
		return unsupported("a join on anything but key equality")
	}
	if l.rel == j.rel {
		l, rc = rc, l
	}
	if rc.rel != j.rel || l.rel == j.rel {
		return unsupported("a join condition that does not name %s", j.rel)
	}
	t := r.s.Table(j.rel)
	if t == nil {
		return unsupported("collection %s is not in the schema", j.rel)
	}
	if err := checkName(j.rel); err != nil {
		return err
	}
	localCol, local, err := r.plainColumn(l)
	if err != nil {
		return err
	}
	foreign := t.Column(rc.col)
	if foreign == nil || foreign.Array || foreign.Object {
		return unsupported("join key %s.%s", j.rel, rc.col)
	}
	// $lookup matches a null or missing local value with documents whose
	// key is null or missing, where SQL matches nothing: an inner join
	// first drops such documents; a left join needs a key that is never
	// null on the other side.
	if !j.left {
		r.stages = append(r.stages, bson.D{{Key: "$match", Value: bson.D{{Key: local, Value: bson.D{{Key: "$ne", Value: nil}}}}}})
	} else if !nonNull(foreign) && !nonNull(localCol) {
		return unsupported("a left join on keys that may be null")
	}
	as := r.alias(j.rel)
	r.prefix[j.rel] = as + "."
	if j.left {
		if r.left == nil {
			r.left = map[string]bool{}
		}
		r.left[j.rel] = true
	}
	r.stages = append(r.stages,
		bson.D{{Key: "$lookup", Value: bson.D{{Key: "from", Value: t.Name}, {Key: "localField", Value: local}, {Key: "foreignField", Value: foreign.Name}, {Key: "as", Value: as}}}},
		bson.D{{Key: "$unwind", Value: bson.D{{Key: "path", Value: "$" + as}, {Key: "preserveNullAndEmptyArrays", Value: j.left}}}})
	return nil
}

// alias is a top-level field name for joined documents that no field of
// the root collection uses.
func (r *mongoRender) alias(want string) string {
	taken := func(a string) bool {
		if r.root != nil {
			for _, c := range r.root.Columns {
				if c.Name == a || strings.HasPrefix(c.Name, a+".") {
					return true
				}
			}
		}
		for _, p := range r.prefix {
			if p == a+"." {
				return true
			}
		}
		return false
	}
	a := strings.ReplaceAll(want, ".", "_")
	for i := 2; taken(a); i++ {
		a = strings.ReplaceAll(want, ".", "_") + "_" + strconv.Itoa(i)
	}
	return a
}

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
		if len(q.group) > 0 || hasAggregate(q) {
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
