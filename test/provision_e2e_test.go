package test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// restartProcess starts the proxy binary again on pp's config file and
// addresses, once the old process is gone.
func restartProcess(t *testing.T, pp *proxyProcess) *proxyProcess {
	t.Helper()
	_ = pp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-pp.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("proxy did not stop:\n%s", pp.log())
	}
	np := &proxyProcess{pgAddr: pp.pgAddr, adminAddr: pp.adminAddr, myAddr: pp.myAddr, cfgPath: pp.cfgPath,
		listen: pp.listen, logs: &strings.Builder{}, done: make(chan error, 1)}
	np.cmd = exec.Command(proxyBinary(t), "--config", np.cfgPath)
	stderr, _ := np.cmd.StderrPipe()
	if err := np.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			np.mu.Lock()
			np.logs.WriteString(sc.Text() + "\n")
			np.mu.Unlock()
		}
		np.done <- np.cmd.Wait()
	}()
	t.Cleanup(func() { _ = np.cmd.Process.Kill() })
	waitListening(t, np, np.adminAddr)
	return np
}

func waitListening(t *testing.T, pp *proxyProcess, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not listen on %s:\n%s", addr, pp.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpCall sends a JSON request to the process's admin API.
func httpCall(t *testing.T, pp *proxyProcess, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, "http://"+pp.adminAddr+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, m
}

func processLogin(t *testing.T, pp *proxyProcess, user, pw, tenant string) string {
	t.Helper()
	code, m := httpCall(t, pp, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw, "tenant_id": tenant})
	if code != http.StatusOK {
		t.Fatalf("login %s: %d %v", user, code, m)
	}
	return m["access_token"].(string)
}

