package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// TestIsolationOverlapsAreConfigErrors builds each overlap on the local
// servers (the two tenants' DSNs name the server differently: localhost and
// 127.0.0.1) and checks the error names both tenants and the shared object;
// the same tenants without the overlap pass.
func TestIsolationOverlapsAreConfigErrors(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	pgDB := tempPGDatabase(t, "ovl")
	pgDB2 := tempPGDatabase(t, "ovl2")
	myDB := tempMyDatabase(t, "ovl")
	myDB2 := tempMyDatabase(t, "ovl2")
	cases := []struct {
		name    string
		tenants string
		want    []string // in the error; nil: no error
	}{
		{"pg database twice", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q}
  - {id: t_two, engine: postgres, dsn: %q}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB)),
			[]string{`"t_one"`, `"t_two"`, `database "` + pgDB + `"`, "database isolation"}},
		{"pg databases apart", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q}
  - {id: t_two, engine: postgres, dsn: %q}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB2)), nil},
		{"pg schema twice", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q, isolation: schema, schema: shop}
  - {id: t_two, engine: postgres, dsn: %q, isolation: schema, schema: shop}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB)),
			[]string{`"t_one"`, `"t_two"`, `schema "shop"`, `database "` + pgDB + `"`}},
		{"pg schemas apart", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q, isolation: schema, schema: shop}
  - {id: t_two, engine: postgres, dsn: %q, isolation: schema, schema: shop2}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB)), nil},
		{"pg row value twice", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: acme}
  - {id: t_two, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: acme}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB)),
			[]string{`"t_one"`, `"t_two"`, `tenant_value "acme"`, `database "` + pgDB + `"`}},
		{"pg row values apart", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: acme}
  - {id: t_two, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: other}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB)), nil},
		{"pg two models", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q}
  - {id: t_two, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id}`, pgDSN("localhost", pgDB), pgDSN("127.0.0.1", pgDB)),
			[]string{`"t_one"`, `"t_two"`, `database "` + pgDB + `"`, "two isolation models (database and row)"}},
		{"pg schema and database", fmt.Sprintf(`
  - {id: t_one, engine: postgres, dsn: %q, isolation: schema, schema: shop}
  - {id: t_two, engine: postgres, dsn: %q}`, pgDSN("127.0.0.1", pgDB), pgDSN("127.0.0.1", pgDB)),
			[]string{`"t_one"`, `"t_two"`, "two isolation models (schema and database)"}},
		{"mysql database twice", fmt.Sprintf(`
  - {id: t_one, engine: mysql, dsn: %q}
  - {id: t_two, engine: mysql, dsn: %q}`, myDSN("localhost", myDB), myDSN("127.0.0.1", myDB)),
			[]string{`"t_one"`, `"t_two"`, `database "` + myDB + `"`, "server mariadb:"}},
		{"mysql databases apart", fmt.Sprintf(`
  - {id: t_one, engine: mysql, dsn: %q}
  - {id: t_two, engine: mysql, dsn: %q}`, myDSN("localhost", myDB), myDSN("127.0.0.1", myDB2)), nil},
		{"mysql row value twice", fmt.Sprintf(`
  - {id: t_one, engine: mysql, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: acme}
  - {id: t_two, engine: mysql, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: acme}`, myDSN("localhost", myDB), myDSN("127.0.0.1", myDB)),
			[]string{`"t_one"`, `"t_two"`, `tenant_value "acme"`}},
		{"mysql two models", fmt.Sprintf(`
  - {id: t_one, engine: mysql, dsn: %q, isolation: row, tenant_column: tenant_id}
  - {id: t_two, engine: mysql, dsn: %q}`, myDSN("localhost", myDB), myDSN("127.0.0.1", myDB)),
			[]string{`"t_one"`, `"t_two"`, "two isolation models (row and database)"}},
	}
	// Tenants served through the API: an SQLite file, a MongoDB database.
	// Their identity needs no answer from a server, so none is pending.
	lite, lite2 := sqliteFile(t, "ov_a"), sqliteFile(t, "ov_b")
	cases = append(cases, []struct {
		name    string
		tenants string
		want    []string
	}{
		{"sqlite file twice", fmt.Sprintf(`
  - {id: t_one, engine: sqlite, dsn: "file:%s"}
  - {id: t_two, engine: sqlite, dsn: "file:%s?mode=ro"}`, lite, lite), []string{`"t_one"`, `"t_two"`, "server sqlite:local"}},
		{"sqlite files apart", fmt.Sprintf(`
  - {id: t_one, engine: sqlite, dsn: "file:%s"}
  - {id: t_two, engine: sqlite, dsn: "file:%s"}`, lite, lite2), nil},
		{"mongodb database twice", `
  - {id: t_one, engine: mongodb, dsn: "mongodb://127.0.0.1:27999/docs"}
  - {id: t_two, engine: mongodb, dsn: "mongodb://127.0.0.1:27999/docs"}`, []string{`"t_one"`, `"t_two"`, `database "docs"`}},
		{"mongodb databases apart", `
  - {id: t_one, engine: mongodb, dsn: "mongodb://127.0.0.1:27999/docs"}
  - {id: t_two, engine: mongodb, dsn: "mongodb://127.0.0.1:27999/other"}`, nil},
		{"mongodb row tenants apart", `
  - {id: t_one, engine: mongodb, dsn: "mongodb://127.0.0.1:27999/shop", isolation: row, tenant_field: tenant, tenant_value: a}
  - {id: t_two, engine: mongodb, dsn: "mongodb://127.0.0.1:27999/shop", isolation: row, tenant_field: tenant, tenant_value: b}`, nil},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, "tenants:"+tc.tenants+"\nusers: [{name: u, password: pw, tenants: {t_one: admin}}]\n")
			chk, err := proxy.CheckIsolation(context.Background(), cfg.Proxy.Tenants)
			if len(chk.Pending) > 0 {
				t.Fatalf("backends did not answer: %v", chk.Pending)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected overlap: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; servers %v", chk.Servers)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %s: %v", w, err)
				}
			}
		})
	}
}

// TestIsolationServerAskedOnce: one answer names the server for every
// tenant of that address, even one whose own database does not exist (yet).
func TestIsolationServerAskedOnce(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "once")
	cfg := loadConfig(t, fmt.Sprintf(`
