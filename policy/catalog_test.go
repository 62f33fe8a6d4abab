package policy

import (
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// TestSensitiveCatalogRefused covers catalog relations and functions that
// show other tenants' data on a shared server, for every role.
func TestSensitiveCatalogRefused(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	analyst, _ := BuiltinRole(RoleAnalyst)
	scopes := []*Scope{
		{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha"},
		{Tenant: "alpha", Isolation: IsolationSchema, Database: "shared", Schema: "alpha"},
	}
	for _, sc := range scopes {
		for _, r := range []*Role{&admin, &analyst} {
			s := Subject{User: "u", Scope: sc, Role: r}
			for _, q := range []string{
				"SELECT query FROM pg_stat_activity",
				"SELECT * FROM pg_catalog.pg_stats WHERE tablename = 'items'",
				"SELECT most_common_vals FROM pg_stats",
				"SELECT rolpassword FROM pg_authid",
				"SELECT * FROM pg_shadow",
				"SELECT * FROM (SELECT * FROM pg_stat_activity) s",
				"WITH x AS (SELECT * FROM pg_statistic) SELECT 1 FROM x",
				"SELECT * FROM pg_stat_get_activity(NULL)",
				"SELECT * FROM pg_locks",
			} {
				_, err := NewEngine(0).Check(s, Postgres, q)
				if !sqlerr.Is(err, sqlerr.Permission) && !sqlerr.Is(err, sqlerr.CrossTenant) {
					t.Errorf("%s (%s, %s): %v", q, sc.Isolation, r.Name, err)
				}
			}
			// What psql's \d needs stays available.
			for _, q := range []string{
				"SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
				"SELECT attname FROM pg_attribute WHERE attrelid = 1",
				"SELECT table_name FROM information_schema.tables",
			} {
				if _, err := NewEngine(0).Check(s, Postgres, q); err != nil {
					t.Errorf("%s (%s, %s): %v", q, sc.Isolation, r.Name, err)
				}
			}
		}
	}
}
