package nlp

import (
	"context"
	"strings"
	"testing"
)

// A participle's other forms link to its column: "arriving date" and
// "arrival date" are date_arrived on a kennel, "shipping date" is
// date_shipped on a shop of shipments; a word of no form is declined.
func TestParticipleForms(t *testing.T) {
	kennel := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "dogs", PrimaryKey: []string{"dog_id"}, Columns: []*Column{
			{Name: "dog_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "date_arrived", Type: "timestamp", Kind: KindTime}, {Name: "date_departed", Type: "timestamp", Kind: KindTime}}},
	}}
	kennel.index()
	shipping := &Schema{Dialect: MySQL, Tables: []*Table{
		{Name: "shipments", PrimaryKey: []string{"shipment_id"}, Columns: []*Column{
			{Name: "shipment_id", Type: "int", Kind: KindInt}, {Name: "weight", Type: "int", Kind: KindInt},
			{Name: "date_shipped", Type: "datetime", Kind: KindTime}}},
	}}
	shipping.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     []string
	}{
		{kennel, "What are the arriving date and the departing date of all the dogs?", []string{`SELECT "dogs".* FROM "dogs"`}},
		{kennel, "List the arrival date and the departure date for all the dogs.", []string{`SELECT "dogs".* FROM "dogs"`}},
		{kennel, "What is the earliest arrival date of the dogs?", []string{`"dogs"."date_arrived"`}},
		{kennel, "Show the names of the dogs sorted by departure date.", []string{`ORDER BY "dogs"."date_departed"`}},
		{shipping, "Show the weight of the shipments ordered by shipping date.", []string{"ORDER BY `shipments`.`date_shipped`"}},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(res.SQL, w) {
				t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, w)
			}
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What is the arrangement date of the dogs?", Schema: kennel}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
	if got := participleForms("arrived"); !containsString(got, "arrival") || !containsString(got, "arriving") {
		t.Errorf("forms of arrived: %v", got)
	}
	if got := verbFormPhrases([]string{"created"}); !containsPhrase(got, "create time") || !containsPhrase(got, "creation date") {
		t.Errorf("phrases of created: %v", got)
	}
	if got := participleForms("speed"); got != nil {
		t.Errorf("forms of speed: %v", got)
	}
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// A display request after a question only picks the columns: no doubt of
// two questions; a request that asks for more keeps it.
func TestDisplayTail(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		doubt    bool
	}{
		{clinicSchema(Postgres), "Which doctors have at least two visits? List the doctor id and last name.", false},
		{schoolSchema(MySQL), "Which teacher is the oldest? Give me the teacher name.", false},
		{clinicSchema(Postgres), "Which doctors have at least two visits? List the number of visits.", true},
		{schoolSchema(Postgres), "Find the maximum age for each hometown. List the maximum age and hometown.", false},
		{schoolSchema(Postgres), "Find the maximum age for each hometown. List the minimum age and hometown.", true},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if got := strings.Contains(res.Explanation, "more than one thing"); got != c.doubt {
			t.Errorf("%q: doubt of two questions %v, want %v (%s)", c.question, got, c.doubt, res.Explanation)
		}
	}
}

func containsPhrase(ps [][]string, s string) bool {
	for _, p := range ps {
		if strings.Join(p, " ") == s {
			return true
		}
	}
	return false
}
