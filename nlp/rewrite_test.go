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
