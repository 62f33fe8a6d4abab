package nlp

import (
	"context"
	"strings"
	"testing"
)

// A demonym names the stored value (Brazilian: Brazil, French: France) when
// the word itself is no value: on a shop and a music schema.
func TestDemonymValue(t *testing.T) {
	music := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "singer", PrimaryKey: []string{"singer_id"}, Columns: []*Column{
		{Name: "singer_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "country", Type: "text", Kind: KindText, Indexed: true, Values: []string{"France", "Netherlands", "United States"}},
		{Name: "age", Type: "integer", Kind: KindInt}}}}}
	music.index()
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{shopSchema(Postgres), "How many Brazilian customers are there?", `'Brazil'`},
		{music, "What is the average age of all French singers?", `'France'`},
		{music, "List the names of the Dutch singers.", `'Netherlands'`},
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
	// A demonym of a value the schema does not store stays unknown.
	if _, err := NewDeterministic().Translate(context.Background(), Request{Question: "List the names of the Swedish singers.", Schema: music}); err == nil {
		t.Errorf("Swedish answered without Sweden stored")
	}
}

// A plural links to the stored value of its singular after a copula or
// beside a table: on a country table and a kennel.
func TestPluralValue(t *testing.T) {
	world := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "country", PrimaryKey: []string{"code"}, Columns: []*Column{
		{Name: "code", Type: "text", Kind: KindText}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "governmentform", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Republic", "Monarchy"}}}}}}
	world.index()
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{world, "How many countries are Republics?", `'Republic'`},
		{kennelSchema(Postgres), "How many pets are Dogs?", `'Dog'`},
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
