package test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A function, procedure or view defined in the database runs with the
// backend account's rights: its body reads the tables unfiltered and
// unmasked. These tests hold every such path to the role's read rules
// (masked columns, denied tables, row filters) and to row isolation, on
// both engines, through real clients. Each probe first runs on the server
// directly as a control, where it returns the secret; through the proxy it
// must be refused with a permission error, in each protocol. A role
// without read rules keeps calling the same function, and a view over
// tables no rule covers keeps working.

// ownProbe is a statement and the text its rows carry on the server.
type ownProbe struct{ sql, needle string }

// ownPGRows runs q on c in mode and returns its values joined, or the error.
func ownPGRows(c *pgx.Conn, mode pgx.QueryExecMode, q string) (string, error) {
	rows, err := c.Query(context.Background(), q, mode)
	if err != nil {
		return "", err
	}
	var out []string
	for rows.Next() {
		for _, v := range rows.RawValues() {
			out = append(out, string(v))
		}
	}
	rows.Close()
	return strings.Join(out, "|"), rows.Err()
}

// ownPGRefused checks probes for user on tenant: control on database db,
// then a 42501 refusal through the proxy by both protocols.
func ownPGRefused(t *testing.T, rp *runningProxy, db, user, tenant string, probes []ownProbe) {
	t.Helper()
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	c, err := pgx.Connect(ctx, rp.pgURL(user, "pw", tenant))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, p := range probes {
		got, err := ownPGRows(direct, pgx.QueryExecModeSimpleProtocol, p.sql)
		if err != nil || !strings.Contains(got, p.needle) {
			t.Fatalf("control: %q on the server: %q, %v; want %q", p.sql, got, err, p.needle)
		}
		for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
			got, err := ownPGRows(c, m, p.sql)
			var pe *pgconn.PgError
			switch {
			case strings.Contains(got, p.needle):
				t.Errorf("%s on %s: %q (mode %v) returned %q", user, tenant, p.sql, m, p.needle)
			case !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "permission denied"):
				t.Errorf("%s on %s: %q (mode %v): %q, %v; want a 42501 permission error", user, tenant, p.sql, m, got, err)
			}
		}
	}
}

// ownPGAllowed checks that user reads want from q through the proxy.
func ownPGAllowed(t *testing.T, rp *runningProxy, user, tenant, q, want string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, rp.pgURL(user, "pw", tenant))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	got, err := ownPGRows(c, pgx.QueryExecModeSimpleProtocol, q)
	if err != nil || got != want {
		t.Errorf("%s on %s: %q: %q, %v; want %q", user, tenant, q, got, err, want)
	}
}

func TestOwnCodeFollowsReadRulesPG(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "owncode")
	pgExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, name text, secret text)",
		"INSERT INTO items VALUES (1, 'one', 'secret-one'), (2, 'two', 'secret-two')",
		"CREATE TABLE salaries (id int PRIMARY KEY, amount text)",
		"INSERT INTO salaries VALUES (1, 'salary-999')",
		"CREATE TABLE names (id int PRIMARY KEY, name text)",
		"INSERT INTO names VALUES (1, 'plain-name')",
		"CREATE FUNCTION secret_of(i int) RETURNS text LANGUAGE sql AS 'SELECT secret FROM items WHERE id = i'",
		"CREATE FUNCTION all_items() RETURNS SETOF items LANGUAGE sql AS 'SELECT * FROM items'",
		"CREATE FUNCTION salary_of(i int) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT amount FROM salaries WHERE id = i); END $$",
		"CREATE VIEW v_fn AS SELECT id, secret_of(id) AS s FROM names",
		"CREATE VIEW v_fn2 AS SELECT * FROM v_fn",
		"CREATE MATERIALIZED VIEW m_fn AS SELECT secret_of(1) AS s",
		"CREATE VIEW v_sal AS SELECT * FROM salaries",
		"CREATE VIEW v_items AS SELECT id, secret FROM items",
		"CREATE VIEW v_names AS SELECT name FROM names",
		// Code called without its name: an operator, a cast.
		"CREATE FUNCTION op_secret(int, int) RETURNS text LANGUAGE sql AS 'SELECT secret FROM items WHERE id = $1'",
		"CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = op_secret)",
		"CREATE TYPE wrapped AS (v text)",
		"CREATE FUNCTION to_wrapped(int) RETURNS wrapped LANGUAGE sql AS 'SELECT ROW(secret)::wrapped FROM items WHERE id = $1'",
		"CREATE CAST (int AS wrapped) WITH FUNCTION to_wrapped(int)",
		"CREATE VIEW v_op AS SELECT 1 ### 1 AS s",
		"CREATE VIEW v_cast AS SELECT (1::wrapped).v AS s",
	)
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - id: acme
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      viewer: {masked_columns: [items.secret]}
      limited: {access: read, denied_tables: [salaries]}
      filtered: {access: read, row_filters: {items: "id = 1"}}
