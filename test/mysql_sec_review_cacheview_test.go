package test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestMySQLSecAPICacheViewsAndTriggers: a cached API result read through a view (or a
// table a trigger writes) is served after a write to the base table.
func TestMySQLSecAPICacheViewsAndTriggers(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "seccacheview")
	myExec(t, db,
		"CREATE TABLE items (id int, v varchar(32))",
		"INSERT INTO items VALUES (1, 'old')",
		"CREATE VIEW items_v AS SELECT id, v FROM items",
		"CREATE TABLE audit_log (n int)",
		"CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO audit_log VALUES (NEW.id)")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", roles: {viewer: {}}}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
  - {name: adam, password: adam-pw, tenants: {alpha: admin}}
`, db))
	vt := api.login(t, "vera", "vera-pw", "alpha")
	at := api.login(t, "adam", "adam-pw", "alpha")
	for _, q := range []string{"SELECT id, v FROM items_v ORDER BY id", "SELECT COUNT(*) AS n FROM audit_log"} {
		r := api.call(t, "POST", "/api/v1/tenant/query", vt, map[string]any{"sql": q})
		t.Logf("before: %s", r.Body)
	}
	// the write, through the wire front end (MySQL, token as password)
	_ = at
	wdb, err := sql.Open("mysql", "adam:adam-pw@tcp("+api.MySQLAddr+")/alpha")
	if err != nil {
		t.Fatal(err)
	}
	defer wdb.Close()
	if _, err := wdb.ExecContext(context.Background(), "INSERT INTO items VALUES (2, 'new')"); err != nil {
		t.Fatal(err)
	}
	r := api.call(t, "POST", "/api/v1/tenant/query", vt, map[string]any{"sql": "SELECT id, v FROM items_v ORDER BY id"})
	t.Logf("after: %s", r.Body)
	if !strings.Contains(string(r.Body), "new") {
		t.Errorf("view read after a write to its base table is stale: %s", r.Body)
	}
	r = api.call(t, "POST", "/api/v1/tenant/query", vt, map[string]any{"sql": "SELECT COUNT(*) AS n FROM audit_log"})
	t.Logf("after: %s", r.Body)
	if !strings.Contains(string(r.Body), `[[1]]`) {
		t.Errorf("trigger-written table read after the write is stale: %s", r.Body)
	}
}
