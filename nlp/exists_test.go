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
