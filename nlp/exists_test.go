package nlp

import (
	"context"
	"strings"
	"testing"
)

// "who have <table>" is EXISTS over the rows that refer to the answer's
// row: on a school and a shop.
func TestExistence(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, c := range []struct {
			s        *Schema
			question string
		}{
			{schoolSchema(d), "What are the names of the teachers who have courses?"},
			{shopSchema(d), "Find the name and country of customers who have an order."},
		} {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, "WHERE EXISTS (") || strings.Contains(res.SQL, "NOT EXISTS") {
				t.Errorf("%s %q: SQL %s has no EXISTS", d, c.question, res.SQL)
			}
		}
	}
}

// A column compared inside an EXISTS accounts for its word: on a shop and
// a school.
func TestColumnComparedInExists(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{shopSchema(Postgres), "Which customers have orders with a quantity more than 5?", `("orders"."quantity" > 5.0)`},
		{schoolSchema(Postgres), "How many courses are taught by a teacher whose age is above 40?", `("teacher"."age" > 40.0)`},
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
