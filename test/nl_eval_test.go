package test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// requireRedis skips (or, under CI=true, fails) when Redis is down.
func requireRedis(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is not reachable at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("Redis is not reachable: %v", err)
	}
	_ = c.Close()
}

// sharedDir is ../shared, or "" when it is absent.
func sharedDir() string {
	d := filepath.Join("..", "..", "shared")
	if _, err := os.Stat(filepath.Join(d, "nl-eval", "chinook.jsonl")); err != nil {
		return ""
	}
	return d
}

// ensureChinook loads chinook_pg and chinook_my from ../shared when they
// are missing, with the commands of ../shared/datasets/README.md.
func ensureChinook(t testing.TB, shared string) {
	t.Helper()
	requirePostgres(t)
	requireMySQL(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	_ = c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = 'chinook_pg'").Scan(&n)
	_ = c.Close(ctx)
	if n == 0 {
		script := fmt.Sprintf(`set -e; P="psql -X -q -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1"
$P -d postgres -c "CREATE DATABASE chinook_pg ENCODING 'UTF8' TEMPLATE template0"
sed -e '/^DROP DATABASE IF EXISTS chinook;/d' -e '/^CREATE DATABASE chinook;/d' -e '/^\\c chinook;/d' %s | $P -d chinook_pg`,
			filepath.Join(shared, "datasets", "chinook", "Chinook_PostgreSql.sql"))
		if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("load chinook_pg: %v\n%s", err, out)
		}
	}
	db, err := sql.Open("mysql", myAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.QueryRow("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'chinook_my'").Scan(&n)
	if n == 0 {
		script := fmt.Sprintf("set -e; M=\"mariadb --protocol=TCP -h 127.0.0.1 -P 3306 -uroot --default-character-set=utf8mb4\"\n"+
			"$M -e 'CREATE DATABASE chinook_my CHARACTER SET utf8mb4'\n"+
			"{ echo \"SET SESSION sql_mode=CONCAT(@@sql_mode,',NO_BACKSLASH_ESCAPES');\"; sed -e '/^DROP DATABASE IF EXISTS `Chinook`;/d' -e '/^CREATE DATABASE `Chinook`;/d' -e '/^USE `Chinook`;/d' %s; } | $M chinook_my",
			filepath.Join(shared, "datasets", "chinook", "Chinook_MySql.sql"))
		if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("load chinook_my: %v\n%s", err, out)
		}
	}
}

const chinookYAML = `
tenants:
  - id: chinook_pg
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/chinook_pg?sslmode=disable"
  - id: chinook_my
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/chinook_my"
users:
  - name: eval
    password: "eval-secret"
    tenants: {chinook_pg: analyst, chinook_my: analyst}
  - name: peek
    password: "peek-secret"
    tenants: {chinook_pg: viewer, chinook_my: viewer}
`

