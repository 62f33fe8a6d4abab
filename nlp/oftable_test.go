package nlp

import (
	"context"
	"strings"
	"testing"
)

// A comparison an adjective implies ("taller than 200") reads the column of
// the one row the answer's rows refer to when they have none: a player's
// person, an employee's person. Two references to it leave the reading open.
func TestImpliedColumnOfParent(t *testing.T) {
	people := func(d Dialect, name string, twice bool) *Schema {
		fks := []ForeignKey{{Columns: []string{"people_id"}, RefTable: "people", RefColumns: []string{"people_id"}}}
		cols := []*Column{{Name: name + "_id", Type: "integer", Kind: KindInt}, {Name: "people_id", Type: "integer", Kind: KindInt},
			{Name: "earnings", Type: "integer", Kind: KindInt}}
		if twice {
			cols = append(cols, &Column{Name: "coach_id", Type: "integer", Kind: KindInt})
			fks = append(fks, ForeignKey{Columns: []string{"coach_id"}, RefTable: "people", RefColumns: []string{"people_id"}})
		}
		s := &Schema{Dialect: d, Tables: []*Table{
			{Name: "people", PrimaryKey: []string{"people_id"}, Columns: []*Column{
				{Name: "people_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
				{Name: "height", Type: "integer", Kind: KindInt}}},
			{Name: name, PrimaryKey: []string{name + "_id"}, Columns: cols, ForeignKeys: fks},
		}}
		s.index()
		return s
	}
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{people(Postgres, "player", false), "Give the average earnings of players who are taller than 200.", `("people"."height" > 200.0)`},
		{people(MySQL, "employee", false), "How many employees are taller than 180?", "(`people`.`height` > 180.0)"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "How many players are taller than 200?", Schema: people(Postgres, "player", true)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}