func errField(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func pgDatabaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var ok bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func myDatabaseExists(t *testing.T, name string) bool {
	t.Helper()
	db, err := sql.Open("mysql", myAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestProvisionTenantEndToEnd clones a Postgres and a MariaDB template into
// new tenants through the API of the real binary, reaches them on both
// wires and the API at once, keeps them across a SIGHUP reload and a
// restart, changes one with PATCH and removes both with DELETE.
func TestProvisionTenantEndToEnd(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	base := tempPGDatabase(t, "provbase")
	pgTpl := tempPGDatabase(t, "provtpl")
	pgExec(t, pgTpl, "CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL)", "INSERT INTO plans VALUES (1, 'free'), (2, 'pro')")
	myTpl := tempMyDatabase(t, "provtpl")
	myExec(t, myTpl, "CREATE TABLE plans (id int PRIMARY KEY, name varchar(20) NOT NULL)",
		"CREATE TABLE seats (id int PRIMARY KEY, plan_id int NOT NULL, doubled int AS (id * 2) VIRTUAL, FOREIGN KEY (plan_id) REFERENCES plans(id))",
		"INSERT INTO plans VALUES (1, 'free'), (2, 'pro')", "INSERT INTO seats (id, plan_id) VALUES (1, 1), (2, 2), (3, 2)")
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	pgID, myID := "pv_pg_"+suffix, "pv_my_"+suffix
	t.Cleanup(func() {
		pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+pgID+" WITH (FORCE)")
		myExec(t, "", "DROP DATABASE IF EXISTS "+myID)
	})
	dir := filepath.Join(t.TempDir(), "tenants.d")
	pp := startProxyProcess(t, fmt.Sprintf(`
auth: {jwt_secret: %q}
provisioning:
  tenants_dir: %q
  postgres_dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  mysql_dsn: "root@tcp(127.0.0.1:3306)/"
tenants:
  - id: base
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
users:
  - name: op
    password: "op-pw"
    operator: true
    tenants: {base: admin}
  - name: plain
    password: "plain-pw"
    tenants: {base: analyst}
`, testSecret, dir, base), true)
	waitListening(t, pp, pp.adminAddr)
	op := processLogin(t, pp, "op", "op-pw", "base")

	// Not an operator: no provisioning.
	plain := processLogin(t, pp, "plain", "plain-pw", "base")
	if code, m := httpCall(t, pp, "POST", "/api/v1/admin/tenants", plain, map[string]any{"id": "x"}); code != http.StatusForbidden {
		t.Fatalf("analyst provisions: %d %v", code, m)
	}

	code, m := httpCall(t, pp, "POST", "/api/v1/admin/tenants", op, map[string]any{
		"id": pgID, "engine": "postgres", "template": pgTpl,
		"users": []map[string]string{{"name": "pgu_" + suffix, "password": "pgu-pw", "role": "editor"}},
		"pool":  map[string]any{"size": 3},
	})
	if code != http.StatusCreated {
		t.Fatalf("provision postgres: %d %v", code, m)
	}
	spec := loadOpenAPIFile(t)
	spec.checkAnswer(t, "/api/v1/admin/tenants", "POST", code, m)
	code, m = httpCall(t, pp, "POST", "/api/v1/admin/tenants", op, map[string]any{
		"id": myID, "engine": "mysql", "template": myTpl,
		"users": []map[string]string{{"name": "myu_" + suffix, "password": "myu-pw", "role": "analyst"}},
	})
	if code != http.StatusCreated {
		t.Fatalf("provision mysql: %d %v", code, m)
	}
	if _, err := os.Stat(filepath.Join(dir, pgID+".yaml")); err != nil {
		t.Fatalf("no tenant file: %v", err)
	}

	reach := func(pp *proxyProcess, stage string) {
		t.Helper()
		ctx := context.Background()
		c, err := pgx.Connect(ctx, pp.url("pgu_"+suffix, "pgu-pw", pgID))
		if err != nil {
			t.Fatalf("%s: connect to the new postgres tenant: %v", stage, err)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM plans WHERE id <= 2").Scan(&n); err != nil || n != 2 {
			t.Fatalf("%s: plans on the clone: %d %v", stage, n, err)
		}
		_ = c.Close(ctx)
		db, _ := sql.Open("mysql", fmt.Sprintf("myu_%s:myu-pw@tcp(%s)/%s?timeout=5s", suffix, pp.myAddr, myID))
		defer db.Close()
		var seats, doubled int
		if err := db.QueryRow("SELECT count(*), sum(doubled) FROM seats").Scan(&seats, &doubled); err != nil || seats != 3 || doubled != 12 {
			t.Fatalf("%s: seats on the MariaDB clone: %d %d %v", stage, seats, doubled, err)
		}
		tok := processLogin(t, pp, "pgu_"+suffix, "pgu-pw", pgID)
		code, m := httpCall(t, pp, "POST", "/api/v1/tenant/query", tok, map[string]any{"sql": "SELECT name FROM plans WHERE id <= 2 ORDER BY id"})
		if code != http.StatusOK || fmt.Sprint(m["rows"]) != "[[free] [pro]]" {
			t.Fatalf("%s: API query on the clone: %d %v", stage, code, m)
		}
	}
	reach(pp, "at once")
	// The template is untouched by writes to the clone.
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pp.url("pgu_"+suffix, "pgu-pw", pgID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO plans VALUES (3, 'team')"); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	c2, _ := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+pgTpl+"?", 1))
	var n int
	_ = c2.QueryRow(ctx, "SELECT count(*) FROM plans").Scan(&n)
	_ = c2.Close(ctx)
	if n != 2 {
		t.Fatalf("the template has %d plans", n)
	}

	// SIGHUP reloads the file config: the provisioned tenants stay.
	_ = pp.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	reach(pp, "after SIGHUP")
	pp = restartProcess(t, pp)
	op = processLogin(t, pp, "op", "op-pw", "base")
	reach(pp, "after restart")

	// PATCH: a new role for the user, and a pool change.
	code, m = httpCall(t, pp, "PATCH", "/api/v1/admin/tenants/"+pgID, op, map[string]any{
		"users": []map[string]string{{"name": "pgu_" + suffix, "role": "viewer"}}, "pool": map[string]any{"size": 2}})
	if code != http.StatusOK {
		t.Fatalf("patch: %d %v", code, m)
	}
	spec.checkAnswer(t, "/api/v1/admin/tenants/{id}", "PATCH", code, m)
	c, err = pgx.Connect(ctx, pp.url("pgu_"+suffix, "pgu-pw", pgID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO plans VALUES (4, 'x')"); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Fatalf("a viewer (after PATCH) inserted: %v", err)
	}
	_ = c.Close(ctx)
	if code, m := httpCall(t, pp, "PATCH", "/api/v1/admin/tenants/"+pgID, op, map[string]any{"pool": map[string]any{"size": "lots"}}); code != http.StatusBadRequest ||
		!strings.Contains(fmt.Sprint(m), "pool") {
		t.Fatalf("bad patch: %d %v", code, m)
	}
	if code, m := httpCall(t, pp, "PATCH", "/api/v1/admin/tenants/base", op, map[string]any{"pool": map[string]any{"size": 2}}); code != http.StatusConflict {
		t.Fatalf("patch of a config-file tenant: %d %v", code, m)
	} else {
		spec.checkAnswer(t, "/api/v1/admin/tenants/{id}", "PATCH", code, m)
	}

	// DELETE: the Postgres tenant with its database (its open session is
	// closed first), the MySQL one keeps its database.
	open, err := pgx.Connect(ctx, pp.url("pgu_"+suffix, "pgu-pw", pgID))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)
	code, m = httpCall(t, pp, "DELETE", "/api/v1/admin/tenants/"+pgID, op, map[string]any{"drop_database": true})
	if code != http.StatusOK || m["database_dropped"] != true || m["drained"] != true {
		t.Fatalf("delete: %d %v", code, m)
	}
	spec.checkAnswer(t, "/api/v1/admin/tenants/{id}", "DELETE", code, m)
	if _, err := open.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a session of the removed tenant still runs statements")
	}
	code, m = httpCall(t, pp, "DELETE", "/api/v1/admin/tenants/"+myID, op, nil)
	if code != http.StatusOK || m["database_dropped"] != false {
		t.Fatalf("delete mysql: %d %v", code, m)
	}
	if pgDatabaseExists(t, pgID) || !myDatabaseExists(t, myID) {
		t.Fatalf("after delete: pg db exists %v, mysql db exists %v", pgDatabaseExists(t, pgID), myDatabaseExists(t, myID))
	}
	if _, err := pgx.Connect(ctx, pp.url("pgu_"+suffix, "pgu-pw", pgID)); err == nil {
		t.Fatal("the removed tenant still accepts connections")
	}
	pp = restartProcess(t, pp)
	if _, err := pgx.Connect(ctx, pp.url("pgu_"+suffix, "pgu-pw", pgID)); err == nil {
		t.Fatal("the removed tenant came back after a restart")
	}
}

// TestProvisionFailuresLeaveNothing: bad input is refused with the field
// named; a missing template, an id in use and a clone that fails leave no
// database, no file and no tenant.
func TestProvisionFailuresLeaveNothing(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	base := tempPGDatabase(t, "provbase")
	pgTpl := tempPGDatabase(t, "provtpl")
	pgExec(t, pgTpl, "CREATE TABLE plans (id int PRIMARY KEY)")
	myTpl := tempMyDatabase(t, "provtpl")
	myExec(t, myTpl, "CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)", "INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (1)")
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	// A provisioning account that may create databases but not read table
	// b of the template: the clone fails after it created the database
	// and copied table a.
	provUser := "tp_prov_" + suffix
	myExec(t, "", "CREATE USER '"+provUser+"'@'%' IDENTIFIED BY 'pw'",
		"GRANT CREATE, DROP, INSERT, ALTER, INDEX, REFERENCES ON *.* TO '"+provUser+"'@'%'",
		"GRANT SELECT ON "+myTpl+".a TO '"+provUser+"'@'%'",
		"GRANT INSERT ON "+myTpl+".b TO '"+provUser+"'@'%'")
	t.Cleanup(func() { myExec(t, "", "DROP USER IF EXISTS '"+provUser+"'@'%'") })
	dir := filepath.Join(t.TempDir(), "tenants.d")
	pp := startProxyProcess(t, fmt.Sprintf(`
auth: {jwt_secret: %q}
provisioning:
  tenants_dir: %q
  postgres_dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  mysql_dsn: "%s:pw@tcp(127.0.0.1:3306)/"
tenants:
  - id: base
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
users:
  - name: op
    password: "op-pw"
    operator: true
    tenants: {base: admin}
`, testSecret, dir, provUser, base), true)
	waitListening(t, pp, pp.adminAddr)
	op := processLogin(t, pp, "op", "op-pw", "base")
	id := "pf_" + suffix
	t.Cleanup(func() {
		pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
		myExec(t, "", "DROP DATABASE IF EXISTS "+id)
	})
	user := []map[string]string{{"name": "u_" + suffix, "password": "pw", "role": "analyst"}}
	for _, c := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"engine": "postgres", "template": pgTpl, "users": user}, 400, "id"},
		{map[string]any{"id": "1bad", "engine": "postgres", "template": pgTpl, "users": user}, 400, "id"},
		{map[string]any{"id": id, "engine": "oracle", "template": pgTpl, "users": user}, 400, "engine"},
		{map[string]any{"id": id, "engine": "postgres", "users": user}, 400, "template"},
		{map[string]any{"id": id, "engine": "postgres", "template": pgTpl}, 400, "users"},
		{map[string]any{"id": id, "engine": "postgres", "template": pgTpl, "users": []map[string]string{{"name": "x", "password": "p", "role": "wizard"}}}, 400, "users[0].role"},
		{map[string]any{"id": id, "engine": "postgres", "template": "tp_no_such_template", "users": user}, 400, "template"},
		{map[string]any{"id": "base", "engine": "postgres", "template": pgTpl, "users": user}, 409, "id"},
		{map[string]any{"id": id, "engine": "postgres", "template": pgTpl, "users": []map[string]string{{"name": "op", "password": "p", "role": "analyst"}}}, 409, "users[0].name"},
		{map[string]any{"id": id, "engine": "postgres", "template": pgTpl, "database": base, "users": user}, 409, "database"},
	} {
		code, m := httpCall(t, pp, "POST", "/api/v1/admin/tenants", op, c.body)
		if code != c.status || errField(m) != c.field {
			t.Errorf("%v: %d %v, want %d with field %s", c.body, code, m, c.status, c.field)
		}
	}
	// An invalid pool setting is refused by the config loader, before the clone.
	code, m := httpCall(t, pp, "POST", "/api/v1/admin/tenants", op, map[string]any{"id": id, "engine": "postgres", "template": pgTpl, "users": user,
		"pool": map[string]any{"size": -4}})
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m), "pool") {
		t.Errorf("bad pool: %d %v", code, m)
	}
	// A template in use: Postgres refuses to copy it; nothing is made.
	ctx := context.Background()
	busy, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+pgTpl+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	code, m = httpCall(t, pp, "POST", "/api/v1/admin/tenants", op, map[string]any{"id": id, "engine": "postgres", "template": pgTpl, "users": user})
	_ = busy.Close(ctx)
	if code != http.StatusUnprocessableEntity {
		t.Errorf("busy template: %d %v", code, m)
	}
	// The MariaDB clone fails at table b, after the database was created.
	code, m = httpCall(t, pp, "POST", "/api/v1/admin/tenants", op, map[string]any{"id": id, "engine": "mysql", "template": myTpl, "users": user})
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(m), "table b") {
		t.Errorf("clone failing midway: %d %v", code, m)
	}
	if pgDatabaseExists(t, id) || myDatabaseExists(t, id) {
		t.Fatal("a failed provisioning left a database")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed provisioning left files: %v", entries)
	}
	_, tl := httpCall(t, pp, "GET", "/api/v1/admin/tenants", op, nil)
	if strings.Contains(fmt.Sprint(tl), id) {
		t.Fatalf("a failed provisioning left a tenant: %v", tl)
	}
	if _, err := pgx.Connect(ctx, pp.url("u_"+suffix, "pw", id)); err == nil {
		t.Fatal("the failed tenant accepts connections")
	}
}