// goldRows runs gold SQL directly on the database.
func goldRows(t testing.TB, engine, q string) [][]any {
	t.Helper()
	ctx := context.Background()
	var out [][]any
	if engine == "postgres" {
		c, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/chinook_pg?", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		rows, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("gold %s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			row := make([]any, len(rows.RawValues()))
			for i, v := range rows.RawValues() {
				if v != nil {
					row[i] = string(v)
				}
			}
			out = append(out, row)
		}
		return out
	}
	db, err := sql.Open("mysql", myAdminDSN+"chinook_my")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("gold %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		_ = rows.Scan(ptrs...)
		row := make([]any, len(cols))
		for i, v := range raw {
			if v != nil {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	return out
}

// TestNLEvalChinook measures execution accuracy through the admin API, as
// ../shared/nl-eval/README.md describes, per engine, and checks that no
// answer ran SQL the role may not run (every answer went through policy
// as a single read statement).
func TestNLEvalChinook(t *testing.T) {
	shared := sharedDir()
	if shared == "" {
		t.Skip("../shared/nl-eval is absent")
	}
	ensureChinook(t, shared)
	items, err := evalset.Load(filepath.Join(shared, "nl-eval", "chinook.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, chinookYAML)
	for _, engine := range []string{"postgres", "mysql"} {
		tenant := map[string]string{"postgres": "chinook_pg", "mysql": "chinook_my"}[engine]
		tok := a.login(t, "eval", "eval-secret", tenant)
		right, answered := 0, 0
		var wrong, declined []string
		for _, it := range items {
			gsql := it.GoldPostgres
			if engine == "mysql" {
				gsql = it.GoldMySQL
			}
			gold := goldRows(t, engine, gsql)
			r := a.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"query": it.Question, "max_results": 10000, "cache_enabled": false}, "X-Tenant-ID", tenant)
			if r.Status != 200 {
				if r.Status != 422 {
					t.Errorf("%s %s: HTTP %d %s", engine, it.ID, r.Status, r.Body)
				}
				declined = append(declined, it.ID)
				continue
			}
			answered++
			var resp struct {
				SQL  string  `json:"generated_sql"`
				Rows [][]any `json:"rows"`
			}
			dec := json.NewDecoder(strings.NewReader(string(r.Body)))
			dec.UseNumber()
			if err := dec.Decode(&resp); err != nil {
				t.Fatal(err)
			}
			if evalset.Match(gold, resp.Rows, evalset.AsksOrder(it.Question, gsql)) {
				right++
			} else {
				wrong = append(wrong, it.ID)
				if os.Getenv("NL_VERBOSE") != "" {
					t.Logf("%s %s wrong: %q\n  %s", engine, it.ID, it.Question, resp.SQL)
				}
			}
		}
		sort.Strings(wrong)
		acc := float64(right) / float64(len(items))
		prec := 0.0
		if answered > 0 {
			prec = float64(right) / float64(answered)
		}
		t.Logf("%s: execution accuracy %d/%d = %.1f%%; answered %d, precision %.1f%%; wrong %v; declined %v",
			engine, right, len(items), 100*acc, answered, 100*prec, wrong, declined)
		if acc < 0.6 {
			t.Errorf("%s: execution accuracy %.1f%% is under the 60%% target", engine, 100*acc)
		}
	}
}

// TestNLMySQLTenant asks questions of a MariaDB tenant, with Redis, and
// checks that a viewer's answers are masked and capped.
func TestNLMySQLTenant(t *testing.T) {
	shared := sharedDir()
	if shared == "" {
		t.Skip("../shared is absent")
	}
	ensureChinook(t, shared)
	requireRedis(t)
	a := startAPI(t, chinookYAML+"redis: {addr: \"127.0.0.1:6379\"}\n"+`
roles:
  viewer:
    max_rows: 5
    masked_columns: ["customer.email"]
`)
	tok := a.login(t, "eval", "eval-secret", "chinook_my")
	r := a.ask(t, tok, "How many customers are there in total?")
	if m := r.JSON(t); r.Status != 200 || fmt.Sprint(m["rows"]) != "[[59]]" || !strings.Contains(m["generated_sql"].(string), "`Customer`") {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	if m := a.ask(t, tok, "How many customers are there in total?").JSON(t); m["cached"] != true {
		t.Fatalf("not cached: %v", m)
	}
	peek := a.login(t, "peek", "peek-secret", "chinook_my")
	v := a.ask(t, peek, "Show all customers from Brazil")
	vm := v.JSON(t)
	if v.Status != 200 || vm["security_filtered"] != true || strings.Contains(string(v.Body), "@") || len(vm["rows"].([]any)) != 5 {
		t.Fatalf("viewer: %s", v.Body)
	}
	e := a.call(t, "POST", "/api/v1/tenant/query/export?export_format=csv", tok, map[string]any{"query": "List all genres"})
	if e.Status != 200 || strings.Count(string(e.Body), "\n") != 26 {
		t.Fatalf("export: HTTP %d %s", e.Status, e.Body)
	}
}
