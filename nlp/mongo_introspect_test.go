package nlp

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func insertDocs(t *testing.T, db *mongo.Database, coll string, docs ...any) {
	t.Helper()
	if _, err := db.Collection(coll).InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("insert %s: %v", coll, err)
	}
}

func TestMongoIntrospect(t *testing.T) {
	db := mongoDB(t)
	ctx := context.Background()
	when := time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC)
	insertDocs(t, db, "authors",
		bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: "Ann"}, {Key: "country", Value: "Brazil"}},
		bson.D{{Key: "_id", Value: 2}, {Key: "name", Value: "Bo"}, {Key: "country", Value: "Chile"}},
	)
	insertDocs(t, db, "books",
		bson.D{{Key: "_id", Value: 10}, {Key: "title", Value: "A"}, {Key: "author_id", Value: 1},
			{Key: "price", Value: 9.5}, {Key: "published", Value: when},
			{Key: "meta", Value: bson.D{{Key: "pages", Value: 120}, {Key: "lang", Value: "en"}}},
			{Key: "tags", Value: bson.A{"x", "y"}},
			{Key: "reviews", Value: bson.A{bson.D{{Key: "stars", Value: 4}}}}},
		bson.D{{Key: "_id", Value: 11}, {Key: "title", Value: "B"}, {Key: "author_id", Value: 2},
			{Key: "price", Value: int32(12)}, {Key: "published", Value: when},
			{Key: "meta", Value: bson.D{{Key: "pages", Value: 300}}}},
		bson.D{{Key: "_id", Value: 12}, {Key: "title", Value: "C"}, {Key: "author_id", Value: 1},
			{Key: "price", Value: 7.25}, {Key: "published", Value: nil}},
		bson.D{{Key: "_id", Value: 13}, {Key: "title", Value: "D"}, {Key: "author_id", Value: 2},
			{Key: "price", Value: 3.5}, {Key: "published", Value: when}},
	)
	// A field named like a collection whose values are not its ids is no
	// reference.
	insertDocs(t, db, "loans",
		bson.D{{Key: "_id", Value: 1}, {Key: "bookId", Value: 10}, {Key: "authorId", Value: 99}},
	)
	if _, err := db.Collection("books").Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "title", Value: 1}}, Options: options.Index().SetUnique(true).SetName("by_title")}); err != nil {
		t.Fatal(err)
	}

	s, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dialect != Mongo {
		t.Fatalf("dialect %q", s.Dialect)
	}
	var names []string
	for _, tb := range s.Tables {
		names = append(names, tb.Name)
	}
	if !slices.Equal(names, []string{"authors", "books", "loans"}) {
		t.Fatalf("tables %v", names)
	}
	books := s.Table("books")
	if books.RowEstimate != 4 || !slices.Equal(books.PrimaryKey, []string{"_id"}) {
		t.Fatalf("books: rows %d pk %v", books.RowEstimate, books.PrimaryKey)
	}
	var cols []string
	for _, c := range books.Columns {
		cols = append(cols, c.Name)
	}
	want := []string{"_id", "title", "author_id", "price", "published", "meta", "meta.pages", "meta.lang", "tags", "reviews", "reviews.stars"}
	if !slices.Equal(cols, want) {
		t.Fatalf("books columns\n got %v\nwant %v", cols, want)
	}
	check := func(name string, kind Kind, ty string, presence float64, nullable, array, object bool) {
		t.Helper()
		c := books.Column(name)
		if c == nil {
			t.Fatalf("no column %s", name)
		}
		if c.Kind != kind || c.Type != ty || c.Presence != presence || c.Nullable != nullable || c.Array != array || c.Object != object {
			t.Errorf("%s: got kind %s type %s presence %v nullable %v array %v object %v", name, c.Kind, c.Type, c.Presence, c.Nullable, c.Array, c.Object)
		}
	}
	check("_id", KindInt, "int", 1, false, false, false)
	check("price", KindNumber, "double", 1, false, false, false)
	check("published", KindTime, "date", 1, true, false, false)
	check("meta", KindOther, "object", 0.5, true, false, true)
	check("meta.pages", KindInt, "int", 0.5, true, false, false)
	check("meta.lang", KindText, "string", 0.25, true, false, false)
	check("tags", KindText, "string", 0.25, true, true, false)
	check("reviews.stars", KindInt, "int", 0.25, true, false, false)
	if got := books.Column("price").Types; got["double"] != 0.75 || got["int"] != 0.25 {
		t.Errorf("price types %v", got)
	}
	if got := books.Column("published").Types; got["null"] != 0.25 || got["date"] != 0.75 {
		t.Errorf("published types %v", got)
	}
	if got := books.ForeignKeys; len(got) != 1 || got[0].RefTable != "authors" || got[0].Columns[0] != "author_id" || got[0].RefColumns[0] != "_id" {
		t.Errorf("books foreign keys %+v", got)
	}
	loans := s.Table("loans")
	if got := loans.ForeignKeys; len(got) != 1 || got[0].RefTable != "books" || got[0].Columns[0] != "bookId" {
		t.Errorf("loans foreign keys %+v (authorId 99 is no author)", got)
	}
	var unique bool
	for _, ix := range books.Indexes {
		if ix.Name == "by_title" && slices.Equal(ix.Keys, []string{"title"}) {
			unique = ix.Unique
		}
	}
	if !unique {
		t.Errorf("books indexes %+v", books.Indexes)
	}
	if c := s.Table("authors").Column("country"); !c.Indexed || !slices.Contains(c.Values, "Brazil") {
		t.Errorf("authors.country value index %v %v", c.Indexed, c.Values)
	}

	only, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{Collections: []string{"books"}, Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Tables) != 1 || only.Tables[0].Name != "books" {
		t.Fatalf("allow-list: %d tables", len(only.Tables))
	}
	// One sampled document: the nested fields of later documents are not
	// seen, and the reference to a collection outside the allow-list is none.
	if only.Tables[0].Column("meta.lang") == nil || only.Tables[0].Column("reviews") == nil || len(only.Tables[0].ForeignKeys) != 0 {
		t.Errorf("sample 1: %+v", only.Tables[0].ForeignKeys)
	}
}

