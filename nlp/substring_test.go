package nlp

import (
	"context"
	"strings"
	"testing"
)

// A quoted part of a text column after "contains"/"substring"/"word" is a
// LIKE on the column named before it (or after "in its"): on a shop and a
// school. A string with a LIKE wildcard stays declined.
func TestSubstringFilter(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, c := range []struct {
			s        *Schema
			question string
			want     string
		}{
			{shopSchema(d), "Which customers have a name containing the substring 'an'?", "LIKE '%an%'"},
			{schoolSchema(d), "List the courses with the word 'Intro' in their title.", "LIKE '%Intro%'"},
		} {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, c.want) {
				t.Errorf("%s %q: SQL %s lacks %s", d, c.question, res.SQL, c.want)
			}
		}
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "Which customers have a name containing '50%'?", Schema: shopSchema(d)}); err == nil {
			t.Errorf("%s: a wildcard in the substring answered: %s", d, res.SQL)
		}
	}
}
