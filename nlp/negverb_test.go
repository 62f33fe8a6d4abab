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
