package nlp

import (
	"context"
	"strings"
	"testing"
)

// A trailing "each" groups a count by what the question listed before it,
// on a shop and a school; "the names of the X and how many Y each has"
// groups by each X (its name and its key).
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
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What are the names of the teachers and how many courses does each have?", Schema: schoolSchema(d)}); err == nil && !strings.Contains(res.SQL, "GROUP BY "+q("teacher")+"."+q("name")+", "+q("teacher")+"."+q("teacher_id")) {
			t.Errorf("%s: not grouped by each teacher: %s", d, res.SQL)
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

// "each"/"every" before the listed table is each row, also when a person's
// full name is shown and when the table is grouped whole: on a clinic and
// a school.
func TestEachRowListing(t *testing.T) {
	clinic := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "professionals", PrimaryKey: []string{"professional_id"}, Columns: []*Column{
		{Name: "professional_id", Type: "integer", Kind: KindInt}, {Name: "first_name", Type: "text", Kind: KindText},
		{Name: "last_name", Type: "text", Kind: KindText}, {Name: "email_address", Type: "text", Kind: KindText}}}}}
	clinic.index()
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{clinic, "What is the email address of each professional?"},
		{schoolSchema(Postgres), "What are the names of every teacher with more than 1 course?"},
	} {
		if _, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s}); err != nil {
			t.Errorf("%q: %v", c.question, err)
		}
	}
}

// "how many <text column>" counts its different values, unless the
// column is what its table is named after: on a language table and a shop.
func TestCountedValues(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, c := range []struct {
			s        *Schema
			question string
			want     string
		}{
			{languageSchema(d), "How many languages are spoken in Aruba?", "COUNT(DISTINCT "},
			{shopSchema(d), "How many countries do the customers come from?", "COUNT(DISTINCT "},
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
	}
	states := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "area_code_state", PrimaryKey: []string{"area_code"}, Columns: []*Column{
		{Name: "area_code", Type: "integer", Kind: KindInt}, {Name: "state", Type: "text", Kind: KindText}}}}}
	states.index()
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "How many states are there?", Schema: states}); err == nil && strings.Contains(res.SQL, "DISTINCT") {
		t.Errorf("the rows of area_code_state counted as distinct states: %s", res.SQL)
	}
}

// "how many people" is the sum of the population of the table named: on a
// country and a city table.
func TestPeopleCount(t *testing.T) {
	mk := func(name string) *Schema {
		s := &Schema{Dialect: Postgres, Tables: []*Table{{Name: name, PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "district", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Gelderland", "Kabol"}},
			{Name: "population", Type: "integer", Kind: KindInt}}}}}
		s.index()
		return s
	}
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{mk("country"), "How many people live in countries of the district Gelderland?", `SUM("country"."population")`},
		{mk("city"), "How many people live in all cities?", `SUM("city"."population")`},
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