users:
  - {name: vera, password: pw, tenants: {acme: viewer}}
  - {name: lim, password: pw, tenants: {acme: limited}}
  - {name: fil, password: pw, tenants: {acme: filtered}}
  - {name: ana, password: pw, tenants: {acme: analyst}}
`, db))
	ownPGRefused(t, rp, db, "vera", "acme", []ownProbe{
		{"SELECT secret_of(1)", "secret-one"},
		{"SELECT * FROM all_items()", "secret-one"},
		{"SELECT (all_items()).secret", "secret-one"},
		{"SELECT s FROM v_fn", "secret-one"},
		{"SELECT s FROM v_fn2", "secret-one"},
		{"SELECT s FROM m_fn", "secret-one"},
		{"SELECT secret FROM v_items", "secret-one"},
		{"SELECT 1 ### 1", "secret-one"},
		{"SELECT 1 OPERATOR(public.###) 1", "secret-one"},
		{"SELECT (1::wrapped).v", "secret-one"},
		{"SELECT (CAST(1 AS public.wrapped)).v", "secret-one"},
		{"SELECT s FROM v_op", "secret-one"},
		{"SELECT s FROM v_cast", "secret-one"},
	})
	ownPGRefused(t, rp, db, "lim", "acme", []ownProbe{
		{"SELECT salary_of(1)", "salary-999"},
		{"SELECT amount FROM v_sal", "salary-999"},
	})
	ownPGRefused(t, rp, db, "fil", "acme", []ownProbe{
		{"SELECT secret_of(2)", "secret-two"},
		{"SELECT secret FROM v_items WHERE id = 2", "secret-two"},
	})
	// What no rule covers still works.
	ownPGAllowed(t, rp, "vera", "acme", "SELECT name FROM v_names", "plain-name")
	ownPGAllowed(t, rp, "vera", "acme", "SELECT secret FROM items WHERE id = 1", "****")
	ownPGAllowed(t, rp, "fil", "acme", "SELECT secret FROM items", "secret-one")
	ownPGAllowed(t, rp, "ana", "acme", "SELECT secret_of(2)", "secret-two")
	ownPGAllowed(t, rp, "ana", "acme", "SELECT s FROM v_fn", "secret-one")
}

func TestOwnCodeRowTenantsPG(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "ownrow")
	pgExec(t, db,
		"CREATE TABLE docs (id int PRIMARY KEY, tenant_id text, body text)",
		"INSERT INTO docs VALUES (1, 'a', 'body-of-a'), (2, 'b', 'body-of-b')",
		"CREATE FUNCTION all_docs() RETURNS text LANGUAGE sql AS 'SELECT string_agg(body, '','') FROM docs'",
		"CREATE VIEW v_docs AS SELECT tenant_id, all_docs() AS everything FROM docs",
		"CREATE VIEW v_docs2 AS SELECT * FROM v_docs",
		"CREATE VIEW v_plain AS SELECT tenant_id, body FROM docs",
		"CREATE FUNCTION op_docs(int, int) RETURNS text LANGUAGE sql AS 'SELECT string_agg(body, '','') FROM docs'",
		"CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = op_docs)",
	)
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: a, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: row, tenant_column: tenant_id}
  - {id: b, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: row, tenant_column: tenant_id}
users:
  - {name: alice, password: pw, tenants: {a: analyst}}
`, db))
	ownPGRefused(t, rp, db, "alice", "a", []ownProbe{
		{"SELECT all_docs()", "body-of-b"},
		{"SELECT everything FROM v_docs", "body-of-b"},
		{"SELECT everything FROM v_docs2", "body-of-b"},
		{"SELECT 1 ### 1", "body-of-b"},
	})
	// A view with the tenant column and no function is filtered.
	ownPGAllowed(t, rp, "alice", "a", "SELECT body FROM v_plain", "body-of-a")
}

