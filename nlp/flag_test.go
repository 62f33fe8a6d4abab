package nlp

import (
	"context"
	"strings"
	"testing"
)

func languageSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "country", PrimaryKey: []string{"code"}, Columns: []*Column{
			{Name: "code", Type: "text", Kind: KindText}, {Name: "name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Aruba", "Kenya"}}}},
		{Name: "countrylanguage", PrimaryKey: []string{"countrycode", "language"}, Columns: []*Column{
			{Name: "countrycode", Type: "text", Kind: KindText},
			{Name: "language", Type: "text", Kind: KindText, Indexed: true, Values: []string{"English", "Dutch", "Swahili"}},
			{Name: "IsOfficial", Type: "char(1)", Kind: KindText, Indexed: true, Values: []string{"T", "F"}}},
			ForeignKeys: []ForeignKey{{Columns: []string{"countrycode"}, RefTable: "country", RefColumns: []string{"code"}}}},
	}}
	s.index()
	return s
}

func shelterSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "dogs", PrimaryKey: []string{"dog_id"}, Columns: []*Column{
			{Name: "dog_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "abandoned_yn", Type: "integer", Kind: KindInt}, {Name: "weight", Type: "real", Kind: KindNumber}}},
	}}
	s.index()
	return s
}

// A flag column's adjective is the condition column = yes, joined to the
// other conditions on its table: on a language table and a dog shelter.
func TestFlagAdjective(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		q := func(n string) string {
			if d == MySQL {
				return "`" + n + "`"
			}
			return `"` + n + `"`
		}
		official := "(" + q("countrylanguage") + "." + q("IsOfficial") + " = 'T')"
		cases := []struct {
			s        *Schema
			question string
			want     []string
		}{
			{languageSchema(d), "How many official languages does Aruba have?", []string{official, "COUNT("}},
			{languageSchema(d), "Which countries have either English or Dutch as an official language?",
				[]string{"(" + q("countrylanguage") + "." + q("language") + " IN ('English', 'Dutch')) AND " + official}},
			{shelterSchema(d), "What is the average weight of the dogs that were abandoned?", []string{"(" + q("dogs") + "." + q("abandoned_yn") + " = 1)"}},
		}
		for _, c := range cases {
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
		// The official language as the answer is a column to show, not a
		// condition alone: the language rows of the country (childlist.go),
		// not the countries.
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What is the official language of the country named Kenya?", Schema: languageSchema(d)}); err == nil &&
			!strings.Contains(res.SQL, q("language")) && !strings.HasPrefix(res.SQL, "SELECT "+q("countrylanguage")+".*") {
			t.Errorf("%s: the official language answered without the language: %s", d, res.SQL)
		}
	}
}

// "<value> is not the <flag> <column>" is NOT EXISTS over the rows with
// both: on a language table and a club schema.
func TestNegatedFlag(t *testing.T) {
	club := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "member", PrimaryKey: []string{"member_id"}, Columns: []*Column{
			{Name: "member_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "membership", PrimaryKey: []string{"membership_id"}, Columns: []*Column{
			{Name: "membership_id", Type: "integer", Kind: KindInt}, {Name: "member_id", Type: "integer", Kind: KindInt},
			{Name: "sport", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Tennis", "Golf"}},
			{Name: "is_active", Type: "char(1)", Kind: KindText, Indexed: true, Values: []string{"Y", "N"}}},
			ForeignKeys: []ForeignKey{{Columns: []string{"member_id"}, RefTable: "member", RefColumns: []string{"member_id"}}}},
	}}
	club.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{languageSchema(Postgres), "What are the names of countries where English is not the official language?", `NOT EXISTS (`},
		{club, "Which members are there for whom Tennis is not the active sport?", `NOT EXISTS (`},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) || !strings.Contains(res.SQL, " AND (") {
			t.Errorf("%q: SQL %s", c.question, res.SQL)
		}
	}
}

// "either the <column> of X or the <column> of Y": the words between
// "either" and each value name its column: on a shop and a school.
func TestEitherWithColumn(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{shopSchema(Postgres), "Which customers are from either the country Brazil or the country Kenya?", `IN ('Brazil', 'Kenya')`},
		{schoolSchema(Postgres), "Which teachers have either the hometown Leeds or the hometown York?", `IN ('Leeds', 'York')`},
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

// On MariaDB a split flag name (Is Official) still reads as a condition in
// a count of different values, and a split abbreviation (L Name) as the
// last name: on a language table and a student table.
func TestSplitNamesOnMariaDB(t *testing.T) {
	students := &Schema{Dialect: MySQL, Tables: []*Table{{Name: "Student", PrimaryKey: []string{"StuID"}, Columns: []*Column{
		{Name: "StuID", Type: "int", Kind: KindInt}, {Name: "LName", Type: "varchar(12)", Kind: KindText, Indexed: true, Values: []string{"Smith", "Kim"}},
		{Name: "Fname", Type: "varchar(12)", Kind: KindText}, {Name: "Age", Type: "int", Kind: KindInt}}}}}
	students.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     []string
	}{
		{languageSchema(MySQL), "How many unique official languages are there?", []string{"COUNT(DISTINCT `countrylanguage`.`language`)", "`IsOfficial` = 'T'"}},
		{students, "What is the age of the student whose last name is 'Smith'?", []string{"`Student`.`LName` = 'Smith'"}},
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
}
