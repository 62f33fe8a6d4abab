package nlp

import (
	"context"
	"strings"
	"testing"
)

// clinicSchema is a small schema of its own: patients, the doctors who see
// them, and the visits that relate the two.
func clinicSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "patients", PrimaryKey: []string{"patient_id"}, Columns: []*Column{
			{Name: "patient_id", Type: "integer", Kind: KindInt}, {Name: "first_name", Type: "text", Kind: KindText},
			{Name: "last_name", Type: "text", Kind: KindText}, {Name: "age", Type: "integer", Kind: KindInt},
			{Name: "state", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Ohio", "Utah"}}}},
		{Name: "doctors", PrimaryKey: []string{"doctor_id"}, Columns: []*Column{
			{Name: "doctor_id", Type: "integer", Kind: KindInt}, {Name: "first_name", Type: "text", Kind: KindText},
			{Name: "last_name", Type: "text", Kind: KindText},
			{Name: "state", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Ohio", "Iowa"}}}},
		{Name: "visits", PrimaryKey: []string{"visit_id"}, Columns: []*Column{
			{Name: "visit_id", Type: "integer", Kind: KindInt}, {Name: "patient_id", Type: "integer", Kind: KindInt},
			{Name: "doctor_id", Type: "integer", Kind: KindInt}, {Name: "fee", Type: "numeric", Kind: KindNumber}},
			ForeignKeys: []ForeignKey{{Columns: []string{"patient_id"}, RefTable: "patients", RefColumns: []string{"patient_id"}},
				{Columns: []string{"doctor_id"}, RefTable: "doctors", RefColumns: []string{"doctor_id"}}}},
	}}
	s.index()
	return s
}

// A verb the schema does not name between the answer's table and a table
// that refers to it is EXISTS over the referring rows; a qualifier naming
// the table those rows point to is joined inside; on a clinic and a school.
func TestVerbExistence(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, c := range []struct {
			s        *Schema
			question string
			want     []string
		}{
			{clinicSchema(d), "How many patients went through any visits?", []string{"COUNT(", "WHERE EXISTS (SELECT 1 FROM " + q(d, "visits")}},
			{clinicSchema(d), "What is the average age of the patients who have gone through a visit?", []string{"AVG(", "WHERE EXISTS ("}},
			{clinicSchema(d), "Which doctors did not perform any visit on patients?", []string{"NOT EXISTS (SELECT 1 FROM " + q(d, "visits") + " JOIN " + q(d, "patients")}},
			{schoolSchema(d), "What are the names of the students who have completed an enrollment?", []string{"WHERE EXISTS (SELECT 1 FROM " + q(d, "enrollment")}},
			{schoolSchema(d), "List the names of the teachers who have ever supervised a course.", []string{"WHERE EXISTS (SELECT 1 FROM " + q(d, "course")}},
		} {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(res.SQL, w) {
					t.Errorf("%s %q: SQL %s lacks %s", d, c.question, res.SQL, w)
				}
			}
		}
	}
	// What the verb could carry beyond the relation is not dropped, and a
	// verb that names a column is no relation.
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{clinicSchema(Postgres), "Which patients went through a visit lasting an hour?"},
		{schoolSchema(Postgres), "Which students have graded an enrollment?"},
		{shopSchema(Postgres), "Which customers have limited orders?"},
	} {
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s}); err == nil {
			t.Errorf("%q: answered %s, want a decline", c.question, res.SQL)
		}
	}
}

func q(d Dialect, name string) string { return quoter(d)(name) }

// An "or" that opens a second clause is no disjunction the translator
// builds: declined, where "or" between values still reads as IN.
func TestClauseOr(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		ok       bool
	}{
		{clinicSchema(Postgres), "Which doctors live in Ohio or have more than 2 visits?", false},
		{schoolSchema(Postgres), "Which teachers are from Bolton or have more than 2 courses?", false},
		{clinicSchema(Postgres), "Which doctors live in Ohio or Iowa?", true},
		{schoolSchema(Postgres), "Which teachers are from Bolton or York?", true},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if c.ok && err != nil {
			t.Errorf("%q: %v", c.question, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%q: answered %s, want a decline", c.question, res.SQL)
		}
	}
}

