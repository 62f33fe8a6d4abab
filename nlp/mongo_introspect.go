package nlp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mongo is the dialect of MongoDB tenants: questions become aggregation
// pipelines (mongo_render.go), not SQL.
const Mongo Dialect = "mongodb"

// MongoIntrospectOptions bounds what IntrospectMongo reads.
type MongoIntrospectOptions struct {
	// Collections is an allow-list; empty means every collection.
	Collections []string
	// Sample is how many documents of each collection are read to infer
	// its fields; 0 means 200.
	Sample int
	// Scope confines every read to one row tenant's documents (those whose
	// Scope.Column holds Scope.Value): the sample, the counts, the
	// reference checks and the value index. The tenant field itself is
	// left out of the schema, as the tenant column is for SQL tables.
	Scope RowScope
}

// Index is one index of a collection.
type Index struct {
	Name   string   `json:"name"`
	Keys   []string `json:"keys"`
	Unique bool     `json:"unique,omitempty"`
}

const defaultMongoSample = 200

// IntrospectMongo infers the schema of a MongoDB database from a sample of
// each collection's documents: collections become tables, field paths
// (dotted for nested documents) become columns whose kind is the dominant
// BSON type among the sampled documents, _id is the primary key, and a
// field named after another collection (AlbumId, album_id, albumId) whose
// sampled values all exist as that collection's _id (or same-named key) is
// a foreign key. A schema inferred from a sample can be wrong about fields
// the sample missed; Column.Presence and Column.Types say how sure it is.
func IntrospectMongo(ctx context.Context, db *mongo.Database, opts MongoIntrospectOptions) (*Schema, error) {
	if opts.Sample <= 0 {
		opts.Sample = defaultMongoSample
	}
	if opts.Scope.Column != "" && opts.Scope.Value == "" {
		return nil, fmt.Errorf("nlp: introspect mongo: row scope on field %q without a tenant value", opts.Scope.Column)
	}
	scope := scopeFilter(opts.Scope)
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("nlp: introspect mongo: list collections: %w", err)
	}
	allow := map[string]bool{}
	for _, c := range opts.Collections {
		allow[c] = true
	}
	s := &Schema{Dialect: Mongo, LoadedAt: time.Now()}
	samples := map[*Table]*fieldSampler{}
	for _, name := range names {
		if strings.HasPrefix(name, "system.") || (len(allow) > 0 && !allow[name]) {
			continue
		}
		t, fs, err := introspectCollection(ctx, db.Collection(name), opts.Sample, scope, opts.Scope.Column)
		if err != nil {
			return nil, fmt.Errorf("nlp: introspect mongo: collection %s: %w", name, err)
		}
		s.Tables = append(s.Tables, t)
		samples[t] = fs
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Name < s.Tables[j].Name })
	s.index()
	for _, t := range s.Tables {
		if err := inferReferences(ctx, db, s, t, samples[t], scope); err != nil {
			return nil, fmt.Errorf("nlp: introspect mongo: references of %s: %w", t.Name, err)
		}
	}
	for _, t := range s.Tables {
		if err := indexMongoValues(ctx, db.Collection(t.Name), t, scope); err != nil {
			return nil, fmt.Errorf("nlp: introspect mongo: value index of %s: %w", t.Name, err)
		}
	}
	return s, nil
}

// scopeFilter is the query filter of a row scope's documents; nil for a
// database of the tenant's own.
func scopeFilter(sc RowScope) bson.D {
	if sc.Column == "" {
		return nil
	}
	return bson.D{{Key: sc.Column, Value: sc.Value}}
}

// scoped is filter confined to the scope's documents.
func scoped(filter, scope bson.D) bson.D {
	switch {
	case scope == nil:
		return filter
	case len(filter) == 0:
		return scope
	}
	return bson.D{{Key: "$and", Value: bson.A{scope, filter}}}
}

// fieldStat accumulates what the sample shows of one field path.
type fieldStat struct {
	path    string
	docs    int            // sampled documents holding the path
	types   map[string]int // BSON type -> documents holding it there
	array   bool
	object  bool
	scalars []bson.RawValue // up to refSampleMax scalar values, for reference checks
}

type fieldSampler struct {
	n      int // documents sampled
	order  []string
	fields map[string]*fieldStat
}

const refSampleMax = 50

