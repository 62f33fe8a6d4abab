package configs

import (
	"strings"
	"testing"
)

// TestMongoTenantConfig loads mongodb tenants and refuses what does not
// fit them, naming the key.
func TestMongoTenantConfig(t *testing.T) {
	cfg, err := Load(write(t, `
tenants:
  - id: docs
    engine: mongodb
    dsn: "mongodb://127.0.0.1:27017/docs_db"
    collections: [customers, orders]
    roles: {viewer: {masked_columns: [customers.address.street]}}
  - {id: shop_a, engine: mongodb, dsn: "mongodb://127.0.0.1:27017/shop", isolation: row, tenant_field: tenantId}
users: [{name: u, password: p, tenants: {docs: viewer, shop_a: editor}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	d, s := cfg.Proxy.Tenants[0], cfg.Proxy.Tenants[1]
	if d.Mongo == nil || d.Mongo.Database != "docs_db" || strings.Join(d.Mongo.Collections, ",") != "customers,orders" || d.Scope.Database != "docs_db" {
		t.Fatalf("docs: %+v %+v", d.Mongo, d.Scope)
	}
	if got := d.Roles["viewer"].MaskedColumns; len(got) != 1 || got[0] != "customers.address.street" {
		t.Fatalf("masks %v", got)
	}
	// Field names are case-sensitive: the tenant field keeps its case.
	if s.Scope.TenantColumn != "tenantId" || s.Scope.TenantValue != "shop_a" {
		t.Fatalf("shop_a scope %+v", s.Scope)
	}

	cases := []struct{ name, body, want string }{
		{"no database", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://127.0.0.1:27017/"}]`, "tenants[0].dsn: the MongoDB DSN names no database"},
		{"bad dsn", `tenants: [{id: a, engine: mongodb, dsn: "mongo://x/a"}]`, "tenants[0].dsn: cannot parse the MongoDB DSN"},
		{"row without field", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://h/a", isolation: row}]`, "tenants[0].tenant_field: required with isolation row"},
		{"tenant_column", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://h/a", isolation: row, tenant_column: t}]`, "tenants[0].tenant_column: a mongodb tenant names tenant_field"},
		{"schema isolation", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://h/a", isolation: schema}]`, "tenants[0].isolation: a mongodb tenant owns a database"},
		{"field without row", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://h/a", tenant_field: t}]`, "tenants[0].tenant_field: only meaningful with isolation row"},
		{"system collection", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://h/a", collections: [system.users]}]`, "tenants[0].collections[0]"},
		{"replicas", `tenants: [{id: a, engine: mongodb, dsn: "mongodb://h/a", replicas: ["mongodb://h2/a"]}]`, "tenants[0].replicas: not available for mongodb tenants"},
		{"collections on SQL", `tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", collections: [x]}]`, "tenants[0].tenant_field, collections: only meaningful for mongodb tenants"},
		{"nested mask on SQL", `tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", roles: {viewer: {masked_columns: [t.a.b]}}}]`, "nested field paths are for mongodb tenants"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(write(t, c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}