// ownMyRows runs q (with args: a server-side prepared statement) on c and
// returns its values joined, or the error.
func ownMyRows(c interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) (string, error) {
	rows, err := c.QueryContext(context.Background(), q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals, err := scanRaw(rows, len(cols))
		if err != nil {
			return "", err
		}
		for _, v := range vals {
			out = append(out, string(v))
		}
	}
	return strings.Join(out, "|"), rows.Err()
}

// ownMyRefused is ownPGRefused on MySQL: a control as root on database
// dbName, then a refusal with code through the proxy, by the text protocol
// and by a prepared statement (a dummy placeholder).
func ownMyRefused(t *testing.T, rp *runningProxy, dbName, user, tenant string, code uint16, probes []ownProbe) {
	t.Helper()
	direct, err := sql.Open("mysql", myAdminDSN+dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	c := rp.myOpen(t, user, "pw", tenant, "")
	for _, p := range probes {
		got, err := ownMyRows(direct, p.sql)
		if err != nil || !strings.Contains(got, p.needle) {
			t.Fatalf("control: %q on the server: %q, %v; want %q", p.sql, got, err, p.needle)
		}
		for _, prepared := range []bool{false, true} {
			q, args := p.sql, []any(nil)
			if prepared {
				q, args = "SELECT * FROM ("+p.sql+") AS probe WHERE ? = 1", []any{1}
			}
			got, err := ownMyRows(c, q, args...)
			var me *mysql.MySQLError
			switch {
			case strings.Contains(got, p.needle):
				t.Errorf("%s on %s: %q returned %q", user, tenant, q, p.needle)
			case !errors.As(err, &me) || me.Number != code || !strings.Contains(me.Message, "permission denied"):
				t.Errorf("%s on %s: %q: %q, %v; want error %d", user, tenant, q, got, err, code)
			}
		}
	}
}

func ownMyAllowed(t *testing.T, rp *runningProxy, user, tenant, q, want string) {
	t.Helper()
	got, err := ownMyRows(rp.myOpen(t, user, "pw", tenant, ""), q)
	if err != nil || got != want {
		t.Errorf("%s on %s: %q: %q, %v; want %q", user, tenant, q, got, err, want)
	}
}

func TestOwnCodeFollowsReadRulesMySQL(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "owncode")
	myExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, name text, secret text)",
		"INSERT INTO items VALUES (1, 'one', 'secret-one'), (2, 'two', 'secret-two')",
		"CREATE TABLE salaries (id int PRIMARY KEY, amount text)",
		"INSERT INTO salaries VALUES (1, 'salary-999')",
		"CREATE TABLE names (id int PRIMARY KEY, name text)",
		"INSERT INTO names VALUES (1, 'plain-name')",
		"CREATE FUNCTION secret_of(i int) RETURNS text READS SQL DATA RETURN (SELECT secret FROM items WHERE id = i)",
		"CREATE FUNCTION salary_of(i int) RETURNS text READS SQL DATA RETURN (SELECT amount FROM salaries WHERE id = i)",
		"CREATE VIEW v_fn AS SELECT id, secret_of(id) AS s FROM names",
		"CREATE VIEW v_fn2 AS SELECT * FROM v_fn",
		"CREATE VIEW v_sal AS SELECT * FROM salaries",
		"CREATE VIEW v_items AS SELECT id, secret FROM items",
		"CREATE VIEW v_items2 AS SELECT * FROM v_items",
		"CREATE VIEW v_names AS SELECT name FROM names",
	)
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - id: acme
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
    roles:
      viewer: {masked_columns: [items.secret]}
      limited: {access: read, denied_tables: [salaries]}
      filtered: {access: read, row_filters: {items: "id = 1"}}
