package policy

import (
	"strings"
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// TestPGSharedConnectionState: statements that reach other clients' state
// on a shared backend connection are refused for every role: the proxy's
// own statement names, DEALLOCATE ALL, and the views of prepared
// statements and cursors.
func TestPGSharedConnectionState(t *testing.T) {
	for _, rn := range []string{RoleViewer, RoleAnalyst, RoleEditor, RoleAdmin} {
		r, _ := BuiltinRole(rn)
		for _, sc := range []*Scope{
			{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"},
			{Tenant: "shop_a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant_id", TenantValue: "a"},
		} {
			s := Subject{User: "u", Scope: sc, Role: &r}
			for _, q := range []string{
				"EXECUTE tp_0123456789abcdef",
				"EXECUTE TP_0123456789abcdef(1, 2)",
				`EXECUTE "tp_x"`,
				"DEALLOCATE tp_0123456789abcdef",
				"DEALLOCATE PREPARE tp_x",
				"DEALLOCATE ALL",
				"DEALLOCATE PREPARE ALL",
				"PREPARE tp_mine AS SELECT 1",
				"SELECT name, statement FROM pg_prepared_statements",
				"SELECT * FROM pg_catalog.pg_prepared_statements",
				"SELECT * FROM pg_prepared_statement()",
				"SELECT statement FROM pg_cursors",
				"SELECT * FROM pg_cursor()",
				"WITH p AS (SELECT * FROM pg_prepared_statements) SELECT count(*) FROM p",
			} {
				_, err := NewEngine(0).Check(s, Postgres, q)
				e := sqlerr.As(err)
				if e == nil || (e.Kind != sqlerr.Permission && e.Kind != sqlerr.Unsupported && e.Kind != sqlerr.Privilege) {
					t.Errorf("%s (%s, %s): %v, want refused", q, sc.Isolation, rn, err)
				}
			}
		}
	}
	// A client's own SQL-level statements keep working for a role that may run them.
	admin, _ := BuiltinRole(RoleAdmin)
	s := Subject{User: "u", Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"}, Role: &admin}
	for _, q := range []string{"PREPARE mine AS SELECT 1", "EXECUTE mine", "DEALLOCATE mine", "DEALLOCATE PREPARE mine"} {
		if _, err := NewEngine(0).Check(s, Postgres, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// TestPGSessionExpressions: SET takes no sub-query or other expression on
// Postgres (the grammar has none), so nothing in a session statement goes
// unanalysed; the proxy refuses such texts as syntax errors.
func TestPGSessionExpressions(t *testing.T) {
	viewer, _ := BuiltinRole(RoleViewer)
	s := Subject{User: "u", Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"}, Role: &viewer}
	for _, q := range []string{
		"SET work_mem = (SELECT setting FROM pg_settings LIMIT 1)",
		"SET application_name = (SELECT email FROM items LIMIT 1)",
		"SET search_path = (SELECT 'other')",
		"SET LOCAL statement_timeout = 1 + 1",
		"SET x.y = lower('A')",
		"SET SESSION AUTHORIZATION (SELECT 'postgres')",
		"RESET (SELECT 1)",
		"SHOW (SELECT 1)",
	} {
		_, err := NewEngine(0).Check(s, Postgres, q)
		if !sqlerr.Is(err, sqlerr.Syntax) && !sqlerr.Is(err, sqlerr.Permission) {
			t.Errorf("%s: %v, want refused", q, err)
		}
	}
}

// TestPGAtAtTenant: SELECT @@tenant is answered like SHOW tenant.
func TestPGAtAtTenant(t *testing.T) {
	viewer, _ := BuiltinRole(RoleViewer)
	s := Subject{User: "u", Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"}, Role: &viewer}
	for q, want := range map[string]string{
		"SELECT @@tenant":            "tenant",
		"select @@TENANT":            "tenant",
		"SELECT @@tenant AS t":       "tenant",
		"SELECT @@tenant FROM x":     "",
		"SELECT @@tenant, 1":         "",
		"SELECT 'a' @@ 'b'::tsquery": "",
	} {
		dec, err := NewEngine(0).Check(s, Postgres, q)
		if err != nil {
			if want != "" {
				t.Errorf("%s: %v", q, err)
			}
			continue
		}
		if got := dec.Stmts[0].ShowVar; got != want {
			t.Errorf("%s: ShowVar %q, want %q", q, got, want)
		}
	}
}

// TestPGSubscriptionsEmpty: pg_subscription (connection strings) reads as
// empty for every role; large objects are a database tenant's own.
func TestPGSubscriptionsEmpty(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	for _, sc := range []*Scope{
		{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"},
		{Tenant: "alpha", Isolation: IsolationSchema, Database: "shared", Schema: "alpha"},
	} {
		s := Subject{User: "u", Scope: sc, Role: &admin}
		dec, err := NewEngine(0).Check(s, Postgres, "SELECT subconninfo FROM pg_subscription")
		if err != nil || !strings.Contains(dec.SQL, "WHERE false") {
			t.Errorf("%s: %v %v", sc.Isolation, dec, err)
		}
		_, err = NewEngine(0).Check(s, Postgres, "SELECT oid FROM pg_largeobject_metadata")
		if (err == nil) != (sc.Isolation == IsolationDatabase) {
			t.Errorf("pg_largeobject_metadata under %s: %v", sc.Isolation, err)
		}
	}
}

// TestPGCatalogWritesRefused: no role changes or locks a system catalog.
func TestPGCatalogWritesRefused(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	for _, sc := range []*Scope{
		{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"},
		{Tenant: "gamma", Isolation: IsolationSchema, Database: "shared", Schema: "gamma"},
		{Tenant: "shop_a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant_id", TenantValue: "a"},
	} {
		s := Subject{User: "u", Scope: sc, Role: &admin}
		for _, q := range []string{
			"UPDATE pg_namespace SET nspname = 'x' WHERE nspname = 'pg_catalog'",
			"DELETE FROM pg_catalog.pg_description",
			"INSERT INTO pg_description VALUES (1, 2, 0, 'x')",
			"MERGE INTO pg_description d USING (SELECT 1 AS x) s ON true WHEN MATCHED THEN DELETE",
			"COPY pg_catalog.pg_class FROM STDIN",
			"TRUNCATE pg_catalog.pg_description",
			"LOCK TABLE pg_class IN ACCESS EXCLUSIVE MODE",
			"UPDATE information_schema.sql_features SET comments = 'x'",
		} {
			if _, err := NewEngine(0).Check(s, Postgres, q); err == nil {
				t.Errorf("%s (%s): allowed", q, sc.Isolation)
			}
		}
	}
}
