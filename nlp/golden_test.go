package nlp

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// Two schemas of different domains, in memory (no database): a shop and a
// school. Every construct's golden questions are asked of both.
func shopSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "customers", PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "country", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Brazil", "Germany", "Kenya"}},
			{Name: "created_at", Type: "timestamp", Kind: KindTime}}},
		{Name: "products", PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "price", Type: "numeric(10,2)", Kind: KindNumber},
			{Name: "category", Type: "text", Kind: KindText, Indexed: true, Values: []string{"books", "games", "tools"}}}},
		{Name: "orders", PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "customer_id", Type: "integer", Kind: KindInt},
			{Name: "product_id", Type: "integer", Kind: KindInt}, {Name: "quantity", Type: "integer", Kind: KindInt},
			{Name: "ordered_at", Type: "timestamp", Kind: KindTime}},
			ForeignKeys: []ForeignKey{{Columns: []string{"customer_id"}, RefTable: "customers", RefColumns: []string{"id"}},
				{Columns: []string{"product_id"}, RefTable: "products", RefColumns: []string{"id"}}}},
	}}
	s.index()
	return s
}

func schoolSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "teacher", PrimaryKey: []string{"teacher_id"}, Columns: []*Column{
			{Name: "teacher_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "varchar(40)", Kind: KindText},
			{Name: "age", Type: "integer", Kind: KindInt},
			{Name: "hometown", Type: "varchar(40)", Kind: KindText, Indexed: true, Values: []string{"Bolton", "Leeds", "York"}}}},
		{Name: "course", PrimaryKey: []string{"course_id"}, Columns: []*Column{
			{Name: "course_id", Type: "integer", Kind: KindInt}, {Name: "title", Type: "varchar(40)", Kind: KindText},
			{Name: "credits", Type: "integer", Kind: KindInt}, {Name: "teacher_id", Type: "integer", Kind: KindInt},
			{Name: "subject", Type: "varchar(20)", Kind: KindText, Indexed: true, Values: []string{"Math", "History", "Art"}}},
			ForeignKeys: []ForeignKey{{Columns: []string{"teacher_id"}, RefTable: "teacher", RefColumns: []string{"teacher_id"}}}},
		{Name: "student", PrimaryKey: []string{"student_id"}, Columns: []*Column{
			{Name: "student_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "varchar(40)", Kind: KindText},
			{Name: "age", Type: "integer", Kind: KindInt}, {Name: "enrolled_on", Type: "date", Kind: KindDate}}},
		{Name: "enrollment", PrimaryKey: []string{"student_id", "course_id"}, Columns: []*Column{
			{Name: "student_id", Type: "integer", Kind: KindInt}, {Name: "course_id", Type: "integer", Kind: KindInt},
			{Name: "grade", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"student_id"}, RefTable: "student", RefColumns: []string{"student_id"}},
				{Columns: []string{"course_id"}, RefTable: "course", RefColumns: []string{"course_id"}}}},
	}}
	s.index()
	return s
}

// goldenQuestions are, per schema, questions of each construct the
// translator answers — or must decline.
var goldenQuestions = map[string][]string{
	"shop": {
		"list all customers",                                  // listing
		"customers from Brazil",                               // value
		"customers from Brazil or Kenya",                      // IN
		"customers not from Brazil",                           // negated value
		"how many customers are there",                        // count
		"how many customers per country",                      // group
		"how many orders per customer country",                // group through a join
		"total quantity ordered per product category",         // sum through a join
		"total revenue per product category",                  // price × line quantity
		"top 5 products by price",                             // top-N on a column
		"most expensive product",                              // superlative on rows
		"cheapest product",                                    // superlative on rows
		"which customers have the most orders",                // top by a count
		"customers who never ordered",                         // anti-join
		"customers with more than 3 orders",                   // HAVING
		"how many different countries do customers come from", // count distinct
		"products with a price above the average price",       // nested comparison
		"products with a price between 10 and 20",             // range
		"how many orders in 2024",                             // date range
		"list the products in the books category",             // lower-case value
		"customers who bought both books and games",           // both: declined
		"customers with a loyalty score above 3",              // unknown word: declined
		"customers sorted by name",                            // ordering
		"average price per category",                          // group by a column
		"the most common country of customers",                // mode of a column
		"average price across all products",                   // a function word
		"what percentage of customers are from Brazil",        // ratio with NULLIF
		"the share of orders with a quantity above 3",         // ratio
	},
	"school": {
		"list all teachers",
		"teachers from Bolton",
		"teachers from Bolton or York",
		"teachers whose hometown is not Bolton",
		"how many students are there",
		"how many teachers per hometown",
		"how many courses per teacher hometown",
		"total credits per teacher hometown",
		"top 3 courses by credits",
		"the oldest teacher",
		"the youngest student",
		"which teachers have the most courses",
		"teachers who teach no course",
		"students with more than 2 enrollments",
		"how many different subjects are there",
		"students older than the average age",
		"courses with credits between 2 and 4",
		"how many students enrolled in 2023",
		"courses in the math subject",
		"students who take both Math and Art courses",
		"students with a scholarship",
		"teachers sorted by age",
		"average age of teachers per hometown",
		"names of teachers above age 40",
		"students older than 20",
		"how many students have a greater age than 20",
		"teachers whose average age is over 40 per hometown",
		"what is the most common hometown of teachers",
		"the most taught course",
		"courses with credits of either 2 or 4",
		"what percentage of teachers are from Leeds",
		"percentage of students who take no course",
	},
}

