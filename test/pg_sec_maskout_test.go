package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPGSecMaskLateralStar: a LATERAL sub-select's star over an outer table
// with masked columns carries them; its alias, selected whole or through a
// column alias list, must not return them in clear (the proxy refuses), and
// the masked column named through it comes back masked. Neither may a
// function over the whole row in attribute notation (i.to_jsonb).
func TestPGSecMaskLateralStar(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	// Control: the statements leak on the server itself, so a refusal by
	// the proxy is what keeps the values in.
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+f.alphaDB+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	leaks := []string{
		"SELECT f FROM items i, LATERAL (SELECT i.*) f",
		"SELECT f FROM items i JOIN LATERAL (SELECT i.*) f ON true",
		"SELECT f FROM items i, LATERAL (SELECT * FROM (SELECT i.*) y) f",
		"SELECT f.c FROM items i, LATERAL (SELECT i.*) f(a, b, c)",
		"SELECT f FROM public.items, LATERAL (SELECT public.items.*) f",
		// r.f, when f is no column of r, is the call f(r) on r's whole row.
		"SELECT i.to_jsonb FROM items i",
		"SELECT items.row_to_json FROM items",
		"SELECT public.items.to_json FROM public.items",
		"SELECT x.quote_literal FROM (SELECT * FROM items) x",
		"SELECT i.concat FROM items i",
		"SELECT i.jsonb_agg FROM items i",
		"SELECT f.record_out FROM items i, LATERAL (SELECT i.*) f",
	}
	for _, q := range leaks {
		if !rawContains(t, direct, q, "secret-of-alpha") {
			t.Fatalf("control: %q does not return the secret on the server", q)
		}
	}
	c, err := pgx.Connect(ctx, f.rp.pgURL("vera", "vera-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for _, q := range leaks {
			refusedLeak(t, c, m, q)
		}
	}
	// The masked column named through the lateral alias is masked; the
	// other columns come through.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		var name, secret string
		if err := c.QueryRow(ctx, "SELECT f.name, f.secret FROM items i, LATERAL (SELECT i.*) f ORDER BY f.id LIMIT 1", mode).Scan(&name, &secret); err != nil {
			t.Fatal(err)
		}
		if secret != "****" || !strings.Contains(name, "alpha") {
			t.Fatalf("lateral star: name %q secret %q, want the name and ****", name, secret)
		}
		if err := c.QueryRow(ctx, "SELECT f.name FROM items i, LATERAL (SELECT i.*) f ORDER BY f.id LIMIT 1", mode).Scan(&name); err != nil {
			t.Fatalf("lateral star without the masked column: %v", err)
		}
	}
}

