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
		// condition alone: declined rather than listing countries.
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What is the official language of the country named Kenya?", Schema: languageSchema(d)}); err == nil && !strings.Contains(res.SQL, q("language")) {
			t.Errorf("%s: the official language answered without the language: %s", d, res.SQL)
		}
	}
}
