package nlp

import (
	"context"
	"strings"
	"testing"
)

// A year column answers periods where no date column does; the event verb
// picks the column sharing its stem: on a museum and an orchestra schema.
func TestYearColumn(t *testing.T) {
	museum := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "museum", PrimaryKey: []string{"museum_id"}, Columns: []*Column{
		{Name: "museum_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "open_year", Type: "integer", Kind: KindInt}}}}}
	museum.index()
	orch := &Schema{Dialect: MySQL, Tables: []*Table{
		{Name: "conductor", PrimaryKey: []string{"Conductor_ID"}, Columns: []*Column{
			{Name: "Conductor_ID", Type: "int", Kind: KindInt}, {Name: "Name", Type: "text", Kind: KindText},
			{Name: "Year_of_Work", Type: "int", Kind: KindInt}}},
		{Name: "orchestra", PrimaryKey: []string{"Orchestra_ID"}, Columns: []*Column{
			{Name: "Orchestra_ID", Type: "int", Kind: KindInt}, {Name: "Orchestra", Type: "text", Kind: KindText},
			{Name: "Conductor_ID", Type: "int", Kind: KindInt}, {Name: "Year_of_Founded", Type: "real", Kind: KindNumber}},
			ForeignKeys: []ForeignKey{{Columns: []string{"Conductor_ID"}, RefTable: "conductor", RefColumns: []string{"Conductor_ID"}}}},
	}}
	orch.index()
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{museum, "How many museums were opened after 2013 or before 2008?", `(("museum"."open_year" >= 2014) OR ("museum"."open_year" < 2008))`},
		{museum, "List the names of the museums opened in 2010.", `("museum"."open_year" = 2010)`},
		{orch, "How many orchestras were founded before 2003?", "(`orchestra`.`Year_of_Founded` < 2003)"},
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
	// A period under a negation stays declined.
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "How many museums were not opened after 2013?", Schema: museum}); err == nil && res.Confidence >= AnswerThreshold {
		t.Errorf("a negated period answered: %s", res.SQL)
	}
}