// hidden is the row scope's tenant field ("" for none): it and its
// subfields are left out of the table, as the tenant column is for SQL.
func introspectCollection(ctx context.Context, c *mongo.Collection, sample int, scope bson.D, hidden string) (*Table, *fieldSampler, error) {
	t := &Table{Name: c.Name(), PrimaryKey: []string{"_id"}}
	var n int64
	var err error
	if scope == nil {
		n, err = c.EstimatedDocumentCount(ctx)
	} else {
		// A shared collection's size counts every tenant's documents: the
		// tenant's own count is the one it may see.
		n, err = c.CountDocuments(ctx, scope)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("document count: %w", err)
	}
	t.RowEstimate = n
	// The first documents in natural order: $sample would spread the
	// sample better but not every server runs it, and a find is cheap.
	cur, err := c.Find(ctx, scoped(bson.D{}, scope), options.Find().SetLimit(int64(sample)))
	if err != nil {
		return nil, nil, fmt.Errorf("sample: %w", err)
	}
	defer cur.Close(ctx)
	fs := &fieldSampler{fields: map[string]*fieldStat{}}
	for cur.Next(ctx) {
		fs.n++
		seen := map[string]map[string]bool{}
		fs.walk("", cur.Current, seen)
		for path, types := range seen {
			st := fs.fields[path]
			st.docs++
			for ty := range types {
				st.types[ty]++
			}
		}
	}
	if err := cur.Err(); err != nil {
		return nil, nil, fmt.Errorf("sample: %w", err)
	}
	specs, err := c.Indexes().ListSpecifications(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list indexes: %w", err)
	}
	for _, sp := range specs {
		ix := Index{Name: sp.Name, Unique: sp.Unique != nil && *sp.Unique}
		els, _ := sp.KeysDocument.Elements()
		for _, e := range els {
			ix.Keys = append(ix.Keys, e.Key())
		}
		t.Indexes = append(t.Indexes, ix)
	}
	// _id first, then fields in the order the sample first showed them.
	order := fs.order
	sort.SliceStable(order, func(i, j int) bool { return order[i] == "_id" && order[j] != "_id" })
	for _, path := range order {
		if hidden != "" && (path == hidden || strings.HasPrefix(path, hidden+".")) {
			continue
		}
		st := fs.fields[path]
		col := &Column{Name: path, Array: st.array, Object: st.object}
		if fs.n > 0 {
			col.Presence = float64(st.docs) / float64(fs.n)
		}
		col.Types = map[string]float64{}
		best, bestN := "", 0
		for ty, k := range st.types {
			col.Types[ty] = float64(k) / float64(fs.n)
			// The dominant type; null says nothing of the field's kind, and
			// ties go to the name so the result does not depend on map order.
			if ty != "null" && (k > bestN || (k == bestN && ty < best)) {
				best, bestN = ty, k
			}
		}
		if best == "" {
			best = "null"
		}
		col.Type = best
		col.Kind = bsonKind(best)
		col.Nullable = path != "_id" && (st.docs < fs.n || st.types["null"] > 0)
		t.Columns = append(t.Columns, col)
	}
	return t, fs, nil
}

// walk records the paths of doc under prefix into seen (path -> types).
// An array's elements are walked under the array's own path, as MongoDB's
// dot notation reaches into arrays: tags.name matches {tags: [{name: …}]}.
func (fs *fieldSampler) walk(prefix string, doc bson.Raw, seen map[string]map[string]bool) {
	els, err := doc.Elements()
	if err != nil {
		return
	}
	for _, e := range els {
		path := e.Key()
		if path == "" || strings.ContainsAny(path, ".\x00") || strings.HasPrefix(path, "$") {
			// Dot notation cannot name such a field: it is left out of the
			// schema, so no question reads it.
			continue
		}
		if prefix != "" {
			path = prefix + "." + path
		}
		fs.value(path, e.Value(), seen, false)
	}
}

func (fs *fieldSampler) value(path string, v bson.RawValue, seen map[string]map[string]bool, inArray bool) {
	st := fs.fields[path]
	if st == nil {
		st = &fieldStat{path: path, types: map[string]int{}}
		fs.fields[path] = st
		fs.order = append(fs.order, path)
	}
	if seen[path] == nil {
		seen[path] = map[string]bool{}
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		st.object = true
		seen[path]["object"] = true
		fs.walk(path, v.Document(), seen)
	case bson.TypeArray:
		st.array = true
		if inArray {
			seen[path]["array"] = true // an array of arrays: not walked further
			return
		}
		vals, err := v.Array().Values()
		if err != nil {
			return
		}
		if len(vals) == 0 {
			seen[path]["array"] = true
		}
		for _, ev := range vals {
			fs.value(path, ev, seen, true)
		}
	default:
		seen[path][bsonTypeName(v.Type)] = true
		if v.Type != bson.TypeNull && len(st.scalars) < refSampleMax {
			st.scalars = append(st.scalars, v)
		}
	}
}

