package test

import (
	"fmt"
	"strings"
	"testing"
)

// TestMySQLSecAPICacheUserFill: USER() is filled in with the API caller on MySQL,
// but the result cache key has no user unless the role mentions {{user}}:
// a second user of the same role gets the first user's rows.
func TestMySQLSecAPICacheUserFill(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "seccacheuser")
	myExec(t, db,
		"CREATE TABLE notes (owner varchar(32), body varchar(64))",
		"INSERT INTO notes VALUES ('vera', 'vera-secret'), ('walt', 'walt-secret')")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", roles: {viewer: {}}}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
  - {name: walt, password: walt-pw, tenants: {alpha: viewer}}
`, db))
	q := "SELECT body FROM notes WHERE owner = SUBSTRING_INDEX(USER(), '@', 1)"
	vt := api.login(t, "vera", "vera-pw", "alpha")
	wt := api.login(t, "walt", "walt-pw", "alpha")
	r1 := api.call(t, "POST", "/api/v1/tenant/query", vt, map[string]any{"sql": q})
	r2 := api.call(t, "POST", "/api/v1/tenant/query", wt, map[string]any{"sql": q})
	t.Logf("vera: %d %s", r1.Status, r1.Body)
	t.Logf("walt: %d %s", r2.Status, r2.Body)
	if strings.Contains(string(r2.Body), "vera-secret") {
		t.Fatalf("walt got vera's cached rows: %s", r2.Body)
	}
	r3 := api.call(t, "POST", "/api/v1/tenant/query", wt, map[string]any{"sql": "SELECT USER() AS u"})
	_ = api.call(t, "POST", "/api/v1/tenant/query", vt, map[string]any{"sql": "SELECT USER() AS u"})
	r4 := api.call(t, "POST", "/api/v1/tenant/query", vt, map[string]any{"sql": "SELECT USER() AS u"})
	t.Logf("%s / %s", r3.Body, r4.Body)
}
