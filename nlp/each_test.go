package nlp

import (
	"context"
	"strings"
	"testing"
)

// A trailing "each" groups a count by what the question listed before it,
// on a shop and a school; "the names of the X and how many Y each has"
// stays declined (a group by the name would merge X's of one name).
func TestAnaphoricEach(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		q := func(n string) string {
			if d == MySQL {
				return "`" + n + "`"
			}
			return `"` + n + `"`
		}
		cases := []struct {
			s        *Schema
			question string
			want     string
		}{
			{shopSchema(d), "Show all product categories and the number of products for each.", "GROUP BY " + q("products") + "." + q("category")},
			{schoolSchema(d), "What are the different subjects, and how many courses correspond to each?", "GROUP BY " + q("course") + "." + q("subject")},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, c.want) {
				t.Errorf("%s %q: SQL %s lacks %s", d, c.question, res.SQL, c.want)
			}
		}
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What are the names of the teachers and how many courses does each have?", Schema: schoolSchema(d)}); err == nil && strings.Contains(res.SQL, "GROUP BY "+q("teacher")+"."+q("name")) {
			t.Errorf("%s: grouped by the name: %s", d, res.SQL)
		}
	}
}

// A count of the main table's own rows groups by the one column the
// question lists: on a school and a shop.
func TestGroupOwnRows(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		q := func(n string) string {
			if d == MySQL {
				return "`" + n + "`"
			}
			return `"` + n + `"`
		}
		cases := []struct {
			s        *Schema
			question string
			want     string
		}{
			{schoolSchema(d), "Show the hometowns shared by at least two teachers.", "GROUP BY " + q("teacher") + "." + q("hometown") + " HAVING"},
			{shopSchema(d), "Find the countries that have more than 3 customers.", "GROUP BY " + q("customers") + "." + q("country") + " HAVING"},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, c.want) {
				t.Errorf("%s %q: SQL %s lacks %s", d, c.question, res.SQL, c.want)
			}
		}
	}
}
