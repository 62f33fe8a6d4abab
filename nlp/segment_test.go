package nlp

import (
	"context"
	"strings"
	"testing"
)

// A word of a lower-case compound name links to it as one word of a longer
// name, on two schemas (countries, cars).
func TestCompoundPart(t *testing.T) {
	mk := func(tb *Table) *Schema {
		s := &Schema{Dialect: Postgres, Tables: []*Table{tb}}
		s.index()
		return s
	}
	country := mk(&Table{Name: "country", PrimaryKey: []string{"code"}, Columns: []*Column{
		{Name: "code", Type: "text", Kind: KindText}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "surfacearea", Type: "real", Kind: KindNumber}, {Name: "lifeexpectancy", Type: "real", Kind: KindNumber}}})
	car := mk(&Table{Name: "cars", PrimaryKey: []string{"id"}, Columns: []*Column{
		{Name: "id", Type: "integer", Kind: KindInt}, {Name: "model", Type: "text", Kind: KindText},
		{Name: "horsepower", Type: "integer", Kind: KindInt}}})
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{country, "what is the average area of all countries", `AVG("country"."surfacearea")`},
		{country, "what is the maximum expectancy of a country", `MAX("country"."lifeexpectancy")`},
		{car, "what is the average power of all cars", `AVG("cars"."horsepower")`},
	}
	for _, c := range cases {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
	// A word that is no part of a name stays unlinked.
	if _, err := NewDeterministic().Translate(context.Background(), Request{Question: "what is the average weight of all cars", Schema: car}); err == nil {
		t.Errorf("weight is no part of a name of cars, yet the question was answered")
	}
}

// The last words of a longer column name link to it: on an orchestra and
// a song table.
func TestNameTail(t *testing.T) {
	mk := func(tb *Table) *Schema {
		s := &Schema{Dialect: Postgres, Tables: []*Table{tb}}
		s.index()
		return s
	}
	orch := mk(&Table{Name: "orchestra", PrimaryKey: []string{"orchestra_id"}, Columns: []*Column{
		{Name: "orchestra_id", Type: "integer", Kind: KindInt}, {Name: "record_company", Type: "text", Kind: KindText},
		{Name: "major_record_format", Type: "text", Kind: KindText, Indexed: true, Values: []string{"CD", "DVD"}}}})
	songs := mk(&Table{Name: "song", PrimaryKey: []string{"song_id"}, Columns: []*Column{
		{Name: "song_id", Type: "integer", Kind: KindInt}, {Name: "title", Type: "text", Kind: KindText},
		{Name: "song_release_year", Type: "integer", Kind: KindInt}}})
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{orch, `Find the number of orchestras whose record format is "CD" or "DVD".`, `"orchestra"."major_record_format" IN ('CD', 'DVD')`},
		{songs, "What are the titles and release years of all songs?", `"song".*`},
	}
	for _, c := range cases {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
}
