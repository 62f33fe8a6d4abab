package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRewrittenTemplateMatchesFullAnalysis warms an engine with one text per
// template, then checks that texts differing only in literals get exactly
// the answer a fresh engine (no cache) gives them.
func TestRewrittenTemplateMatchesFullAnalysis(t *testing.T) {
	viewer, _ := BuiltinRole(RoleViewer)
	editor, _ := BuiltinRole(RoleEditor)
	filtered := Role{Name: "support", Access: AccessRead, MaxRows: 50,
		RowFilters: map[string]string{"tickets": "assignee = {{user}} OR priority > 3"}}
	db := &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha_db"}
	row := &Scope{Tenant: "shop_a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant_id",
		TenantValue: "a", TenantTables: []string{"orders", "customers"}}
	subjects := []Subject{
		{User: "u", Scope: db, Role: &viewer, Version: 1},
		{User: "u", Scope: row, Role: &editor, Version: 1},
		{User: "u", Scope: row, Role: &viewer, Version: 1},
		{User: "bob", Scope: db, Role: &filtered, Version: 1},
	}
	pgTexts := []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = %d",
		"SELECT * FROM orders WHERE id > %d AND note <> '%s'",
		"SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > %d.5 AND c.name = '%s'",
		"SELECT id FROM orders WHERE id = %d UNION SELECT id FROM customers WHERE name = '%s'",
		"UPDATE orders SET total = %d WHERE id = %d",
		"DELETE FROM orders WHERE note = '%s'",
		"SELECT * FROM tickets WHERE id = %d",
		"SELECT count(*) FROM orders WHERE total BETWEEN %d AND %d",
		"SELECT * FROM orders WHERE id IN (%d, %d, %d) ORDER BY id",
		"SELECT * FROM orders WHERE id = %d LIMIT 5",
		"SELECT * FROM orders WHERE id = %d LIMIT 500",
		"SELECT %d, '%s' FROM customers",
		"INSERT INTO orders (id, note) VALUES (%d, '%s')",
		"SELECT * FROM orders WHERE total = -%d",
	}
	myTexts := []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = %d",
		"SELECT * FROM orders WHERE id > %d AND note <> '%s'",
		"SELECT `o`.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.name = '%s'",
		"UPDATE orders SET total = %d WHERE id = %d",
		"SELECT * FROM orders WHERE id = %d LIMIT 500",
		"SELECT * FROM tickets WHERE id = %d",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(format string) string {
		var b strings.Builder
		for i := 0; i < len(format); i++ {
			if format[i] == '%' && i+1 < len(format) {
				switch format[i+1] {
				case 'd':
					b.WriteString(fmt.Sprint(rng.IntN(100000)))
				case 's':
					b.WriteString(fmt.Sprintf("w%d''q", rng.IntN(1000)))
				}
				i++
				continue
			}
			b.WriteByte(format[i])
		}
		return b.String()
	}
	hits := 0
	for _, d := range []Dialect{Postgres, MySQL} {
		texts := pgTexts
		if d == MySQL {
			texts = myTexts
		}
		for _, s := range subjects {
			warm := NewEngine(10000)
			for _, format := range texts {
				_, _ = warm.Check(s, d, fill(format))
				for i := 0; i < 8; i++ {
					text := fill(format)
					got, gerr := warm.Check(s, d, text)
					want, werr := NewEngine(0).Check(s, d, text)
					if (gerr == nil) != (werr == nil) {
						t.Fatalf("%s %s %q: cached err %v, fresh err %v", d, s.Role.Name, text, gerr, werr)
					}
					if gerr != nil {
						if gerr.Error() != werr.Error() {
							t.Fatalf("%s %q: cached %v, fresh %v", d, text, gerr, werr)
						}
						continue
					}
					if got.SQL != want.SQL || got.Capped != want.Capped || got.Rewritten != want.Rewritten {
						t.Fatalf("%s %s %q:\ncached %q\nfresh  %q", d, s.Role.Name, text, got.SQL, want.SQL)
					}
					if got.Rewritten {
						hits++
					}
				}
			}
			if st := warm.cache.len(); st == 0 {
				t.Fatal("nothing cached")
			}
		}
	}
	if hits == 0 {
		t.Fatal("no rewritten statement was checked")
	}
}

// TestRewrittenTemplateIsUsed checks that a capped statement with a new
// literal is answered from the template (no parse).
func TestRewrittenTemplateIsUsed(t *testing.T) {
	viewer, _ := BuiltinRole(RoleViewer)
	s := Subject{User: "u", Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "a"}, Role: &viewer, Version: 1}
	e := NewEngine(100)
	d1, err := e.Check(s, Postgres, "SELECT abalance FROM pgbench_accounts WHERE aid = 5")
	if err != nil || !d1.Capped {
		t.Fatalf("%v %+v", err, d1)
	}
	k := e.key(s, Postgres, "SELECT abalance FROM pgbench_accounts WHERE aid = 77")
	tk, _, _ := templateKey(Postgres, k.sql, k)
	r, ok := e.cache.get(tk)
	if !ok || r.out == nil {
		t.Fatal("no rewritten template stored")
	}
	d2, err := e.Check(s, Postgres, "SELECT abalance FROM pgbench_accounts WHERE aid = 77")
	if err != nil || d2.SQL != "SELECT abalance FROM pgbench_accounts WHERE aid = 77 LIMIT 101" || !d2.Capped {
		t.Fatalf("%v %q", err, d2.SQL)
	}
}
