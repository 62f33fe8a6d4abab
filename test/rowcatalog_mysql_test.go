package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestRowCatalogMySQL: MySQL row tenants without tenant_tables filter every
// table and view that has the tenant column, tables created after the
// start included (straight on the backend and through the proxy); a table
// without the column stays readable; a listed table that lacks the column
// refuses the tenant's statements with the reason.
func TestRowCatalogMySQL(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "rowcat")
	myExec(t, db,
		"CREATE TABLE orders (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL, note VARCHAR(50))",
		"INSERT INTO orders VALUES (1, 'a', 'ORDER-a-1'), (2, 'a', 'ORDER-a-2'), (101, 'b', 'ORDER-b-1')",
		"CREATE TABLE plans (id INT PRIMARY KEY, name VARCHAR(20))",
		"INSERT INTO plans VALUES (1, 'basic'), (2, 'pro')",
		"CREATE TABLE notes (tenant_id INT NULL, body VARCHAR(20))",
		"INSERT INTO notes VALUES (1, 'NOTE-1'), (2, 'NOTE-2'), (NULL, 'NOTE-null')",
		"CREATE VIEW order_notes AS SELECT tenant_id, note FROM orders",
		"CREATE TABLE ref (code VARCHAR(10))",
		"CREATE VIEW order_ids AS SELECT id, note FROM orders",
		"CREATE VIEW plan_names AS SELECT name FROM plans",
		"CREATE TABLE scoped (tenant_id VARCHAR(10), code VARCHAR(10), PRIMARY KEY (tenant_id, code), UNIQUE KEY code_only (code))",
	)
	dsn := "root@tcp(127.0.0.1:3306)/" + db
	rp := startProxy(t, fmt.Sprintf(`
catalog: {refresh: 1h}
tenants:
  - {id: shop_a, engine: mysql, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: a, pool: {size: 2}}
  - {id: shop_b, engine: mysql, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: b, pool: {size: 2}}
  - {id: shop_bad, engine: mysql, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: a,
     tenant_tables: [orders, ref], pool: {size: 1}}
  - {id: owner, engine: mysql, dsn: "%s", pool: {size: 1}}
users:
  - {name: an, password: pw, tenants: {shop_a: analyst, shop_bad: analyst}}
  - {name: ed, password: pw, tenants: {shop_a: editor}}
  - {name: ow, password: pw, tenants: {owner: admin}}
`, dsn, dsn, dsn, dsn))
	an := rp.myOpen(t, "an", "pw", "shop_a", "")
	ed := rp.myOpen(t, "ed", "pw", "shop_a", "")
	ow := rp.myOpen(t, "ow", "pw", "owner", "")
	ctx := context.Background()
	check := func(q, want string) {
		t.Helper()
		if got := strings.Join(queryStrings(t, an, q), ","); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	check("SELECT note FROM orders ORDER BY id", "ORDER-a-1,ORDER-a-2")
	check("SELECT note FROM orders WHERE tenant_id = 'b'", "")
	check("SELECT note FROM order_notes ORDER BY note", "ORDER-a-1,ORDER-a-2")
	check("SELECT name FROM plans ORDER BY id", "basic,pro")
	// An INT tenant column compared with 'a' matches no row: filtered, not open.
	check("SELECT body FROM notes", "")

	check("SELECT name FROM plan_names ORDER BY name", "basic,pro")
	if _, err := an.QueryContext(ctx, "SELECT note FROM order_ids"); err == nil || !strings.Contains(err.Error(), "no tenant column") {
		t.Errorf("view over a tenant table without the column: %v, want refused", err)
	}
	ts, _ := rp.Server.Tenant("shop_a")
	var keys []string
	for _, k := range ts.CatalogKeyWarnings() {
		keys = append(keys, k.Table+"."+k.Key)
	}
	if got := strings.Join(keys, ","); got != "orders.PRIMARY,scoped.code_only" {
		t.Errorf("key warnings: %q, want orders.PRIMARY,scoped.code_only", got)
	}

	res, err := ed.ExecContext(ctx, "DELETE FROM orders WHERE tenant_id = 'b'")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 0 {
		t.Errorf("DELETE of tenant b's rows affected %d", n)
	}

	// Decided (and cached) before the table exists.
	if _, err := an.QueryContext(ctx, "SELECT secret FROM late"); err == nil {
		t.Fatal("SELECT from a table that does not exist succeeded")
	}
	myExec(t, db, "CREATE TABLE late (tenant_id VARCHAR(10), secret VARCHAR(20))",
		"INSERT INTO late VALUES ('a', 'LATE-a'), ('b', 'LATE-b')")
	check("SELECT secret FROM late", "LATE-a")
	if _, err := ow.ExecContext(ctx, "CREATE TABLE via_proxy (tenant_id VARCHAR(10), secret VARCHAR(20))"); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.ExecContext(ctx, "INSERT INTO via_proxy VALUES ('a', 'VIA-a'), ('b', 'VIA-b')"); err != nil {
		t.Fatal(err)
	}
	check("SELECT secret FROM via_proxy", "VIA-a")
	if _, err := ow.ExecContext(ctx, "ALTER TABLE plans ADD COLUMN tenant_id VARCHAR(10)"); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.ExecContext(ctx, "UPDATE plans SET tenant_id = 'b'"); err != nil {
		t.Fatal(err)
	}
	check("SELECT name FROM plans ORDER BY id", "")

	// shop_bad lists ref, which has no tenant column: refused with the reason.
	bad := rp.myOpen(t, "an", "pw", "shop_bad", "")
	_, err = bad.QueryContext(ctx, "SELECT note FROM orders")
	if code, _ := myErr(t, err); code != 2003 || !strings.Contains(err.Error(), `tenant "shop_bad": tenant_tables: table "ref" has no column "tenant_id"`) {
		t.Errorf("listed table without the column: %v", err)
	}
}

// TestRowCatalogMySQLUnreadable: a MySQL row tenant whose backend cannot be
// reached has its statements refused with 2003 naming the tenant.
func TestRowCatalogMySQLUnreadable(t *testing.T) {
	requireMySQL(t)
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: shop_down, engine: mysql, dsn: "root@tcp(%s)/nosuch", isolation: row, tenant_column: tenant_id,
     pool: {size: 1, timeout: 2s}}
users:
  - {name: an, password: pw, tenants: {shop_down: analyst}}
`, freeAddr(t)))
	db := rp.myOpen(t, "an", "pw", "shop_down", "")
	_, err := db.QueryContext(context.Background(), "SELECT note FROM orders")
	if err == nil {
		t.Fatal("a statement ran without a catalog")
	}
	if code, _ := myErr(t, err); code != 2003 || !strings.Contains(err.Error(), `tenant "shop_down"`) {
		t.Errorf("unreachable backend: %v, want 2003 naming the tenant", err)
	}
}
