package test

import (
	"fmt"
	"strings"
	"testing"
)

// TestMySQLSecAPIMasksByPosition: the admin API decides MySQL masks from the
// analysed select list as the wire does, so a table alias on a row tenant
// (whose rewrite makes MariaDB report the alias as the column's table) does
// not switch the mask off; USER() answers for the API caller.
func TestMySQLSecAPIMasksByPosition(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "secapi")
	myExec(t, db,
		"CREATE TABLE customers (tenant_id varchar(8) NOT NULL, id int, email varchar(64), PRIMARY KEY (tenant_id, id))",
		"INSERT INTO customers VALUES ('a', 1, 'alice@a.example'), ('a', 2, 'amy@a.example'), ('b', 1, 'bob@b.example')")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - id: shop_a
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
    isolation: row
    tenant_column: tenant_id
    tenant_value: a
    roles: {viewer: {masked_columns: [customers.email]}}
users:
  - {name: vera, password: vera-pw, tenants: {shop_a: viewer}}
`, db))
	tok := api.login(t, "vera", "vera-pw", "shop_a")
	for _, q := range []string{
		"SELECT x.id, x.email FROM customers x ORDER BY x.id",
		"SELECT id, email FROM customers ORDER BY id",
		"SELECT * FROM customers ORDER BY id",
		"SELECT x.* FROM customers x ORDER BY id",
	} {
		r := api.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"sql": q, "cache_enabled": false})
		if r.Status != 200 {
			t.Fatalf("%s: HTTP %d %s", q, r.Status, r.Body)
		}
		body := string(r.Body)
		if strings.Contains(body, "@a.example") || strings.Contains(body, "@b.example") || strings.Count(body, "****") != 2 {
			t.Errorf("%s: %s", q, body)
		}
	}
	r := api.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"sql": "SELECT USER() AS u", "cache_enabled": false})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"vera@`) || strings.Contains(string(r.Body), "root") {
		t.Errorf("USER() through the API: HTTP %d %s", r.Status, r.Body)
	}
}