// bsonTypeName is the $type alias of t.
func bsonTypeName(t bson.Type) string {
	switch t {
	case bson.TypeDouble:
		return "double"
	case bson.TypeString:
		return "string"
	case bson.TypeEmbeddedDocument:
		return "object"
	case bson.TypeArray:
		return "array"
	case bson.TypeBinary:
		return "binData"
	case bson.TypeObjectID:
		return "objectId"
	case bson.TypeBoolean:
		return "bool"
	case bson.TypeDateTime:
		return "date"
	case bson.TypeNull, bson.TypeUndefined:
		return "null"
	case bson.TypeRegex:
		return "regex"
	case bson.TypeInt32:
		return "int"
	case bson.TypeTimestamp:
		return "timestamp"
	case bson.TypeInt64:
		return "long"
	case bson.TypeDecimal128:
		return "decimal"
	}
	return "other"
}

func bsonKind(ty string) Kind {
	switch ty {
	case "string":
		return KindText
	case "int", "long":
		return KindInt
	case "double", "decimal":
		return KindNumber
	case "date", "timestamp":
		return KindTime
	case "bool":
		return KindBool
	}
	return KindOther
}

// refBase is the collection name a reference field's name holds:
// "album" for AlbumId, album_id and albumId; "" when the name is no
// reference's.
func refBase(field string) string {
	if strings.Contains(field, ".") || field == "_id" {
		return ""
	}
	low := strings.ToLower(field)
	switch {
	case strings.HasSuffix(low, "_id"):
		return low[:len(low)-3]
	case strings.HasSuffix(field, "Id") || strings.HasSuffix(field, "ID"):
		return low[:len(low)-2]
	}
	return ""
}

// refNames are the collection names a reference's base may stand for.
func refNames(base string) []string {
	return []string{base, base + "s", base + "es", strings.TrimSuffix(base, "y") + "ies"}
}

// refTarget returns the collection a field's name refers to: AlbumId,
// album_id and albumId name the collection Album (or albums); nil when
// the name names none, or the field's own collection.
func refTarget(s *Schema, self *Table, field string) *Table {
	base := refBase(field)
	if base == "" {
		return nil
	}
	for _, cand := range refNames(base) {
		if t := s.Table(cand); t != nil && t != self {
			return t
		}
	}
	return nil
}

// inferReferences adds a foreign key for every field of t whose name names
// another collection and whose sampled values all exist there as _id, or
// else as a same-named field; a reference the data contradicts is none.
func inferReferences(ctx context.Context, db *mongo.Database, s *Schema, t *Table, fs *fieldSampler, scope bson.D) error {
	for _, col := range t.Columns {
		ref := refTarget(s, t, col.Name)
		if ref == nil || col.Object {
			continue
		}
		st := fs.fields[col.Name]
		if st == nil || len(st.scalars) == 0 {
			continue
		}
		distinct := uniqueValues(st.scalars)
		for _, key := range []string{"_id", col.Name} {
			if key != "_id" && ref.Column(key) == nil {
				continue
			}
			n, err := db.Collection(ref.Name).CountDocuments(ctx, scoped(bson.D{{Key: key, Value: bson.D{{Key: "$in", Value: distinct}}}}, scope))
			if err != nil {
				return err
			}
			if int(n) >= len(distinct) {
				t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Columns: []string{col.Name}, RefTable: ref.Name, RefColumns: []string{key}})
				break
			}
		}
	}
	return nil
}

func uniqueValues(vs []bson.RawValue) bson.A {
	var out bson.A
	for i, v := range vs {
		dup := false
		for _, w := range vs[:i] {
			if v.Equal(w) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// indexMongoValues fills the value index of t's short text fields, as
// indexValues does for SQL tables: every distinct value, when there are
// at most valueIndexMaxDistinct of them and all of them are strings.
func indexMongoValues(ctx context.Context, c *mongo.Collection, t *Table, scope bson.D) error {
	if t.RowEstimate > valueIndexMaxRows {
		return nil
	}
	for _, col := range t.Columns {
		if col.Kind != KindText || col.Name == "_id" {
			continue
		}
		res := c.Distinct(ctx, col.Name, scoped(bson.D{}, scope))
		raw, err := res.Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return err
		}
		vals, err := raw.Values()
		if err != nil {
			return err
		}
		if len(vals) > valueIndexMaxDistinct {
			continue
		}
		var out []string
		all := true
		for _, v := range vals {
			sv, ok := v.StringValueOK()
			if !ok {
				if v.Type != bson.TypeNull {
					all = false
				}
				continue
			}
			if len(sv) <= valueMaxLen {
				out = append(out, sv)
			}
		}
		if all {
			col.Values, col.Indexed = out, true
		}
	}
	return nil
}
