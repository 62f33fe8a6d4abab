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

// "in both 2014 and 2015" is one EXISTS per year: on a concert and a
// school schema.
func TestBothYears(t *testing.T) {
	concerts := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "stadium", PrimaryKey: []string{"stadium_id"}, Columns: []*Column{
			{Name: "stadium_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "concert", PrimaryKey: []string{"concert_id"}, Columns: []*Column{
			{Name: "concert_id", Type: "integer", Kind: KindInt}, {Name: "stadium_id", Type: "integer", Kind: KindInt},
			{Name: "year", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"stadium_id"}, RefTable: "stadium", RefColumns: []string{"stadium_id"}}}},
	}}
	concerts.index()
	classes := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "teacher", PrimaryKey: []string{"teacher_id"}, Columns: []*Column{
			{Name: "teacher_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "class", PrimaryKey: []string{"class_id"}, Columns: []*Column{
			{Name: "class_id", Type: "integer", Kind: KindInt}, {Name: "teacher_id", Type: "integer", Kind: KindInt},
			{Name: "class_year", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"teacher_id"}, RefTable: "teacher", RefColumns: []string{"teacher_id"}}}},
	}}
	classes.index()
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{concerts, "What are the names of the stadiums that had concerts in both 2014 and 2015?"},
		{classes, "Which teachers had classes in both 2019 and 2020?"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if strings.Count(res.SQL, "EXISTS (") != 2 {
			t.Errorf("%q: SQL %s is not one EXISTS per year", c.question, res.SQL)
		}
	}
}
