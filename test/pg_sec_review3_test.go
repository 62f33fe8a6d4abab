package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// review3Probe runs q on c and reports "LEAK", "ok", or the error.
func review3Probe(c *pgx.Conn, mode pgx.QueryExecMode, q, needle string) string {
	rows, err := c.Query(context.Background(), q, mode)
	if err != nil {
		return "ERR " + err.Error()
	}
	leak := false
	for rows.Next() {
		for _, v := range rows.RawValues() {
			if strings.Contains(string(v), needle) {
				leak = true
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "ERR " + err.Error()
	}
	if leak {
		return "LEAK"
	}
	return "ok"
}

// review3Leaks fails the test unless every q returns the needle on the server
// directly (control) and is refused with a permission error by the proxy
// for vera in both protocols.
func review3Leaks(t *testing.T, db, veraURL, needle string, qs []string) {
	t.Helper()
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	for _, q := range qs {
		if got := review3Probe(direct, pgx.QueryExecModeSimpleProtocol, q, needle); got != "LEAK" {
			t.Fatalf("control: %q on the server: %s, want the secret", q, got)
		}
	}
	vera, err := pgx.Connect(ctx, veraURL)
	if err != nil {
		t.Fatal(err)
	}
	defer vera.Close(ctx)
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for _, q := range qs {
			got := review3Probe(vera, m, q, needle)
			if got == "LEAK" {
				t.Errorf("%q (mode %v) returned the masked column in clear", q, m)
			} else if !strings.Contains(got, "permission denied") {
				t.Errorf("%q (mode %v): %s, want a permission error", q, m, got)
			}
		}
	}
}

// TestPGSecReview3MaskRowCoercionNotation: attribute notation i.T, where T is a type
// the row of i can be coerced to, is the function-style cast T(i) on the
// whole row. A domain over the masked table's row type, or a cast WITH
// INOUT from it, needs no function: the snapshot holds their names too, and
// the statement is refused.
func TestPGSecReview3MaskRowCoercionNotation(t *testing.T) {
	f := newPGFixture(t, "", "")
	pgExec(t, f.alphaDB,
		"CREATE DOMAIN items_d AS items",
		"CREATE CAST (items AS tsvector) WITH INOUT",
		"CREATE CAST (items AS xml) WITH INOUT",
	)
	review3Leaks(t, f.alphaDB, f.rp.pgURL("vera", "vera-pw", "alpha"), "secret-of-alpha", []string{
		"SELECT i.items_d FROM items i",
		"SELECT i.tsvector FROM items i",
		"SELECT i.xml FROM items i",
		"SELECT public.items.items_d FROM public.items",
	})
}

// TestPGSecReview3MaskFuncsSnapshotCrossSchema: on a schema tenant, the
// functions snapshot of a masked role holds the names of the tenant's own
// schema only. Were other tenants' included, i.f with f a function only
// another tenant has would be refused as a call on the whole row while a
// name no schema has gets "column does not exist", and the masked role
// would learn which function names the other tenant's schema holds.
func TestPGSecReview3MaskFuncsSnapshotCrossSchema(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "advxs")
	pgExec(t, db,
		"CREATE SCHEMA gamma", "CREATE SCHEMA delta",
		"CREATE TABLE gamma.items (id int PRIMARY KEY, name text, secret text)",
		"INSERT INTO gamma.items VALUES (1, 'g', 'secret-of-gamma')",
		"CREATE TABLE delta.items (id int PRIMARY KEY, name text)",
		"CREATE FUNCTION delta.acquire_rival_corp(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 $$",
		"CREATE FUNCTION gamma.own_leak(gamma.items) RETURNS text LANGUAGE sql AS $$ SELECT $1.secret $$")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: gamma, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: schema,
     roles: {viewer: {masked_columns: [items.secret]}}}
  - {id: delta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: schema}
users:
  - {name: vera, password: vera-pw, tenants: {gamma: viewer}}
