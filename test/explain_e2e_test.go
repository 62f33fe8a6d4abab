package test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const explainYAML = `
tenants:
  - id: pge
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      viewer:
        max_rows: 2
        masked_columns: ["items.secret"]
        row_filters: {items: "price < 100"}
  - id: mye
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
    roles:
      viewer:
        max_rows: 2
        masked_columns: ["items.secret"]
        row_filters: {items: "price < 100"}
users:
  - name: vic
    password: "vic-pw"
    tenants: {pge: viewer, mye: viewer}
  - name: ana
    password: "ana-pw"
    tenants: {pge: analyst, mye: analyst}
  - name: adm
    password: "adm-pw"
    tenants: {pge: admin, mye: admin}
`

type explainAnswer struct {
	Allowed   bool     `json:"allowed"`
	Role      string   `json:"role"`
	User      string   `json:"user"`
	Class     string   `json:"class"`
	SQL       string   `json:"sql"`
	Rewritten bool     `json:"rewritten"`
	Capped    bool     `json:"capped"`
	Masked    []string `json:"masked_columns"`
	Reasons   []string `json:"reasons"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (a *apiServer) explain(t *testing.T, token string, body map[string]string) explainAnswer {
	t.Helper()
	r := a.call(t, "POST", "/api/v1/tenant/policy/explain", token, body)
	if r.Status != http.StatusOK {
		t.Fatalf("explain %v: HTTP %d %s", body, r.Status, r.Body)
	}
	var x explainAnswer
	if err := json.Unmarshal(r.Body, &x); err != nil {
		t.Fatal(err)
	}
	return x
}

func explainDBs(t *testing.T) *apiServer {
	requirePostgres(t)
	requireMySQL(t)
	pgdb := tempPGDatabase(t, "explain")
	pgExec(t, pgdb, "CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL, secret text)",
		"INSERT INTO items SELECT g, g * 20, 's' || g FROM generate_series(1, 10) g",
		// A function of the tenant's over the masked table's row: i.leak
		// reads items.secret (the functions snapshot refuses it).
		"CREATE FUNCTION leak(items) RETURNS text LANGUAGE sql AS $$ SELECT $1.secret $$")
	mydb := tempMyDatabase(t, "explain")
	myExec(t, mydb, "CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL, secret text)",
		"INSERT INTO items VALUES (1,20,'s1'),(2,40,'s2'),(3,60,'s3'),(4,80,'s4'),(5,100,'s5'),(6,120,'s6')",
		"CREATE TABLE policy (id int, note text)")
	return startAPI(t, fmt.Sprintf(explainYAML, pgdb, mydb))
}

// explainCases are run both as a dry-run and for real: they must agree.
var explainCases = []struct{ user, sql string }{
	{"vic", "SELECT id, price, secret FROM items WHERE id > 0 ORDER BY id"},
	{"vic", "DELETE FROM items WHERE id = 1"},
	{"vic", "SELECT count(*) FROM items"},
	{"ana", "SELECT id FROM items ORDER BY id"},
	{"ana", "UPDATE items SET price = 1 WHERE id = 99"},
	{"ana", "CREATE TABLE t2 (a int)"},
	{"adm", "UPDATE items SET price = price WHERE id = 99"},
	{"ana", "SELEC oops"},
}

// pgExplainCases are Postgres-only: decided on the tenant's functions.
var pgExplainCases = []struct{ user, sql string }{
	{"vic", "SELECT i.leak FROM items i"},
	{"ana", "SELECT i.leak FROM items i"},
}

// TestExplainAgreesWithRealRun: for each case the dry-run on the API says
// allowed exactly when the statement runs through the wire, and a refusal
// carries the code the wire client gets.
func TestExplainAgreesWithRealRun(t *testing.T) {
	a := explainDBs(t)
	ctx := context.Background()
	for _, tenant := range []string{"pge", "mye"} {
		cases := explainCases
		if tenant == "pge" {
			cases = append(cases[:len(cases):len(cases)], pgExplainCases...)
		}
		for _, c := range cases {
			tok := a.login(t, c.user, c.user+"-pw", tenant)
			x := a.explain(t, tok, map[string]string{"sql": c.sql})
			var code string
			var err error
			if tenant == "pge" {
				conn, cerr := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s-pw@%s/pge?sslmode=disable", c.user, c.user, a.PGAddr))
				if cerr != nil {
					t.Fatal(cerr)
				}
				_, err = conn.Exec(ctx, c.sql, pgx.QueryExecModeSimpleProtocol)
				_ = conn.Close(ctx)
				var pe *pgconn.PgError
				if errors.As(err, &pe) {
					code = pe.Code
				}
			} else {
				db, _ := sql.Open("mysql", fmt.Sprintf("%s:%s-pw@tcp(%s)/mye?timeout=5s", c.user, c.user, a.MySQLAddr))
				_, err = db.Exec(c.sql)
				_ = db.Close()
				var me *mysql.MySQLError
				if errors.As(err, &me) {
					code = fmt.Sprint(me.Number)
				}
			}
			if x.Allowed != (err == nil) {
				t.Errorf("%s %s %q: dry-run allowed=%v, real run error %v", tenant, c.user, c.sql, x.Allowed, err)
				continue
			}
			if !x.Allowed && (x.Error == nil || x.Error.Code != code || !strings.Contains(err.Error(), x.Error.Message)) {
				t.Errorf("%s %s %q: dry-run error %+v, real run %s %v", tenant, c.user, c.sql, x.Error, code, err)
			}
			if len(x.Reasons) == 0 {
				t.Errorf("%s %q: no reasons", tenant, c.sql)
			}
		}
	}
}

// TestExplainReasons: the viewer's SELECT shows its LIMIT, mask and row
// filter in words; admins explain for others, others may not.
func TestExplainReasons(t *testing.T) {
	a := explainDBs(t)
	for _, tenant := range []string{"pge", "mye"} {
		vic := a.login(t, "vic", "vic-pw", tenant)
		x := a.explain(t, vic, map[string]string{"sql": "SELECT id, secret FROM items"})
		all := strings.Join(x.Reasons, "\n")
		for _, want := range []string{"LIMIT 2", "column items.secret is masked", "row filter of role viewer on table items: price < 100"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: no reason %q in:\n%s", tenant, want, all)
			}
		}
		if !x.Allowed || !x.Rewritten || !x.Capped || !strings.Contains(strings.ToLower(x.SQL), "limit 3") || !strings.Contains(x.SQL, "100") {
			t.Errorf("%s: viewer select: %+v", tenant, x)
		}
		if x := a.explain(t, vic, map[string]string{"sql": "DROP TABLE items"}); x.Allowed || x.Error == nil ||
			!strings.Contains(strings.Join(x.Reasons, " "), "refused under role viewer") {
			t.Errorf("%s: viewer DROP: %+v", tenant, x)
		}
		// The viewer may not explain as someone else.
		if r := a.call(t, "POST", "/api/v1/tenant/policy/explain", vic, map[string]string{"sql": "SELECT 1", "role": "admin"}); r.Status != http.StatusForbidden {
			t.Errorf("%s: viewer as admin: HTTP %d %s", tenant, r.Status, r.Body)
		}
		adm := a.login(t, "adm", "adm-pw", tenant)
		ax := a.explain(t, adm, map[string]string{"sql": "DELETE FROM items WHERE id = 1", "user": "vic"})
		if ax.Allowed || ax.User != "vic" || ax.Role != "viewer" {
			t.Errorf("%s: admin explains vic's DELETE: %+v", tenant, ax)
		}
		ax = a.explain(t, adm, map[string]string{"sql": "DELETE FROM items WHERE id = 1", "role": "editor"})
		if !ax.Allowed || ax.Role != "editor" || ax.Class != "write" {
			t.Errorf("%s: admin explains as editor: %+v", tenant, ax)
		}
		r := a.call(t, "POST", "/api/v1/tenant/policy/explain", adm, map[string]string{"sql": "SELECT 1", "role": "nosuch"})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "role") {
			t.Errorf("%s: unknown role: HTTP %d %s", tenant, r.Status, r.Body)
		}
		r = a.call(t, "POST", "/api/v1/tenant/policy/explain", adm, map[string]string{"sql": "SELECT 1", "user": "nobody"})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "user") {
			t.Errorf("%s: unknown user: HTTP %d %s", tenant, r.Status, r.Body)
		}
	}
}

// TestExplainPolicyWire: EXPLAIN POLICY on both front ends answers the
// dry-run as rows for an admin, and refuses anyone else.
func TestExplainPolicyWire(t *testing.T) {
	a := explainDBs(t)
	ctx := context.Background()
	pgRows := func(user, q string) (map[string][]string, error) {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s-pw@%s/pge?sslmode=disable", user, user, a.PGAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, err
		}
		out := map[string][]string{}
		for rows.Next() {
			var f, v string
			if err := rows.Scan(&f, &v); err != nil {
				t.Fatal(err)
			}
			out[f] = append(out[f], v)
		}
		return out, rows.Err()
	}
	myRows := func(user, q string) (map[string][]string, error) {
		db, _ := sql.Open("mysql", fmt.Sprintf("%s:%s-pw@tcp(%s)/mye?timeout=5s", user, user, a.MySQLAddr))
		defer db.Close()
		rows, err := db.Query(q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string][]string{}
		for rows.Next() {
			var f, v string
			if err := rows.Scan(&f, &v); err != nil {
				t.Fatal(err)
			}
			out[f] = append(out[f], v)
		}
		return out, rows.Err()
	}
	for name, run := range map[string]func(string, string) (map[string][]string, error){"postgres": pgRows, "mysql": myRows} {
		got, err := run("adm", "EXPLAIN POLICY SELECT id, secret FROM items")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got["allowed"][0] != "true" || got["class"][0] != "read" || got["rewritten"][0] != "false" || len(got["reason"]) == 0 {
			t.Errorf("%s: admin's select: %v", name, got)
		}
		got, err = run("adm", "explain policy SELEC oops")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]string{"postgres": "42601", "mysql": "1064"}[name]
		if got["allowed"][0] != "false" || got["error_code"][0] != want {
			t.Errorf("%s: syntax error explained as %v", name, got)
		}
		if name == "mysql" {
			// EXPLAIN tbl col is MySQL's DESCRIBE of a column: not intercepted.
			db, _ := sql.Open("mysql", fmt.Sprintf("vic:vic-pw@tcp(%s)/mye?timeout=5s", a.MySQLAddr))
			rows, err := db.Query("EXPLAIN policy id")
			if err != nil {
				t.Fatalf("EXPLAIN policy id: %v", err)
			}
			cols, _ := rows.Columns()
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			db.Close()
			if n != 1 || len(cols) < 6 {
				t.Errorf("EXPLAIN policy id: %d rows, columns %v", n, cols)
			}
		}
		// Not for a viewer: refused with the privilege error, nothing run.
		_, err = run("vic", "EXPLAIN POLICY SELECT 1")
		if err == nil || !strings.Contains(err.Error(), "EXPLAIN POLICY needs the admin role") {
			t.Errorf("%s: viewer's EXPLAIN POLICY: %v", name, err)
		}
	}
}