// TestMongoIntrospectRowScope: a row tenant's schema is inferred from its
// own documents only: another tenant's fields, values, counts and
// references stay out, and the tenant field is hidden.
func TestMongoIntrospectRowScope(t *testing.T) {
	db := mongoDB(t)
	ctx := context.Background()
	insertDocs(t, db, "customers",
		bson.D{{Key: "_id", Value: "a1"}, {Key: "tenant", Value: "a"}, {Key: "name", Value: "Ann"}, {Key: "city", Value: "Lima"}},
		bson.D{{Key: "_id", Value: "b1"}, {Key: "tenant", Value: "b"}, {Key: "name", Value: "Bob"}, {Key: "city", Value: "Oslo"},
			{Key: "vip_level", Value: 3}},
	)
	insertDocs(t, db, "orders",
		bson.D{{Key: "_id", Value: 1}, {Key: "tenant", Value: "a"}, {Key: "customer_id", Value: "a1"}},
		// b's order points at a's customer, which b's documents do not hold:
		// within b's documents customer_id is no reference.
		bson.D{{Key: "_id", Value: 2}, {Key: "tenant", Value: "b"}, {Key: "customer_id", Value: "a1"}},
	)
	colNames := func(tb *Table) []string {
		var out []string
		for _, c := range tb.Columns {
			out = append(out, c.Name)
		}
		return out
	}
	// Control: unscoped, b's field and both tenants' values are seen.
	all, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := all.Table("customers"); c == nil || !slices.Contains(colNames(c), "vip_level") || c.RowEstimate != 2 {
		t.Fatalf("unscoped customers: %+v", c)
	}
	a, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{Scope: RowScope{Column: "tenant", Value: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	c := a.Table("customers")
	if c == nil {
		t.Fatal("no customers")
	}
	if got := colNames(c); !slices.Equal(got, []string{"_id", "name", "city"}) {
		t.Fatalf("a's customers columns %v (the tenant field hidden, b's vip_level unseen)", got)
	}
	if c.RowEstimate != 1 {
		t.Fatalf("a's customers count %d, want 1", c.RowEstimate)
	}
	if city := c.Column("city"); city == nil || slices.Contains(city.Values, "Oslo") || !slices.Contains(city.Values, "Lima") {
		t.Fatalf("a's city values: %+v", city)
	}
	b, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{Scope: RowScope{Column: "tenant", Value: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := b.Table("orders"); o == nil || len(o.ForeignKeys) != 0 {
		t.Fatalf("b's orders reference a's customer: %+v", o)
	}
	if _, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{Scope: RowScope{Column: "tenant"}}); err == nil {
		t.Fatal("a scope without a value was accepted")
	}
}