// Counts per group through a LEFT JOIN lose confidence for the groups
// without rows, unless the query leaves them out: a HAVING no count of 0
// meets, or the one group with the highest count. "Fewer than" keeps them.
func TestEmptyGroupsExcluded(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		doubt    bool
	}{
		{clinicSchema(Postgres), "Which doctors have at least two visits?", false},
		{clinicSchema(Postgres), "What is the last name of the doctor with the most visits?", false},
		{schoolSchema(Postgres), "Show the names of teachers who teach more than one course.", false},
		{schoolSchema(Postgres), "Which teachers have fewer than 2 courses?", true},
		{clinicSchema(Postgres), "How many visits does each doctor have?", true},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, "LEFT JOIN") {
			t.Errorf("%q: SQL %s has no LEFT JOIN", c.question, res.SQL)
		}
		if got := strings.Contains(res.Explanation, "groups without rows"); got != c.doubt {
			t.Errorf("%q: doubt about empty groups %v, want %v (%s)", c.question, got, c.doubt, res.Explanation)
		}
	}
}

// "last" of a column's name is no date range counted back from today.
func TestLastNameNotRelative(t *testing.T) {
	res, err := NewDeterministic().Translate(context.Background(), Request{Question: "List the last names of the patients whose state is Ohio.", Schema: clinicSchema(Postgres)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Explanation, "counted back from today") {
		t.Errorf("doubt %s", res.Explanation)
	}
}

// A negated verb's object that the negated rows point to is joined inside
// the NOT EXISTS: on a shop and a clinic.
func TestNegatedObjectJoined(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{shopSchema(Postgres), "Which customers did not order any product?", `NOT EXISTS (SELECT 1 FROM "orders" JOIN "products"`},
		{clinicSchema(MySQL), "How many doctors did not perform any visit on patients?", "NOT EXISTS (SELECT 1 FROM `visits` JOIN `patients`"},
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

// A child's column compared with its average inside the EXISTS accounts
// for its word: on a shop and a clinic; an unknown column is declined.
func TestAverageInExists(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{shopSchema(Postgres), "Which customers have orders with a quantity below the average?", `("orders"."quantity" < (SELECT AVG("orders"."quantity") FROM "orders"))`},
		{clinicSchema(MySQL), "Which doctors have visits with a fee above the average?", "(`visits`.`fee` > (SELECT AVG(`visits`.`fee`) FROM `visits`))"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, "EXISTS (") || !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "Which customers have orders with a loyalty below the average?", Schema: shopSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}

// "<table> <verb>" after "who have" ends the clause: EXISTS, on a school
// and a clinic; what follows the verb beyond a particle is not dropped.
func TestTableThenVerb(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{schoolSchema(Postgres), "What are the titles of courses that have some students registered?", `WHERE EXISTS (SELECT 1 FROM "enrollment" JOIN "student"`},
		{clinicSchema(MySQL), "List the doctors who have patients registered.", "WHERE EXISTS (SELECT 1 FROM `visits` JOIN `patients`"},
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
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "List the doctors who have some patients registered twice.", Schema: clinicSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}

// A verb between a column and its own table ("the total fee charged in
// all visits") says only whose values they are: on a clinic and a school;
// a table that has no such column leaves the verb unaccounted.
func TestParticipleOfColumn(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{clinicSchema(Postgres), "What is the total fee charged in all visits?", `SUM("visits"."fee")`},
		{schoolSchema(MySQL), "What is the average grade given in all enrollments?", "AVG(`enrollment`.`grade`)"},
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
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What is the total fee charged in all doctors?", Schema: clinicSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}
