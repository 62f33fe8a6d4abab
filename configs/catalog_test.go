package configs

import (
	"strings"
	"testing"
	"time"
)

// TestRowTenantTablesOptional: a row tenant needs no tenant_tables; the
// catalog refresh defaults to 30s and must be positive; tenant_column and
// tenant_tables belong to row isolation only.
func TestRowTenantTablesOptional(t *testing.T) {
	cfg, err := Load(write(t, `
tenants:
  - {id: shop_a, engine: postgres, dsn: "postgres://h/shop", isolation: row, tenant_column: Tenant_ID}
users: [{name: u, password: p, tenants: {shop_a: viewer}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Proxy.Tenants[0].Scope
	if len(sc.TenantTables) != 0 || sc.TenantColumn != "tenant_id" || sc.TenantValue != "shop_a" {
		t.Errorf("scope: %+v", sc)
	}
	if cfg.Proxy.CatalogRefresh != 30*time.Second {
		t.Errorf("catalog.refresh default: %v", cfg.Proxy.CatalogRefresh)
	}
	for name, c := range map[string]struct{ body, want string }{
		"refresh zero": {`
catalog: {refresh: 0s}
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a"}]`, "catalog.refresh: must be positive"},
		"tables on a database tenant": {`
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", tenant_tables: [orders]}]`, "tenants[0].tenant_column, tenant_tables: only meaningful with isolation row"},
		"bad table name": {`
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", isolation: row, tenant_column: t, tenant_tables: ["x; drop"]}]`, "tenant_tables[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(write(t, c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
