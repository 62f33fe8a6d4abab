package nlp

import (
	"context"
	"strings"
	"testing"
)

// A negation passes over one verb to a value of a table with many rows per
// answer row: NOT EXISTS, on a school and a shop. A verb before a value of
// the answer's own table is declined (the verb relates another table).
func TestNegatedVerbValue(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		cases := []struct {
			s        *Schema
			question string
		}{
			{schoolSchema(d), "What are the names of teachers who do not teach Math?"},
			{shopSchema(d), "Which customers do not buy 'books'?"},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, "NOT EXISTS (") {
				t.Errorf("%s %q: SQL %s has no NOT EXISTS", d, c.question, res.SQL)
			}
		}
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "Which customers do not visit Brazil?", Schema: shopSchema(d)}); err == nil {
			t.Errorf("%s: a verb before a value of the answer's table answered: %s", d, res.SQL)
		}
	}
}

func TestTypesetQuotation(t *testing.T) {
	toks := tokenize("teachers whose hometown is not `` Little Lever Urban District '' .")
	found := false
	for _, tk := range toks {
		if tk.quoted && tk.raw == "Little Lever Urban District" {
			found = true
		}
		if strings.Contains(tk.raw, "`") {
			t.Errorf("token %q keeps a backquote", tk.raw)
		}
	}
	if !found {
		t.Errorf("no quoted token in %+v", toks)
	}
}

// A verb whose stem begins the name of a table the query joins is
// accounted for: on an orchestra and a theatre schema.
func TestVerbOfReadTable(t *testing.T) {
	orch := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "conductor", PrimaryKey: []string{"conductor_id"}, Columns: []*Column{
			{Name: "conductor_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "orchestra", PrimaryKey: []string{"orchestra_id"}, Columns: []*Column{
			{Name: "orchestra_id", Type: "integer", Kind: KindInt}, {Name: "orchestra", Type: "text", Kind: KindText},
			{Name: "conductor_id", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"conductor_id"}, RefTable: "conductor", RefColumns: []string{"conductor_id"}}}},
	}}
	orch.index()
	theatre := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "actor", PrimaryKey: []string{"actor_id"}, Columns: []*Column{
			{Name: "actor_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "performance", PrimaryKey: []string{"performance_id"}, Columns: []*Column{
			{Name: "performance_id", Type: "integer", Kind: KindInt}, {Name: "actor_id", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"actor_id"}, RefTable: "actor", RefColumns: []string{"actor_id"}}}},
	}}
	theatre.index()
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{orch, "Show the names of conductors that have conducted more than one orchestra."},
		{theatre, "Which actors have performed at least 2 performances?"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, "JOIN") || !strings.Contains(res.SQL, "HAVING") {
			t.Errorf("%q: SQL %s", c.question, res.SQL)
		}
	}
}

// A verb that only relates rows is accounted for by the join: on a shop
// and a school.
func TestGenericRelationVerb(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{shopSchema(Postgres), "Which customers have received more than 2 orders?"},
		{schoolSchema(Postgres), "Which teachers have given more than 1 course?"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, "JOIN") {
			t.Errorf("%q: SQL %s", c.question, res.SQL)
		}
	}
}

// "the number of X using it" after "each Y": the verb relates the counted
// rows to the group: on a shop and a school.
func TestVerbOfGroup(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{shopSchema(Postgres), "List each country and the number of customers living there."},
		{schoolSchema(Postgres), "For each subject, list the number of courses that use it."},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, "GROUP BY") {
			t.Errorf("%q: SQL %s", c.question, res.SQL)
		}
	}
}