tenants:
  - {id: t_missing, engine: postgres, dsn: %q}
  - {id: t_one, engine: postgres, dsn: %q}
  - {id: t_two, engine: postgres, dsn: %q, isolation: schema, schema: s}
users: [{name: u, password: pw, tenants: {t_one: admin}}]
`, pgDSN("127.0.0.1", "tp_no_such_db_here"), pgDSN("127.0.0.1", db), pgDSN("localhost", db)))
	chk, err := proxy.CheckIsolation(context.Background(), cfg.Proxy.Tenants)
	if err == nil || !strings.Contains(err.Error(), "two isolation models (database and schema)") {
		t.Fatalf("overlap across address spellings: %v", err)
	}
	if len(chk.Pending) != 0 || chk.Servers["t_missing"] != chk.Servers["t_one"] || !strings.HasPrefix(chk.Servers["t_one"], "pg:") ||
		chk.Servers["t_two"] != chk.Servers["t_one"] {
		t.Fatalf("servers %v, pending %v", chk.Servers, chk.Pending)
	}
}

// TestIsolationOverlapRefusedAtStartAndReload starts the proxy process on
// an overlapping config (it exits with the error), then on a good one, and
// reloads to the overlap (rejected, the running config keeps serving).
func TestIsolationOverlapRefusedAtStartAndReload(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "ovls")
	db2 := tempPGDatabase(t, "ovls2")
	pgExec(t, db, "CREATE TABLE g (v int)", "INSERT INTO g VALUES (7)")
	bad := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: %q}
  - {id: beta, engine: postgres, dsn: %q}
users: [{name: u, password: pw, tenants: {alpha: admin, beta: admin}}]
`, pgDSN("127.0.0.1", db), pgDSN("localhost", db))
	good := strings.Replace(bad, pgDSN("localhost", db), pgDSN("localhost", db2), 1)

	// Start: refused, naming both tenants and the database.
	path := writeConfig(t, bad)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, proxyBinary(t), "--config", path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("the proxy started on an overlapping config: %v\n%s", err, out)
	}
	for _, w := range []string{`"alpha"`, `"beta"`, `database "` + db + `"`} {
		if !strings.Contains(string(out), w) {
			t.Errorf("start error does not mention %s:\n%s", w, out)
		}
	}

	// Reload: rejected, the running tenants keep working.
	pp := startProxyProcess(t, good)
	c, err := pgx.Connect(context.Background(), pp.url("u", "pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := os.WriteFile(pp.cfgPath, []byte(pp.listen+bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = pp.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(pp.log(), "config_reload_rejected") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	logs := pp.log()
	if !strings.Contains(logs, "config_reload_rejected") || !strings.Contains(logs, "alpha") || !strings.Contains(logs, db) {
		t.Fatalf("overlapping reload not rejected with the overlap:\n%s", logs)
	}
	var v int
	if err := c.QueryRow(context.Background(), "SELECT v FROM g").Scan(&v); err != nil || v != 7 {
		t.Fatalf("after the rejected reload: %d %v", v, err)
	}
	// beta still runs on its own database.
	cb, err := pgx.Connect(context.Background(), pp.url("u", "pw", "beta"))
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(context.Background())
	if err := cb.QueryRow(context.Background(), "SELECT current_database()").Scan(new(string)); err != nil {
		t.Fatal(err)
	}
	var dbName string
	_ = cb.QueryRow(context.Background(), "SELECT current_database()").Scan(&dbName)
	if dbName != db2 {
		t.Fatalf("beta runs on %s after the rejected reload, want %s", dbName, db2)
	}
}

// TestIsolationPendingBackend: a tenant whose backend cannot be reached at
// start (here: no server address of its DSN's spelling answers for any of
// its tenants) does not block the start; it is refused until its backend answers,
// then served when it overlaps nothing, and kept refused (with the overlap
// as the reason) when it does.
func TestIsolationPendingBackend(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "pend")
	late := fmt.Sprintf("tp_pendlate_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	role := fmt.Sprintf("tp_pendrole_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+late+" WITH (FORCE)")
		pgExec(t, "postgres", "DROP ROLE IF EXISTS "+role)
	})
	yaml := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: %q}
  - {id: later, engine: postgres, dsn: %q}
  - {id: sneaky, engine: postgres, dsn: "postgres://%s@localhost:5432/%s?sslmode=disable"}
