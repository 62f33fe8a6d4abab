package test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

// sqliteFile creates an SQLite database file with customers and orders;
// marker distinguishes two tenants' data.
func sqliteFile(t *testing.T, marker string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), marker+".db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, country TEXT)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), amount REAL, created TEXT)`,
		fmt.Sprintf(`INSERT INTO customers VALUES (1,'Ann %[1]s','ann@%[1]s.example','Brazil'),(2,'Bob %[1]s','bob@%[1]s.example','Chile'),
			(3,'Cid %[1]s','cid@%[1]s.example','Brazil'),(4,'Dee %[1]s','dee@%[1]s.example','Peru'),(5,'Eve %[1]s',NULL,'Chile')`, marker),
		`INSERT INTO orders VALUES (1,1,10.5,'2024-01-03'),(2,1,20,'2024-02-01'),(3,2,7.25,'2023-12-30'),(4,3,100,'2024-03-09')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

func newSQLiteAPI(t *testing.T) (*apiServer, string, string) {
	t.Helper()
	a, b := sqliteFile(t, "lite_a"), sqliteFile(t, "lite_b")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - id: lite
    engine: sqlite
    dsn: "file:%s"
    roles: {viewer: {max_rows: 3, masked_columns: [customers.email]}}
  - id: other
    engine: sqlite
    dsn: "file:%s"
users:
  - {name: vera, password: vera-pw, tenants: {lite: viewer}}
  - {name: ann, password: ann-pw, tenants: {lite: analyst}}
  - {name: ed, password: ed-pw, tenants: {lite: editor, other: editor}}
`, a, b))
	return api, a, b
}

func (a *apiServer) sqlQuery(t *testing.T, tok, q string) (int, map[string]any) {
	t.Helper()
	r := a.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"sql": q, "cache_enabled": false})
	return r.Status, r.JSON(t)
}