// TestGoldenTranslate pins each stage's output for the golden questions on
// both schemas and dialects: the linked mentions (link stage) and the SQL
// or the refusal with its unaccounted words (render and verify stages).
// go test ./nlp -run TestGoldenTranslate -update rewrites testdata/.
func TestGoldenTranslate(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	schemas := []string{"shop", "school"}
	sort.Strings(schemas)
	for _, stage := range []string{"link", "sql"} {
		var b strings.Builder
		for _, name := range schemas {
			for _, d := range []Dialect{Postgres, MySQL} {
				s := map[string]func(Dialect) *Schema{"shop": shopSchema, "school": schoolSchema}[name](d)
				for _, q := range goldenQuestions[name] {
					fmt.Fprintf(&b, "## %s %s: %s\n", name, d, q)
					if stage == "link" {
						b.WriteString(linkDump(s, q))
						continue
					}
					res, err := NewDeterministic().Translate(context.Background(), Request{Question: q, Schema: s, Now: now})
					if err != nil {
						fmt.Fprintf(&b, "declined: %v\n", err)
						continue
					}
					fmt.Fprintf(&b, "%.2f %s\n", res.Confidence, res.SQL)
				}
			}
		}
		path := filepath.Join("testdata", stage+".golden")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if got := b.String(); got != string(want) {
			gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
			for i := 0; i < len(gl) && i < len(wl); i++ {
				if gl[i] != wl[i] {
					t.Fatalf("%s: line %d:\n got  %s\n want %s", path, i+1, gl[i], wl[i])
				}
			}
			t.Fatalf("%s: %d lines, want %d", path, len(gl), len(wl))
		}
	}
}

// linkDump is the link stage's view of a question: one line per mention.
func linkDump(s *Schema, q string) string {
	p := &parser{s: s, lx: buildLexicon(s, nil), r: newRenderer(s.Dialect), now: time.Now()}
	p.toks = tokenize(q)
	p.link()
	var b strings.Builder
	for _, m := range p.ms {
		var ls []string
		for _, l := range m.links {
			n := l.table.Name
			if l.col != nil {
				n += "." + l.col.Name
			}
			ls = append(ls, fmt.Sprintf("%s(%.1f)", n, l.score))
		}
		for _, v := range m.vals {
			ls = append(ls, v.table.Name+"."+v.col.Name+"="+v.value)
		}
		kind := map[mkind]string{mTable: "table", mColumn: "column", mValue: "value"}[m.kind]
		fmt.Fprintf(&b, "  %s %q -> %s\n", kind, joinRaw(p.toks[m.start:m.end]), strings.Join(ls, " "))
	}
	return b.String()
}

// TestTranslateNeverPanics asks every prefix and suffix of every golden
// question (sentences cut anywhere) of both schemas: each is answered or
// declined; a panic caught by Translate's safety net fails the test too.
func TestTranslateNeverPanics(t *testing.T) {
	for name, qs := range goldenQuestions {
		for _, d := range []Dialect{Postgres, MySQL} {
			s := map[string]func(Dialect) *Schema{"shop": shopSchema, "school": schoolSchema}[name](d)
			for _, q := range qs {
				w := strings.Fields(q)
				for k := 1; k <= len(w); k++ {
					for _, part := range []string{strings.Join(w[:k], " "), strings.Join(w[len(w)-k:], " ")} {
						_, err := NewDeterministic().Translate(context.Background(), Request{Question: part, Schema: s})
						if err != nil && strings.Contains(err.Error(), "could not be interpreted") {
							t.Errorf("%s %s %q: %v", name, d, part, err)
						}
					}
				}
			}
		}
	}
}