users: [{name: u, password: pw, tenants: {alpha: admin, later: admin, sneaky: admin}}]
`, pgDSN("127.0.0.1", db), pgDSN("localhost", late), role, db)
	start := time.Now()
	pp := startProxyProcess(t, yaml)
	if d := time.Since(start); d > 12*time.Second {
		t.Fatalf("start took %s with unreachable backends", d)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pp.url("u", "pw", "alpha"))
	if err != nil {
		t.Fatalf("a verified tenant is not served: %v", err)
	}
	c.Close(ctx)
	for _, id := range []string{"later", "sneaky"} {
		_, err := pgx.Connect(ctx, pp.url("u", "pw", id))
		if err == nil || !strings.Contains(err.Error(), "isolation is not verified yet") {
			t.Fatalf("%s served before its isolation was verified: %v", id, err)
		}
		wantCode(t, err, "57P03")
	}
	// The backends come up: later's database is created, sneaky's role too
	// (sneaky's DSN names alpha's database: an overlap).
	pgExec(t, "postgres", "CREATE DATABASE "+late, "CREATE ROLE "+role+" LOGIN SUPERUSER")
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := pgx.Connect(ctx, pp.url("u", "pw", "later"))
		if err == nil {
			c.Close(ctx)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("later not served after its backend came up: %v\n%s", err, pp.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(pp.log(), "isolation_overlap") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	_, err = pgx.Connect(ctx, pp.url("u", "pw", "sneaky"))
	if err == nil || !strings.Contains(err.Error(), `"alpha"`) || !strings.Contains(err.Error(), `database "`+db+`"`) {
		t.Fatalf("sneaky (overlapping alpha) not refused with the overlap: %v\n%s", err, pp.log())
	}
	wantCode(t, err, "57P03")
}