users:
  - {name: vera, password: pw, tenants: {acme: viewer}}
  - {name: lim, password: pw, tenants: {acme: limited}}
  - {name: fil, password: pw, tenants: {acme: filtered}}
  - {name: ana, password: pw, tenants: {acme: analyst}}
`, db))
	ownMyRefused(t, rp, db, "vera", "acme", 1142, []ownProbe{
		{"SELECT secret_of(1)", "secret-one"},
		{"SELECT s FROM v_fn", "secret-one"},
		{"SELECT s FROM v_fn2", "secret-one"},
		{"SELECT secret FROM v_items", "secret-one"},
		{"SELECT secret FROM v_items2", "secret-one"},
	})
	ownMyRefused(t, rp, db, "lim", "acme", 1142, []ownProbe{
		{"SELECT salary_of(1)", "salary-999"},
		{"SELECT amount FROM v_sal", "salary-999"},
	})
	ownMyRefused(t, rp, db, "fil", "acme", 1142, []ownProbe{
		{"SELECT secret_of(2)", "secret-two"},
		{"SELECT secret FROM v_items WHERE id = 2", "secret-two"},
	})
	ownMyAllowed(t, rp, "vera", "acme", "SELECT name FROM v_names", "plain-name")
	ownMyAllowed(t, rp, "vera", "acme", "SELECT secret FROM items WHERE id = 1", "****")
	ownMyAllowed(t, rp, "fil", "acme", "SELECT secret FROM items", "secret-one")
	ownMyAllowed(t, rp, "ana", "acme", "SELECT secret_of(2)", "secret-two")
	ownMyAllowed(t, rp, "ana", "acme", "SELECT s FROM v_fn", "secret-one")
}

func TestOwnCodeRowTenantsMySQL(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "ownrow")
	myExec(t, db,
		"CREATE TABLE docs (id int PRIMARY KEY, tenant_id varchar(8), body text)",
		"INSERT INTO docs VALUES (1, 'a', 'body-of-a'), (2, 'b', 'body-of-b')",
		"CREATE FUNCTION all_docs() RETURNS text READS SQL DATA RETURN (SELECT group_concat(body) FROM docs)",
		"CREATE VIEW v_docs AS SELECT tenant_id, all_docs() AS everything FROM docs",
		"CREATE VIEW v_docs2 AS SELECT * FROM v_docs",
		"CREATE VIEW v_plain AS SELECT tenant_id, body FROM docs",
	)
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: a, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[1]s", isolation: row, tenant_column: tenant_id}
  - {id: b, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[1]s", isolation: row, tenant_column: tenant_id}
users:
  - {name: alice, password: pw, tenants: {a: analyst}}
`, db))
	ownMyRefused(t, rp, db, "alice", "a", 1044, []ownProbe{
		{"SELECT all_docs()", "body-of-b"},
		{"SELECT everything FROM v_docs", "body-of-b"},
		{"SELECT everything FROM v_docs2", "body-of-b"},
	})
	ownMyAllowed(t, rp, "alice", "a", "SELECT body FROM v_plain", "body-of-a")
}
