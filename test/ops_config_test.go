package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/configs"
)

// TestOpsPsqlWithoutDatabase: psql (and pgx) without a database send the
// user name; a user holding several tenants gets 3D000 asking to choose
// one, a user holding one tenant is bound to it.
func TestOpsPsqlWithoutDatabase(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opsnodb")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: one, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: two, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: carol, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: alice, password: alice-pw, tenants: {one: analyst, two: analyst}}
  - {name: bob, password: bob-pw, tenants: {two: analyst}}
  - {name: carol, password: carol-pw, tenants: {one: analyst, carol: viewer}}
`, db, db, db))
	host, port := splitHostPort(t, rp.PGAddr)
	psql := func(user, pw string, args ...string) (string, error) {
		cmd := exec.Command("psql", append([]string{"-h", host, "-p", port, "-U", user, "-X", "-A", "-t"}, args...)...)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+pw, "PGSSLMODE=disable", "PGDATABASE=", "PGCONNECT_TIMEOUT=5")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := psql("alice", "alice-pw", "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, "choose one") || strings.Contains(out, `tenant "alice" does not exist`) {
		t.Fatalf("psql without a database, several tenants: %v\n%s", err, out)
	}
	ctx := context.Background()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(cctx, fmt.Sprintf("postgres://alice:alice-pw@%s/?sslmode=disable", rp.PGAddr))
	if pgCode(err) != "3D000" || !strings.Contains(err.Error(), "choose one") {
		t.Fatalf("pgx without a database: want 3D000 choose one, got %v", err)
	}
	// One tenant: psql without a database just works.
	out, err = psql("bob", "bob-pw", "-c", "SHOW tenant")
	if err != nil || strings.TrimSpace(out) != "two" {
		t.Fatalf("psql without a database, one tenant: %v\n%s", err, out)
	}
	// A tenant named like the user, held by it, is that tenant.
	out, err = psql("carol", "carol-pw", "-c", "SHOW tenant")
	if err != nil || strings.TrimSpace(out) != "carol" {
		t.Fatalf("carol: %v\n%s", err, out)
	}
}

// TestOpsTenantIDsKeepTheirCase: a tenant id with capitals can be given to
// a user and works as written on the wire and in the API; ids differing
// only in case are refused at load; loading a config twice gives the same
// users (a no-op reload changes none).
func TestOpsTenantIDsKeepTheirCase(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opscase")
	pgExec(t, db, "CREATE TABLE docs (id int)", "INSERT INTO docs VALUES (7)")
	const id = "spider_cre_Doc_Template_Mgt"
	yaml := fmt.Sprintf(`
tenants:
  - {id: %s, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: plain, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - name: alice
    password: alice-pw
    tenants:
      %s: analyst
      plain: analyst
`, id, db, db, id)
	a := startAPI(t, yaml)
	ctx := context.Background()
	host, port := splitHostPort(t, a.PGAddr)
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://alice:alice-pw@%s:%s/%s?sslmode=disable", host, port, id))
	if err != nil {
		t.Fatalf("connect to %s: %v", id, err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT id FROM docs").Scan(&n); err != nil || n != 7 {
		t.Fatalf("query: %d %v", n, err)
	}
	if _, err := c.Exec(ctx, "SET tenant = 'plain'"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SET tenant = '"+id+"'"); err != nil {
		t.Fatalf("switch back to %s: %v", id, err)
	}
	var shown string
	if err := c.QueryRow(ctx, "SHOW tenant", pgx.QueryExecModeSimpleProtocol).Scan(&shown); err != nil || shown != id {
		t.Fatalf("SHOW tenant: %q %v", shown, err)
	}
	tok := a.login(t, "alice", "alice-pw", id)
	if r := a.call(t, "GET", "/api/v1/tenant/current", tok, nil); r.Status != http.StatusOK || r.JSON(t)["tenant_id"] != id {
		t.Fatalf("API: HTTP %d %s", r.Status, r.Body)
	}

	// Loading twice gives the same users (stable verifiers for plain
	// passwords).
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("listen: {postgres: \"127.0.0.1:0\"}\n"+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c1, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c1.Proxy.Users, c2.Proxy.Users) {
		t.Fatal("two loads of one config give different users")
	}
	if _, ok := c1.Proxy.Users[0].Tenants[id]; !ok {
		t.Fatalf("tenant keys: %v", c1.Proxy.Users[0].Tenants)
	}

	// A user's key in another case than the tenant's id is an error that
	// says so.
	lower := strings.Replace(yaml, "      "+id+": analyst", "      "+strings.ToLower(id)+": analyst", 1)
	if err := os.WriteFile(path, []byte("listen: {postgres: \"127.0.0.1:0\"}\n"+lower), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := configs.Load(path); err == nil || !strings.Contains(err.Error(), "did you mean \""+id+"\"") {
		t.Fatalf("key in another case: %v", err)
	}

	// Ids that differ only in case are refused.
	dup := strings.Replace(yaml, "id: plain", "id: "+strings.ToLower(id), 1)
	if err := os.WriteFile(path, []byte("listen: {postgres: \"127.0.0.1:0\"}\n"+dup), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := configs.Load(path); err == nil || !strings.Contains(err.Error(), "differ only in case") {
		t.Fatalf("ids differing in case: %v", err)
	}
}

// TestOpsMySQLTenantIDsKeepTheirCase: the same on the MySQL front end: the
// handshake's schema and USE take the id as written.
func TestOpsMySQLTenantIDsKeepTheirCase(t *testing.T) {
	requireMySQL(t)
	a, b := tempMyDatabase(t, "opscasea"), tempMyDatabase(t, "opscaseb")
	myExec(t, a, "CREATE TABLE t (v VARCHAR(10))", "INSERT INTO t VALUES ('from-a')")
	myExec(t, b, "CREATE TABLE t (v VARCHAR(10))", "INSERT INTO t VALUES ('from-b')")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: Shop_Mgt_A, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}
  - {id: Shop_Mgt_B, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}
users:
  - name: alice
    password: alice-pw
    tenants: {Shop_Mgt_A: analyst, Shop_Mgt_B: analyst}
`, a, b))
	db := rp.myOpen(t, "alice", "alice-pw", "Shop_Mgt_A", "")
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v string
	if err := conn.QueryRowContext(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "from-a" {
		t.Fatalf("Shop_Mgt_A: %q %v", v, err)
	}
	if _, err := conn.ExecContext(ctx, "USE Shop_Mgt_B"); err != nil {
		t.Fatalf("USE Shop_Mgt_B: %v", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "from-b" {
		t.Fatalf("Shop_Mgt_B: %q %v", v, err)
	}
}
