package nlp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

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
	if len(q.group) > 0 || q.distinct || queryHasAggregate(q) {
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

func queryHasAggregate(q *selectQ) bool {
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
