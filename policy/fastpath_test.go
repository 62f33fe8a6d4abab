package policy

import (
	"strings"
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

func TestTemplateOf(t *testing.T) {
	for _, c := range []struct {
		d    Dialect
		in   string
		want string // "" = no fast path
	}{
		{Postgres, "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;", "SELECT abalance FROM pgbench_accounts WHERE aid = \x01n;"},
		{Postgres, "SELECT * FROM t1 WHERE name = 'it''s' AND x = 1.5e3", "SELECT * FROM t1 WHERE name = \x01s AND x = \x01n"},
		{Postgres, `SELECT "col1" FROM t WHERE a = 1`, "SELECT \"col1\" FROM t WHERE a = \x01n"},
		{Postgres, "SELECT 1 -- c", ""},
		{Postgres, "SELECT /* c */ 1", ""},
		{Postgres, "SELECT E'\\x'", ""},
		{Postgres, "SELECT $1", ""},
		{Postgres, "SELECT $$x$$", ""},
		{Postgres, "SELECT 'a", ""},
		{Postgres, "SELECT 0x1F", ""},
		{Postgres, "SELECT 1_000", ""},
		{Postgres, "SELECT x'41'", ""},
		{Postgres, "SELECT 'é'", ""},
		{Postgres, "SELECT a FROM t", ""},
		{MySQL, `SELECT "x"`, ""},
		{MySQL, "SELECT _utf8'x'", ""},
		{MySQL, "SELECT 'a\\'", ""},
		{MySQL, "SELECT 1 # c", ""},
		{MySQL, "SELECT * FROM t WHERE id = ?", ""},
		{MySQL, "SELECT c FROM `t1` WHERE id = 42", "SELECT c FROM `t1` WHERE id = \x01n"},
	} {
		got, ok := templateOf(c.d, c.in)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("templateOf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFastPathAdversarial builds pairs of texts with the same template where
// the first is allowed unchanged and the second must still be refused or
// rewritten: the template cache must never answer for the second.
func TestFastPathAdversarial(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	viewer, _ := BuiltinRole(RoleViewer)
	viewer.MaskedColumns = []string{"customer.email"}
	schema := &Scope{Tenant: "alpha", Isolation: IsolationSchema, Database: "shared", Schema: "alpha"}
	db := &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha_db"}
	row := &Scope{Tenant: "a", Isolation: IsolationRow, TenantColumn: "tenant_id", TenantTables: []string{"orders"}}
	editor, _ := BuiltinRole(RoleEditor)
	analyst, _ := BuiltinRole(RoleAnalyst)
	cases := []struct {
		name        string
		d           Dialect
		s           Subject
		first, then string
	}{
		{"nextval schema", Postgres, Subject{Scope: schema, Role: &analyst}, "SELECT nextval('alpha.s')", "SELECT nextval('beta.s')"},
		{"regclass", Postgres, Subject{Scope: schema, Role: &analyst}, "SELECT 'alpha.t'::regclass", "SELECT 'beta.t'::regclass"},
		{"set_config", Postgres, Subject{Scope: db, Role: &admin}, "SELECT set_config('work_mem', '1MB', false)", "SELECT set_config('role', '1MB', false)"},
		{"limit", Postgres, Subject{Scope: db, Role: &viewer}, "SELECT * FROM t LIMIT 5", "SELECT * FROM t LIMIT 5000"},
		{"limit my", MySQL, Subject{Scope: db, Role: &viewer}, "SELECT * FROM t LIMIT 5", "SELECT * FROM t LIMIT 5000"},
		{"order by position", Postgres, Subject{Scope: db, Role: &viewer}, "SELECT email, id FROM customer ORDER BY 2 LIMIT 1", "SELECT email, id FROM customer ORDER BY 1 LIMIT 1"},
		{"insert tenant", Postgres, Subject{Scope: row, Role: &editor}, "INSERT INTO orders (id, tenant_id) VALUES (1, 'a')", "INSERT INTO orders (id, tenant_id) VALUES (1, 'b')"},
		{"explain analyze", Postgres, Subject{Scope: db, Role: &analyst}, "EXPLAIN (ANALYZE 0) DELETE FROM t", "EXPLAIN (ANALYZE 1) DELETE FROM t"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEngine(100)
			want, wantErr := NewEngine(100).Check(c.s, c.d, c.then)
			_, _ = e.Check(c.s, c.d, c.first)
			got, gotErr := e.Check(c.s, c.d, c.then)
			if describe(got, gotErr) != describe(want, wantErr) {
				t.Fatalf("template cache changed the answer for %q:\nfresh: %s\nafter %q: %s", c.then, describe(want, wantErr), c.first, describe(got, gotErr))
			}
			if wantErr == nil && !want.Rewritten {
				t.Fatalf("case is not adversarial: %q allowed unchanged", c.then)
			}
		})
	}
}

// TestFastPathHits checks that the fast path is used (and correct) for
// pgbench-style traffic.
func TestFastPathHits(t *testing.T) {
	analyst, _ := BuiltinRole(RoleAnalyst)
	s := Subject{Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase}, Role: &analyst}
	e := NewEngine(100)
	for i, q := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 2",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 3",
	} {
		d, err := e.Check(s, Postgres, q)
		if err != nil || d.SQL != q || d.Rewritten {
			t.Fatalf("%d: %v %+v", i, err, d)
		}
	}
	// 3 exact entries would mean no template reuse; with reuse the
	// 2nd and 3rd texts are answered by the template entry.
	if n := e.cache.len(); n != 2 {
		t.Fatalf("cache entries = %d, want 2 (first text + template)", n)
	}
	if _, err := e.Check(s, Postgres, "SELECT pg_sleep(1)"); !sqlerr.Is(err, sqlerr.Permission) {
		t.Fatal(err)
	}
	if !strings.Contains(describe(e.Check(s, Postgres, "SELECT abalance FROM pgbench_accounts WHERE aid = 99")), "aid = 99") {
		t.Fatal("output must be the input text")
	}
}