`, db))
	ctx := context.Background()
	// Control: in gamma's schema the server answers both names alike.
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	if _, err := direct.Exec(ctx, "SET search_path = gamma"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT i.acquire_rival_corp FROM items i", "SELECT i.no_such_fn FROM items i"} {
		if got := review3Probe(direct, pgx.QueryExecModeSimpleProtocol, q, "x"); !strings.Contains(got, "42703") {
			t.Fatalf("control %q: %s, want 42703", q, got)
		}
	}
	vera, err := pgx.Connect(ctx, rp.pgURL("vera", "vera-pw", "gamma"))
	if err != nil {
		t.Fatal(err)
	}
	defer vera.Close(ctx)
	known := review3Probe(vera, pgx.QueryExecModeSimpleProtocol, "SELECT i.acquire_rival_corp FROM items i", "x")
	unknown := review3Probe(vera, pgx.QueryExecModeSimpleProtocol, "SELECT i.no_such_fn FROM items i", "x")
	t.Logf("delta's function: %s", known)
	t.Logf("no function:      %s", unknown)
	if strings.Contains(known, "42703") != strings.Contains(unknown, "42703") {
		t.Fatalf("the answers differ: gamma's masked role can tell delta's function names apart from unknown ones")
	}
	// gamma's own function over its masked table is still refused (the
	// server returns the secret: the control).
	if got := review3Probe(direct, pgx.QueryExecModeSimpleProtocol, "SELECT i.own_leak FROM items i", "secret-of-gamma"); got != "LEAK" {
		t.Fatalf("control: i.own_leak on the server: %s", got)
	}
	if got := review3Probe(vera, pgx.QueryExecModeSimpleProtocol, "SELECT i.own_leak FROM items i", "secret-of-gamma"); !strings.Contains(got, "permission denied") {
		t.Fatalf("gamma's own function over its masked row: %s, want a permission error", got)
	}
}

// TestPGSecReview3MaskFuncsCatalogUnreadable: when the tenant's backend user cannot
// read pg_proc, a masked role's statements must be refused with 57P03.
func TestPGSecReview3MaskFuncsCatalogUnreadable(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "advnoproc")
	role := fmt.Sprintf("tp_advnp_%s", db[len(db)-6:])
	pgExec(t, "postgres", "DROP ROLE IF EXISTS "+role, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() { pgExec(t, "postgres", "DROP ROLE IF EXISTS "+role) })
	pgExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, name text, secret text)",
		"INSERT INTO items VALUES (1, 'n', 'secret-np')",
		"GRANT SELECT ON items TO "+role,
		"REVOKE SELECT ON pg_catalog.pg_proc FROM PUBLIC")
	t.Cleanup(func() { pgExec(t, db, "DROP OWNED BY "+role) })
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://%s@127.0.0.1:5432/%s?sslmode=disable",
     roles: {viewer: {masked_columns: [items.secret]}}}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
`, role, db))
	ctx := context.Background()
	vera, err := pgx.Connect(ctx, rp.pgURL("vera", "vera-pw", "alpha"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer vera.Close(ctx)
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		var n string
		err := vera.QueryRow(ctx, "SELECT name FROM items", m).Scan(&n)
		if sqlstate(err) != "57P03" {
			t.Errorf("mode %v: %v (%q), want 57P03", m, err, n)
		}
	}
}