// TestSQLiteTenant serves an SQLite tenant through the admin API under the
// same policy as the SQL engines.
func TestSQLiteTenant(t *testing.T) {
	api, _, otherPath := newSQLiteAPI(t)
	vera := api.login(t, "vera", "vera-pw", "lite")
	ann := api.login(t, "ann", "ann-pw", "lite")
	ed := api.login(t, "ed", "ed-pw", "lite")

	t.Run("viewer: cap and mask", func(t *testing.T) {
		st, m := api.sqlQuery(t, vera, "SELECT id, name, email FROM customers ORDER BY id")
		if st != 200 {
			t.Fatalf("HTTP %d %v", st, m)
		}
		rows := m["rows"].([]any)
		if len(rows) != 3 || m["truncated"] != true {
			t.Fatalf("%d rows truncated=%v, want 3 and true (cap 3 of 5)", len(rows), m["truncated"])
		}
		for _, r := range rows {
			if e := r.([]any)[2]; e != "****" {
				t.Errorf("email %v, want ****", e)
			}
		}
		// The alias of a masked column is masked too.
		st, m = api.sqlQuery(t, vera, "SELECT c.email AS contact FROM customers c WHERE c.id = 2")
		if st != 200 || fmt.Sprint(m["rows"]) != "[[****]]" {
			t.Fatalf("aliased masked column: HTTP %d %v", st, m["rows"])
		}
		if st, m = api.sqlQuery(t, vera, "SELECT count(*) FROM customers"); st != 200 || m["truncated"] != false {
			t.Fatalf("count: HTTP %d %v", st, m)
		}
	})

	t.Run("viewer: masked columns only as plain output", func(t *testing.T) {
		for _, q := range []string{
			"SELECT * FROM customers",
			"SELECT id FROM customers WHERE email LIKE 'ann%'",
			"SELECT id FROM customers ORDER BY email",
			"SELECT upper(email) FROM customers",
			"SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.email = 'ann@lite_a.example')",
			"SELECT e FROM (SELECT email AS e FROM customers) x",
			"WITH x AS (SELECT email FROM customers) SELECT * FROM x",
		} {
			if st, m := api.sqlQuery(t, vera, q); st == 200 {
				t.Errorf("%s: HTTP 200 %v, want a refusal", q, m["rows"])
			}
		}
		// The analyst reads the column in clear.
		st, m := api.sqlQuery(t, ann, "SELECT email FROM customers WHERE id = 1")
		if st != 200 || fmt.Sprint(m["rows"]) != "[[ann@lite_a.example]]" {
			t.Fatalf("analyst: HTTP %d %v", st, m["rows"])
		}
	})

	t.Run("SQLite dialect through the policy's rendering", func(t *testing.T) {
		for q, want := range map[string]string{
			"SELECT strftime('%Y', created) AS y, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1":                                                           "[[2023 1] [2024 3]]",
			"SELECT name || '!' FROM customers WHERE country IN ('Peru') ":                                                                                   "[[Dee lite_a!]]",
			"SELECT round(CAST(sum(amount) AS REAL) / NULLIF(count(*), 0), 2) FROM orders":                                                                   "[[34.44]]",
			"SELECT c.country, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.country HAVING count(o.id) > 1 ORDER BY 1": "[[Brazil 3]]",
			"SELECT id FROM customers WHERE id BETWEEN 2 AND 3 ORDER BY id LIMIT 1 OFFSET 1":                                                                 "[[3]]",
			"SELECT coalesce(email, 'none') FROM customers WHERE id = 5":                                                                                     "[[none]]",
		} {
			st, m := api.sqlQuery(t, ann, q)
			if st != 200 || fmt.Sprint(m["rows"]) != want {
				t.Errorf("%s: HTTP %d %v, want %s (%v)", q, st, m["rows"], want, m["error"])
			}
		}
	})

	t.Run("refused statements", func(t *testing.T) {
		for _, tok := range []string{ann, ed} {
			for _, q := range []string{
				"ATTACH DATABASE '" + otherPath + "' AS o",
				"PRAGMA writable_schema = ON",
				"SELECT load_extension('/tmp/x')",
				"SELECT * FROM o.customers",
				"SELECT readfile('/etc/passwd')",
				"DROP TABLE customers",
				"CREATE TABLE x (a int)",
				"SELECT 1; DELETE FROM customers",
			} {
				if st, m := api.sqlQuery(t, tok, q); st == 200 {
					t.Errorf("%s: HTTP 200 %v, want a refusal", q, m)
				}
			}
		}
		if st, _ := api.sqlQuery(t, vera, "UPDATE customers SET name = 'x' WHERE id = 1"); st != 403 {
			t.Errorf("viewer UPDATE: HTTP %d, want 403", st)
		}
	})

	t.Run("the API runs reads only; the file stays as it was", func(t *testing.T) {
		if st, m := api.sqlQuery(t, ed, "UPDATE customers SET country = 'Chile' WHERE id = 4"); st != 403 {
			t.Fatalf("UPDATE through the API: HTTP %d %v, want 403", st, m)
		}
		if _, m := api.sqlQuery(t, ann, "SELECT country FROM customers WHERE id = 4"); fmt.Sprint(m["rows"]) != "[[Peru]]" {
			t.Fatalf("after the refused UPDATE: %v", m["rows"])
		}
		// The other tenant's file is the other tenant's.
		edOther := api.login(t, "ed", "ed-pw", "other")
		if _, m := api.sqlQuery(t, edOther, "SELECT name FROM customers WHERE id = 1"); fmt.Sprint(m["rows"]) != "[[Ann lite_b]]" {
			t.Fatalf("other tenant: %v", m["rows"])
		}
		if _, m := api.sqlQuery(t, ann, "SELECT name FROM customers WHERE id = 1"); fmt.Sprint(m["rows"]) != "[[Ann lite_a]]" {
			t.Fatalf("own tenant: %v", m["rows"])
		}
	})

	t.Run("question, schema, export, health", func(t *testing.T) {
		r := api.ask(t, ann, "how many customers")
		if r.Status != 200 || fmt.Sprint(r.JSON(t)["rows"]) != "[[5]]" {
			t.Fatalf("question: HTTP %d %s", r.Status, r.Body)
		}
		r = api.call(t, "GET", "/api/v1/tenant/schema", ann, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"customers"`) || !strings.Contains(string(r.Body), `"sqlite"`) {
			t.Fatalf("schema: HTTP %d %s", r.Status, r.Body)
		}
		req, _ := http.NewRequest("POST", api.URL+"/api/v1/tenant/query/export?export_format=csv", strings.NewReader(`{"sql":"SELECT id, email FROM customers ORDER BY id"}`))
		req.Header.Set("Authorization", "Bearer "+vera)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Count(string(body), "****") != 3 || strings.Contains(string(body), "@") {
			t.Fatalf("export: HTTP %d %s", resp.StatusCode, body)
		}
		if r = api.call(t, "GET", "/api/v1/tenant/health", ann, nil); r.Status != 200 {
			t.Fatalf("health: HTTP %d %s", r.Status, r.Body)
		}
	})

	t.Run("a wire client is told the tenant is served through the API", func(t *testing.T) {
		_, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://ann:ann-pw@%s/lite?sslmode=disable", api.PGAddr))
		if err == nil || !strings.Contains(err.Error(), "admin API only") {
			t.Fatalf("connect: %v", err)
		}
	})
}
