package nlp

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// A materialized view created WITH NO DATA cannot be read until it is
// refreshed (Pagila ships one): introspection leaves it out instead of
// failing on it, and keeps the populated ones. Two schemas, Postgres only
// (MariaDB has no materialized views).
func TestIntrospectUnpopulatedMatview(t *testing.T) {
	prefix := fmt.Sprintf("nlmatview_%d", os.Getpid())
	ctx := context.Background()
	cases := []struct {
		name, ddl           string
		rows                []string
		empty, full, base   string
		question, wantTable string
	}{
		{"shop", inferShopDDL, inferShopRows(),
			"CREATE MATERIALIZED VIEW vendor_totals AS SELECT v.name, count(*) AS n FROM items i JOIN vendors v ON v.vendor_id = i.vendor GROUP BY v.name WITH NO DATA",
			"CREATE MATERIALIZED VIEW vendor_names AS SELECT vendor_id, name FROM vendors",
			"vendors", "How many vendors are there?", "vendor_totals"},
		{"school", inferSchoolDDL, inferSchoolRows(),
			"CREATE MATERIALIZED VIEW class_sizes AS SELECT t.name, count(*) AS n FROM classes c JOIN teachers t ON t.teacher_id = c.teacherid GROUP BY t.name WITH NO DATA",
			"CREATE MATERIALIZED VIEW teacher_names AS SELECT teacher_id, name FROM teachers",
			"teachers", "How many teachers are there?", "class_sizes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts := append(splitDDL(c.ddl), c.rows...)
			stmts = append(stmts, c.empty, c.full)
			r := scratchDB(t, Postgres, prefix+"_"+c.name, stmts)
			s, err := Introspect(ctx, r, Postgres, RowScope{})
			if err != nil {
				t.Fatalf("introspect: %v", err)
			}
			has := map[string]bool{}
			for _, tb := range s.Tables {
				has[tb.Name] = true
			}
			if has[c.wantTable] {
				t.Errorf("the unpopulated materialized view %s is in the schema", c.wantTable)
			}
			full := map[string]string{"shop": "vendor_names", "school": "teacher_names"}[c.name]
			if !has[full] || !has[c.base] {
				t.Errorf("populated view %s or table %s missing: %v", full, c.base, has)
			}
			res, err := NewDeterministic().Translate(ctx, Request{Question: c.question, Schema: s})
			if err != nil {
				t.Fatalf("%q: %v", c.question, err)
			}
			rows, err := collect(ctx, r, res.SQL)
			if err != nil || len(rows) != 1 {
				t.Fatalf("%q: %s: %v %v", c.question, res.SQL, rows, err)
			}
		})
	}
}
