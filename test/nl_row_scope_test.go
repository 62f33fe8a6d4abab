package test

import (
	"fmt"
	"strings"
	"testing"
)

// TestNLRowScopeValueIndex: two row-isolated tenants share one table. The
// value index a tenant's questions are linked with holds only that
// tenant's values: tenant B's city never becomes a WHERE for tenant A (not
// even an empty answer that would tell A the value exists), while B's own
// question links it. Both engines.
func TestNLRowScopeValueIndex(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	pgDB := tempPGDatabase(t, "nlrow")
	pgExec(t, pgDB,
		`CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, city varchar(40) NOT NULL, amount numeric(10,2) NOT NULL)`,
		`INSERT INTO orders VALUES (1,'a','Lisbon',10),(2,'a','Lisbon',20),(3,'a','Porto',5),(4,'b','Zanzibar',99),(5,'b','Zanzibar',1)`)
	myDB := tempMyDatabase(t, "nlrow")
	myExec(t, myDB,
		"CREATE TABLE orders (id int PRIMARY KEY, tenant_id varchar(8) NOT NULL, city varchar(40) NOT NULL, amount decimal(10,2) NOT NULL)",
		"INSERT INTO orders VALUES (1,'a','Lisbon',10),(2,'a','Lisbon',20),(3,'a','Porto',5),(4,'b','Zanzibar',99),(5,'b','Zanzibar',1)")
	yaml := fmt.Sprintf(`
tenants:
  - {id: pg_a, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: row, tenant_column: tenant_id, tenant_value: a, tenant_tables: [orders]}
  - {id: pg_b, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: row, tenant_column: tenant_id, tenant_value: b, tenant_tables: [orders]}
  - {id: my_a, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[2]s", isolation: row, tenant_column: tenant_id, tenant_value: a, tenant_tables: [orders]}
  - {id: my_b, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[2]s", isolation: row, tenant_column: tenant_id, tenant_value: b, tenant_tables: [orders]}
users:
  - {name: ann, password: "ann-secret", tenants: {pg_a: analyst, my_a: analyst}}
  - {name: bob, password: "bob-secret", tenants: {pg_b: analyst, my_b: analyst}}
`, pgDB, myDB)
	a := startAPI(t, yaml)
	for _, eng := range []string{"pg", "my"} {
		t.Run(eng, func(t *testing.T) {
			ta := a.login(t, "ann", "ann-secret", eng+"_a")
			tb := a.login(t, "bob", "bob-secret", eng+"_b")

			// Control: B's own value links for B.
			r := a.ask(t, tb, "How many orders in Zanzibar?", "cache_enabled", false)
			m := r.JSON(t)
			if r.Status != 200 || !strings.Contains(fmt.Sprint(m["generated_sql"]), "Zanzibar") || fmt.Sprint(m["rows"]) != "[[2]]" {
				t.Fatalf("tenant B: HTTP %d %s", r.Status, r.Body)
			}
			// A's own value links for A.
			r = a.ask(t, ta, "How many orders in Lisbon?", "cache_enabled", false)
			if m := r.JSON(t); r.Status != 200 || fmt.Sprint(m["rows"]) != "[[2]]" {
				t.Fatalf("tenant A, own value: HTTP %d %s", r.Status, r.Body)
			}
			// B's value is unknown to A: declined, the word reported as
			// matching nothing, no SQL written with it.
			r = a.ask(t, ta, "How many orders in Zanzibar?", "cache_enabled", false)
			if r.Status != 422 || r.ErrCode(t) != "unanswerable" {
				t.Fatalf("tenant A asking for B's value: HTTP %d %s", r.Status, r.Body)
			}
			e := r.JSON(t)["error"].(map[string]any)
			if !strings.Contains(fmt.Sprint(e["unmapped_words"]), "Zanzibar") {
				t.Fatalf("tenant A: Zanzibar not reported as unmapped: %s", r.Body)
			}
			// The schema A sees has no tenant column and no shared row count.
			s := a.call(t, "GET", "/api/v1/tenant/schema", ta, nil)
			if s.Status != 200 || strings.Contains(string(s.Body), `"name":"tenant_id"`) || strings.Contains(string(s.Body), "Zanzibar") ||
				!strings.Contains(string(s.Body), `"row_estimate":0`) {
				t.Fatalf("tenant A schema: HTTP %d %s", s.Status, s.Body)
			}
		})
	}
}

// TestNLRowFilterValueIndex: a role that sees only some rows of a table
// ({{user}} row filters) gets no value linking on that table — the value
// index was read without the role's filter, so a value of another user's
// row would otherwise turn into a WHERE (an existence oracle). A role
// without the filter links it.
func TestNLRowFilterValueIndex(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "nlrowf")
	pgExec(t, db,
		`CREATE TABLE tickets (id int PRIMARY KEY, assignee text NOT NULL, topic varchar(40) NOT NULL)`,
		`INSERT INTO tickets VALUES (1,'ann','Billing'),(2,'ann','Login'),(3,'bob','Lawsuit')`)
	a := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: desk, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     roles: {support: {access: read, row_filters: {tickets: "assignee = {{user}}"}}}}
users:
  - {name: ann, password: "ann-secret", tenants: {desk: support}}
  - {name: boss, password: "boss-secret", tenants: {desk: analyst}}
`, db))
	ann := a.login(t, "ann", "ann-secret", "desk")
	boss := a.login(t, "boss", "boss-secret", "desk")
	r := a.ask(t, boss, "How many tickets about Lawsuit?", "cache_enabled", false)
	if m := r.JSON(t); r.Status != 200 || fmt.Sprint(m["rows"]) != "[[1]]" {
		t.Fatalf("analyst: HTTP %d %s", r.Status, r.Body)
	}
	r = a.ask(t, ann, "How many tickets about Lawsuit?", "cache_enabled", false)
	if r.Status != 422 || strings.Contains(string(r.Body), "generated_sql") {
		t.Fatalf("support: bob's ticket topic linked for ann: HTTP %d %s", r.Status, r.Body)
	}
	if e := r.JSON(t)["error"].(map[string]any); !strings.Contains(fmt.Sprint(e["unmapped_words"]), "Lawsuit") {
		t.Fatalf("support: %s", r.Body)
	}
	// ann's own rows still answer.
	if r := a.ask(t, ann, "How many tickets are there?", "cache_enabled", false); fmt.Sprint(r.JSON(t)["rows"]) != "[[2]]" {
		t.Fatalf("support count: %s", r.Body)
	}
}
