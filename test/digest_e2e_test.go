package test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// digestRow is one row of GET /api/v1/tenant/statements.
type digestRow struct {
	Tenant      string           `json:"tenant"`
	Fingerprint string           `json:"fingerprint"`
	Engine      string           `json:"engine"`
	Kind        string           `json:"kind"`
	Example     string           `json:"example"`
	Calls       int64            `json:"calls"`
	Errors      int64            `json:"errors"`
	ErrorsBy    map[string]int64 `json:"errors_by_category"`
	Rows        int64            `json:"rows"`
	TotalMS     float64          `json:"total_ms"`
	MeanMS      float64          `json:"mean_ms"`
	P50MS       float64          `json:"p50_ms"`
	P95MS       float64          `json:"p95_ms"`
	P99MS       float64          `json:"p99_ms"`
	FirstSeen   time.Time        `json:"first_seen"`
	LastSeen    time.Time        `json:"last_seen"`
	Rewritten   bool             `json:"rewritten"`
}

func (a *apiServer) statements(t *testing.T, path, token string) []digestRow {
	t.Helper()
	r := a.call(t, "GET", path, token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", path, r.Status, r.Body)
	}
	var out struct {
		Statements []digestRow `json:"statements"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, r.Body)
	}
	return out.Statements
}

// findDigest returns the one row whose example contains every part.
func findDigest(t *testing.T, rows []digestRow, parts ...string) digestRow {
	t.Helper()
	var found []digestRow
	squash := strings.NewReplacer("`", "", " ", "")
	for _, r := range rows {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(squash.Replace(strings.ToLower(r.Example)), squash.Replace(strings.ToLower(p)))
		}
		if ok {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one digest with %q, got %d in %+v", parts, len(found), rows)
	}
	return found[0]
}

const digestYAML = `
tenants:
  - id: pgd
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      viewer: {max_rows: 3}
  - id: myd
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
    roles:
      viewer: {max_rows: 3}
users:
  - name: ana
    password: "ana-pw"
    tenants: {pgd: analyst, myd: analyst}
  - name: vic
    password: "vic-pw"
    tenants: {pgd: viewer, myd: viewer}
  - name: root
    password: "root-pw"
    operator: true
    tenants: {pgd: admin}
`

// runDigestWorkload runs the same known workload on either engine through
// exec (which returns the rows a statement returned) and checks what
// GET /tenant/statements shows for it.
func checkDigestWorkload(t *testing.T, a *apiServer, tenant string, run func(user, sql string) (int, error), placeholder string) {
	t.Helper()
	for _, q := range []string{
		"SELECT id FROM items WHERE id IN (1, 2)",
		"SELECT id FROM items WHERE id IN (1, 2)",
		"SELECT id FROM items WHERE id IN (1, 2)",
		"SELECT id FROM items WHERE id IN (1, 2, 3)",
		"SELECT id FROM items WHERE id IN (1, 2, 3)",
		"select id from items where id in (5, 6, 7, 8)",
	} {
		if _, err := run("ana", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range 4 {
		if _, err := run("ana", fmt.Sprintf("SELECT count(*) FROM items WHERE price > %d", i*10)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := run("vic", "DELETE FROM items WHERE id = 1"); err == nil {
			t.Fatal("a viewer's DELETE ran")
		}
	}
	// An error the backend reports.
	if _, err := run("ana", "SELECT nosuch FROM items WHERE id = 1"); err == nil {
		t.Fatal("a missing column did not fail")
	}
	// The viewer's SELECT is rewritten (LIMIT 3).
	if n, err := run("vic", "SELECT id, price FROM items WHERE price >= 0"); err != nil || n != 3 {
		t.Fatalf("viewer select: %d rows, %v", n, err)
	}

	tok := a.login(t, "ana", "ana-pw", tenant)
	// A statement is recorded just after its answer went out: wait until
	// the workload's 14 statements are all counted.
	var rows []digestRow
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rows = a.statements(t, "/api/v1/tenant/statements", tok)
		var calls int64
		for _, r := range rows {
			calls += r.Calls
		}
		if calls >= 14 || time.Now().After(deadline) {
			break
		}
	}
	for _, r := range rows {
		if r.Tenant != tenant {
			t.Fatalf("tenant %s sees a digest of %s: %+v", tenant, r.Tenant, r)
		}
	}
	in := findDigest(t, rows, "from items where id in")
	if in.Calls != 6 || in.Rows != 3*2+2*3+4 || in.Errors != 0 {
		t.Fatalf("IN digest: calls %d rows %d errors %d, want 6, 16, 0: %+v", in.Calls, in.Rows, in.Errors, in)
	}
	if strings.Contains(in.Example, "1, 2") || strings.Contains(in.Example, "5") {
		t.Fatalf("the example keeps literals: %q", in.Example)
	}
	if in.P50MS <= 0 || in.P99MS < in.P50MS || in.TotalMS < in.MeanMS || in.MeanMS <= 0 || in.Rewritten {
		t.Fatalf("IN digest latencies: %+v", in)
	}
	if in.FirstSeen.IsZero() || in.LastSeen.Before(in.FirstSeen) {
		t.Fatalf("IN digest seen: %+v", in)
	}
	cnt := findDigest(t, rows, "count(", "price >")
	if cnt.Calls != 4 || cnt.Rows != 4 || cnt.Fingerprint == in.Fingerprint {
		t.Fatalf("count digest: %+v (IN digest %s)", cnt, in.Fingerprint)
	}
	if !strings.Contains(cnt.Example, placeholder) {
		t.Fatalf("count example %q has no %s", cnt.Example, placeholder)
	}
	del := findDigest(t, rows, "delete from items")
	if del.Calls != 2 || del.Errors != 2 || del.ErrorsBy["policy"] != 2 {
		t.Fatalf("refused DELETE digest: %+v", del)
	}
	be := findDigest(t, rows, "select nosuch")
	if be.Calls != 1 || be.Errors != 1 || be.ErrorsBy["backend"] != 1 {
		t.Fatalf("backend error digest: %+v", be)
	}
	vs := findDigest(t, rows, "price >=")
	if !vs.Rewritten || vs.Rows != 3 || vs.Calls != 1 {
		t.Fatalf("viewer's rewritten select: %+v", vs)
	}

	// Sorted by calls, the IN statement comes first.
	byCalls := a.statements(t, "/api/v1/tenant/statements?sort=calls", tok)
	if byCalls[0].Fingerprint != in.Fingerprint {
		t.Fatalf("sort=calls: first is %+v", byCalls[0])
	}
	byErr := a.statements(t, "/api/v1/tenant/statements?sort=errors", tok)
	if byErr[0].Fingerprint != del.Fingerprint {
		t.Fatalf("sort=errors: first is %+v", byErr[0])
	}
	if r := a.call(t, "GET", "/api/v1/tenant/statements?sort=bogus", tok, nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "sort") {
		t.Fatalf("bad sort: HTTP %d %s", r.Status, r.Body)
	}
	// A tenant role other than admin may not reset, nor see every tenant.
	if r := a.call(t, "POST", "/api/v1/tenant/statements/reset", tok, nil); r.Status != http.StatusForbidden {
		t.Fatalf("analyst reset: HTTP %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "GET", "/api/v1/admin/statements", tok, nil); r.Status != http.StatusForbidden {
		t.Fatalf("analyst admin/statements: HTTP %d %s", r.Status, r.Body)
	}
}

func TestDigestPostgresAndMySQL(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	pgdb := tempPGDatabase(t, "digest")
	pgExec(t, pgdb, "CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL)",
		"INSERT INTO items SELECT g, g * 3 FROM generate_series(1, 10) g")
	mydb := tempMyDatabase(t, "digest")
	myExec(t, mydb, "CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL)",
		"INSERT INTO items VALUES (1,3),(2,6),(3,9),(4,12),(5,15),(6,18),(7,21),(8,24),(9,27),(10,30)")
	a := startAPI(t, fmt.Sprintf(digestYAML, pgdb, mydb))
	ctx := context.Background()

	pgConns := map[string]*pgx.Conn{}
	host := a.PGAddr
	pgRun := func(user, q string) (int, error) {
		c := pgConns[user]
		if c == nil {
			var err error
			c, err = pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s-pw@%s/pgd?sslmode=disable", user, user, host))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close(ctx) })
			pgConns[user] = c
		}
		rows, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		return n, rows.Err()
	}
	myConns := map[string]*sql.DB{}
	myRun := func(user, q string) (int, error) {
		db := myConns[user]
		if db == nil {
			var err error
			db, err = sql.Open("mysql", fmt.Sprintf("%s:%s-pw@tcp(%s)/myd?timeout=5s", user, user, a.MySQLAddr))
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { _ = db.Close() })
			myConns[user] = db
		}
		rows, err := db.Query(q)
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		return n, rows.Err()
	}

	t.Run("postgres", func(t *testing.T) { checkDigestWorkload(t, a, "pgd", pgRun, "$1") })
	t.Run("mysql", func(t *testing.T) { checkDigestWorkload(t, a, "myd", myRun, "?") })

	// An operator sees both tenants' digests, and resets them.
	op := a.login(t, "root", "root-pw", "pgd")
	all := a.statements(t, "/api/v1/admin/statements?limit=0", op)
	seen := map[string]bool{}
	for _, r := range all {
		seen[r.Tenant] = true
	}
	if !seen["pgd"] || !seen["myd"] {
		t.Fatalf("admin/statements shows tenants %v", seen)
	}
	only := a.statements(t, "/api/v1/admin/statements?tenant=myd", op)
	for _, r := range only {
		if r.Tenant != "myd" || r.Engine != "mysql" {
			t.Fatalf("?tenant=myd shows %+v", r)
		}
	}
	if r := a.call(t, "POST", "/api/v1/tenant/statements/reset", op, nil); r.Status != http.StatusOK {
		t.Fatalf("reset: HTTP %d %s", r.Status, r.Body)
	}
	for _, r := range a.statements(t, "/api/v1/admin/statements?limit=0", op) {
		if r.Tenant == "pgd" {
			t.Fatalf("pgd digest after its reset: %+v", r)
		}
	}
	// Prometheus carries no fingerprint.
	m := a.call(t, "GET", "/metrics", "", nil)
	if !strings.Contains(string(m.Body), `tenantproxy_statement_digests{tenant="myd"}`) {
		t.Fatalf("no digest gauge in /metrics")
	}
	for _, r := range all {
		if strings.Contains(string(m.Body), r.Fingerprint) {
			t.Fatalf("/metrics carries fingerprint %s", r.Fingerprint)
		}
	}
}
