package nlp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mongoSchema is s as IntrospectMongo would see its tables as
// collections: an _id holding the primary key (the key column kept beside
// it), references to _id, every field present with one BSON type. One
// field per collection that names "note" is present in half the documents.
func mongoSchema(s *Schema) *Schema {
	out := &Schema{Dialect: Mongo}
	bsonType := map[Kind]string{KindInt: "int", KindText: "string", KindNumber: "double", KindTime: "date", KindDate: "date", KindBool: "bool"}
	for _, t := range s.Tables {
		nt := &Table{Name: t.Name, PrimaryKey: []string{"_id"}}
		if len(t.PrimaryKey) == 1 {
			pk := t.Column(t.PrimaryKey[0])
			nt.Columns = append(nt.Columns, &Column{Name: "_id", Type: bsonType[pk.Kind], Kind: pk.Kind, Presence: 1, Types: map[string]float64{bsonType[pk.Kind]: 1}})
		} else {
			nt.Columns = append(nt.Columns, &Column{Name: "_id", Type: "object", Kind: KindOther, Presence: 1, Object: true, Types: map[string]float64{"object": 1}})
		}
		for _, c := range t.Columns {
			nc := *c
			nc.Type = bsonType[c.Kind]
			nc.Presence = 1
			nc.Types = map[string]float64{nc.Type: 1}
			nt.Columns = append(nt.Columns, &nc)
		}
		nt.Columns = append(nt.Columns, &Column{Name: "note", Type: "string", Kind: KindText, Presence: 0.5, Nullable: true, Types: map[string]float64{"string": 0.5}})
		for _, fk := range t.ForeignKeys {
			ref := s.Table(fk.RefTable)
			nfk := fk
			if len(ref.PrimaryKey) == 1 && len(fk.RefColumns) == 1 && fk.RefColumns[0] == ref.PrimaryKey[0] {
				nfk.RefColumns = []string{"_id"}
			}
			nt.ForeignKeys = append(nt.ForeignKeys, nfk)
		}
		out.Tables = append(out.Tables, nt)
	}
	out.index()
	return out
}

// TestGoldenMongo pins the pipelines (or the refusals) of the golden
// questions on both schemas as MongoDB collections.
// go test ./nlp -run TestGoldenMongo -update rewrites testdata/mongo.golden.
func TestGoldenMongo(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	for _, name := range []string{"school", "shop"} {
		s := mongoSchema(map[string]func(Dialect) *Schema{"shop": shopSchema, "school": schoolSchema}[name](Postgres))
		for _, q := range append(goldenQuestions[name], mongoQuestions[name]...) {
			fmt.Fprintf(&b, "## %s: %s\n", name, q)
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: q, Schema: s, Now: now})
			if err != nil {
				fmt.Fprintf(&b, "declined: %v\n", err)
				continue
			}
			if res.Mongo == nil {
				t.Fatalf("%s %q: an answer without a pipeline", name, q)
			}
			js, err := res.Mongo.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%.2f %s\n", res.Confidence, js)
			if res.Mongo.EmptyRow != nil {
				fmt.Fprintf(&b, "  on no document: %v\n", res.Mongo.EmptyRow)
			}
		}
	}
	path := filepath.Join("testdata", "mongo.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s: line %d:\n got  %s\n want %s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", path, len(gl), len(wl))
	}
}

// mongoQuestions exercise what is particular to pipelines: a field that
// may be missing (note), sorted or summed, and ranges on dates.
var mongoQuestions = map[string][]string{
	"shop": {
		"customers sorted by note",
		"customers without a note",
		"orders per month",
		"how many orders in the last 30 days",
		"customers created before 2020",
	},
	"school": {
		"students sorted by note",
		"students enrolled before 2020",
		"students per year of enrollment",
	},
}
