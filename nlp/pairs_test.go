package nlp

import (
	"context"
	"strings"
	"testing"
)

// A listing of columns of a table and of the rows that refer to it lists
// the pairs, from the referring rows; on a clinic and a garage. A table
// reached only through a link table is not read so, and is declined.
func TestPairListing(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, c := range []struct {
			s        *Schema
			question string
			want     string
		}{
			{clinicSchema(d), "List each patient's first name and the fee of their visits.", "FROM " + q(d, "visits") + " JOIN " + q(d, "patients")},
			{clinicSchema(d), "Find the last names of patients living in Utah and the fees of the visits they had.", "FROM " + q(d, "visits") + " JOIN " + q(d, "patients")},
			{garageSchema(d), "List pairs of the owner's name and the vehicle's kind.", "FROM " + q(d, "vehicles") + " JOIN " + q(d, "owners")},
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
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{petsSchema(Postgres), "List each student's first name and the pet's age."},
		{garageSchema(Postgres), "List the owner's name and the number of vehicles of each owner and their kind."},
	} {
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s}); err == nil && strings.Contains(res.SQL, "FROM "+q(Postgres, "vehicles")) {
			t.Errorf("%q: answered %s as pairs", c.question, res.SQL)
		} else if err == nil && c.s.Table("pets") != nil {
			t.Errorf("%q: answered %s, want a decline", c.question, res.SQL)
		}
	}
}

// "the <table> they have <verb>" is the rows the main rows relate to,
// listed as pairs: on a school and a clinic.
func TestPairsTheyVerb(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{schoolSchema(Postgres), "Show the names of teachers and the courses they have taught.", `FROM "course" JOIN "teacher"`},
		{clinicSchema(MySQL), "List the last names of doctors and the visits they handled.", "FROM `visits` JOIN `doctors`"},
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