// TestPGSecReview3ExplainCrossSchemaFuncNames: the explain endpoint, deciding
// on the same functions snapshot, answers gamma's admin (explaining as
// gamma's masked role) alike for a function name only delta's schema holds
// and for a name no schema holds.
func TestPGSecReview3ExplainCrossSchemaFuncNames(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "advxe")
	pgExec(t, db,
		"CREATE SCHEMA gamma", "CREATE SCHEMA delta",
		"CREATE TABLE gamma.items (id int PRIMARY KEY, name text, secret text)",
		"CREATE TABLE delta.items (id int PRIMARY KEY, name text)",
		"CREATE FUNCTION delta.acquire_rival_corp(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 $$")
	a := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: gamma, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: schema,
     roles: {viewer: {masked_columns: [items.secret]}}}
  - {id: delta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", isolation: schema}
users:
  - {name: ada, password: ada-pw, tenants: {gamma: admin}}
  - {name: vera, password: vera-pw, tenants: {gamma: viewer}}
`, db))
	tok := a.login(t, "ada", "ada-pw", "gamma")
	known := a.explain(t, tok, map[string]string{"sql": "SELECT i.acquire_rival_corp FROM items i", "role": "viewer"})
	unknown := a.explain(t, tok, map[string]string{"sql": "SELECT i.no_such_fn FROM items i", "role": "viewer"})
	t.Logf("delta's function: allowed=%v %v", known.Allowed, known.Reasons)
	t.Logf("no function:      allowed=%v %v", unknown.Allowed, unknown.Reasons)
	if known.Allowed != unknown.Allowed {
		t.Fatalf("explain tells a function name of tenant delta's schema from an unknown one")
	}
}

// TestPGSecReview3VanishMidResult: a client that vanishes while its large answer is
// being relayed must not leave bytes of it for the next user of the pooled
// backend (pool of one), in simple and extended protocol.
func TestPGSecReview3VanishMidResult(t *testing.T) {
	f := newPGFixture(t, "{size: 1, timeout: 10s}", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, url := range []string{"postgres://postgres@127.0.0.1:5432/" + f.alphaDB + "?sslmode=disable", f.rp.pgURL("alice", "alice-pw", "alpha")} {
		for i := 0; i < 8; i++ {
			a, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			mode := []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement}[i%2]
			rows, err := a.Query(ctx, "SELECT 'A-'||g||repeat('a', 3000) FROM generate_series(1, 20000) g", mode)
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
			_ = a.PgConn().Conn().Close() // vanish mid-result
			rows.Close()
			b, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 3; j++ {
				var got string
				mark := fmt.Sprintf("B-%d-%d", i, j)
				if err := b.QueryRow(ctx, "SELECT $1::text || repeat('b', $2::int)", mode, mark, 70000*j).Scan(&got); err != nil {
					t.Fatalf("round %d/%d: %v", i, j, err)
				}
				if got != mark+strings.Repeat("b", 70000*j) {
					t.Fatalf("round %d/%d: got %.40q", i, j, got)
				}
			}
			_ = b.Close(ctx)
		}
	}
}

// TestPGSecReview3MaskViewOverMaskedTable: a view (or materialized view)
// over a masked table would return the masked column in clear, since the
// origin of its result columns is the view: it is refused for the masked
// role; a view over other tables is not.
func TestPGSecReview3MaskViewOverMaskedTable(t *testing.T) {
	f := newPGFixture(t, "", "")
	pgExec(t, f.alphaDB, "CREATE VIEW items_v AS SELECT * FROM items",
		"CREATE VIEW items_vv AS SELECT id, secret FROM items_v",
		"CREATE MATERIALIZED VIEW items_m AS SELECT * FROM items",
		"CREATE VIEW plain_v AS SELECT 1 AS one")
	review3Leaks(t, f.alphaDB, f.rp.pgURL("vera", "vera-pw", "alpha"), "secret-of-alpha", []string{
		"SELECT secret FROM items_v",
		"SELECT v.to_jsonb FROM items_v v",
		"SELECT secret FROM items_vv",
		"SELECT * FROM items_m",
		"SELECT * FROM plain_v, LATERAL (SELECT secret FROM public.items_v) x",
	})
	ctx := context.Background()
	vera, err := pgx.Connect(ctx, f.rp.pgURL("vera", "vera-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer vera.Close(ctx)
	var one int
	if err := vera.QueryRow(ctx, "SELECT one FROM plain_v").Scan(&one); err != nil || one != 1 {
		t.Fatalf("a view over no masked table: %d, %v", one, err)
	}
	if err := vera.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&one); err != nil {
		t.Fatalf("the masked table itself: %v", err)
	}
}