// rawContains reports whether any value of q's result contains s.
func rawContains(t *testing.T, c *pgx.Conn, q, s string) bool {
	t.Helper()
	rows, err := c.Query(context.Background(), q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("control %q: %v", q, err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		for _, v := range rows.RawValues() {
			if strings.Contains(string(v), s) {
				found = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("control %q: %v", q, err)
	}
	return found
}

// refusedLeak runs q through the proxy and fails the test unless it is
// refused with a permission error without returning a masked value.
func refusedLeak(t *testing.T, c *pgx.Conn, mode pgx.QueryExecMode, q string) {
	t.Helper()
	rows, err := c.Query(context.Background(), q, mode)
	if err == nil {
		for rows.Next() {
			for _, v := range rows.RawValues() {
				if strings.Contains(string(v), "secret-of-alpha") {
					rows.Close()
					t.Fatalf("%q returned a masked value: %s", q, v)
				}
			}
		}
		err = rows.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("%q (mode %v): %v, want a permission error", q, mode, err)
	}
}

// TestPGSecMaskOwnFunction: on a database tenant, a function of the
// tenant's own database that takes the masked table's row (or any element)
// is called by attribute notation, i.f as f(i), and would return the masked
// column in clear. The proxy knows the database's functions from its catalog
// (read for roles with masks) and refuses.
func TestPGSecMaskOwnFunction(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+f.alphaDB+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	for _, ddl := range []string{
		"CREATE FUNCTION leak(items) RETURNS text LANGUAGE sql AS $$ SELECT $1.secret $$",
		"CREATE FUNCTION leak_any(anyelement) RETURNS text LANGUAGE sql AS $$ SELECT to_jsonb($1)::text $$",
		"CREATE SCHEMA IF NOT EXISTS util",
		"CREATE FUNCTION util.peek(items) RETURNS text LANGUAGE sql AS $$ SELECT $1.secret $$",
	} {
		if _, err := direct.Exec(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	leaks := []string{
		"SELECT i.leak FROM items i",
		"SELECT items.leak_any FROM items",
		"SELECT x.leak FROM items x WHERE x.id > 0",
	}
	for _, q := range leaks {
		if !rawContains(t, direct, q, "secret-of-alpha") {
			t.Fatalf("control: %q does not return the secret on the server", q)
		}
	}
	vera, err := pgx.Connect(ctx, f.rp.pgURL("vera", "vera-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer vera.Close(ctx)
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for _, q := range leaks {
			refusedLeak(t, vera, m, q)
		}
		// The table's columns through the same notation still come back.
		var name string
		if err := vera.QueryRow(ctx, "SELECT i.name FROM items i ORDER BY i.id LIMIT 1", m).Scan(&name); err != nil || !strings.Contains(name, "alpha") {
			t.Fatalf("i.name: %q %v", name, err)
		}
	}
	// Functions cannot be created through the proxy (their bodies run
	// unchecked); one created on the server directly is known at the
	// snapshot's next reading (catalog.refresh).
	alice, err := pgx.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close(ctx)
	if _, err := alice.Exec(ctx, "CREATE FUNCTION later(items) RETURNS text LANGUAGE sql AS $$ SELECT $1.secret $$"); err == nil || !strings.Contains(err.Error(), "42501") {
		t.Fatalf("CREATE FUNCTION through the proxy: %v, want 42501", err)
	}
}

// TestPGSecMaskStoredStatementRechecked: a named statement decided before a
// function of the tenant's appeared is decided again once the functions
// snapshot changes. Here a column the statement reads is replaced, on the
// server directly, by a function of the same name over the masked table's
// row, so the stored text now calls it.
func TestPGSecMaskStoredStatementRechecked(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "maskstored")
	pgExec(t, db, "CREATE TABLE items (id int PRIMARY KEY, note text, secret text)",
		"INSERT INTO items VALUES (1, 'plain', 'secret-stored-1')")
	rp := startProxy(t, fmt.Sprintf(`
catalog: {refresh: 1s}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     roles: {viewer: {masked_columns: [items.secret]}}}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
`, db))
	ctx := context.Background()
	c, err := pgx.Connect(ctx, rp.pgURL("vera", "vera-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Prepare(ctx, "s1", "SELECT i.note FROM items i"); err != nil {
		t.Fatal(err)
	}
	var note string
	if err := c.QueryRow(ctx, "s1").Scan(&note); err != nil || note != "plain" {
		t.Fatalf("s1 before: %q %v", note, err)
	}
	pgExec(t, db, "ALTER TABLE items DROP COLUMN note",
		"CREATE FUNCTION note(items) RETURNS text LANGUAGE sql AS $$ SELECT $1.secret $$")
	// Control: on the server the same text now returns the secret.
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	if !rawContains(t, direct, "SELECT i.note FROM items i", "secret-stored-1") {
		t.Fatal("control: i.note does not return the secret on the server")
	}
	time.Sleep(1500 * time.Millisecond) // past catalog.refresh
	rows, err := c.Query(ctx, "s1")
	if err == nil {
		for rows.Next() {
			for _, v := range rows.RawValues() {
				if strings.Contains(string(v), "secret-stored") {
					rows.Close()
					t.Fatalf("the stored statement returned a masked value: %s", v)
				}
			}
		}
		err = rows.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("stored statement after the function appeared: %v, want a permission error", err)
	}
}
