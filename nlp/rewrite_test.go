package nlp

import (
	"context"
	"strings"
	"testing"
)

// "N or more" and "N or fewer" are the counts "at least N" and "at most N",
// on a school and a shop.
func TestPostfixComparison(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		cases := []struct {
			s        *Schema
			question string
			want     string
		}{
			{schoolSchema(d), "What are the names of teachers with 2 or more courses?", ">= 2"},
			{shopSchema(d), "Which customers have 3 or fewer orders?", "<= 3"},
			{shopSchema(d), "Which customers have more than a single order?", "> 1"},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, "HAVING") || !strings.Contains(res.SQL, c.want) {
				t.Errorf("%s %q: SQL %s lacks HAVING … %s", d, c.question, res.SQL, c.want)
			}
		}
	}
}

// "live in", "come from" say no more than "in", "from": on a school and a
// shop.
func TestLiveInComeFrom(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{schoolSchema(Postgres), "Which teachers live in York?", `'York'`},
		{shopSchema(Postgres), "Which customers come from Kenya?", `'Kenya'`},
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
}

// "the greatest number of" ranks like "the most number of", and a group
// by a table's name column is a group by its rows: on a school and a shop.
func TestGreatestNumberOf(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{schoolSchema(Postgres), "What is the name of the teacher with the greatest number of courses?", "DESC LIMIT 1"},
		{shopSchema(Postgres), "Which customer has the largest number of orders?", "DESC LIMIT 1"},
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
	s := schoolSchema(Postgres)
	if k := labelKey(s.Table("teacher"), s.Table("teacher").Column("name")); k == nil || k.Name != "teacher_id" {
		t.Errorf("the key of a teacher's name: %v", k)
	}
	if k := labelKey(s.Table("teacher"), s.Table("teacher").Column("hometown")); k != nil {
		t.Errorf("a hometown names no teacher, got key %v", k)
	}
}

// "at this moment" says "currently": on a shop and a school; a moment of
// something else is no such word.
func TestAtThisMoment(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{shopSchema(Postgres), "How many customers do not have any orders at this moment?"},
		{schoolSchema(MySQL), "Which teachers have no courses at the moment?"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, "NOT EXISTS") {
			t.Errorf("%q: SQL %s", c.question, res.SQL)
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "Which teachers have no courses at the moment of enrollment?", Schema: schoolSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}

// A closing "as well" says "also": on a shop and a school.
func TestAsWell(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{shopSchema(Postgres), "Find the number of orders for each customer; show the customer name as well."},
		{schoolSchema(MySQL), "Count the courses of each teacher, and show the teacher name as well."},
	} {
		if _, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s}); err != nil {
			t.Errorf("%q: %v", c.question, err)
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "Count the courses of each teacher as well as their students.", Schema: schoolSchema(Postgres)}); err == nil && !strings.Contains(res.SQL, "student") {
		t.Errorf("answered %s without the students", res.SQL)
	}
}

// "after the year 2008" is "after 2008"; "among" is a function word: on a
// school and a shop.
func TestTheYearAndAmong(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{schoolSchema(Postgres), "How many students enrolled after the year 2020?", `"student"."enrolled_on" >= '2021-01-01'`},
		{shopSchema(Postgres), "What is the maximum price among products in the books category?", `MAX("products"."price")`},
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
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "How many students enrolled after the year of the flood?", Schema: schoolSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}
