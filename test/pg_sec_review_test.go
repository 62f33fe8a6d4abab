package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

func reviewRows(c *pgx.Conn, q string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rows, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	n := 0
	var vals []string
	for rows.Next() {
		v, _ := rows.Values()
		vals = append(vals, fmt.Sprint(v...))
		n++
	}
	return n, strings.Join(vals, ","), rows.Err()
}

// TestPGSecReviewCapReturning: a write role with max_rows gets every row of
// UPDATE/DELETE/INSERT ... RETURNING.
func TestPGSecReviewCapReturning(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "reviewcap")
	pgExec(t, db, "CREATE TABLE five (id int PRIMARY KEY, secret text)",
		"INSERT INTO five SELECT g, 's'||g FROM generate_series(1, 5) g")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - id: capg
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles: {editor: {max_rows: 3}}
users:
  - {name: ed, password: pw, tenants: {capg: editor}}
`, db))
	ed := rp.connect(t, "ed", "pw", "capg")
	for _, q := range []string{
		"SELECT id FROM five",
		"UPDATE five SET id = id RETURNING id, secret",
		"WITH u AS (UPDATE five SET id = id RETURNING id, secret) SELECT * FROM u",
		"INSERT INTO five SELECT id + 100, secret FROM five RETURNING id, secret",
		"DELETE FROM five WHERE id > 100 RETURNING id, secret",
	} {
		n, v, err := reviewRows(ed, q)
		t.Logf("%s -> %d rows %q err=%v", q, n, v, err)
		if err == nil && n > 3 {
			t.Errorf("%s: %d rows reached a role capped at 3", q, n)
		}
	}
}

// TestPGSecReviewRowViewChain: a view over a refused view (no tenant column) is not
// refused and reads every tenant's rows.
func TestPGSecReviewRowViewChain(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "reviewrow")
	pgExec(t, db,
		"CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text)",
		"INSERT INTO orders VALUES (1, 'a', 'ORDER-a-1'), (101, 'b', 'ORDER-b-1')",
		"CREATE VIEW order_ids AS SELECT id, note FROM orders",
		"CREATE VIEW order_ids2 AS SELECT * FROM order_ids",
		"CREATE FUNCTION all_orders() RETURNS SETOF orders LANGUAGE sql AS 'SELECT * FROM orders'",
	)
	dsn := "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable"
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: shop_a, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: a, pool: {size: 2}}
  - {id: shop_b, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: b, pool: {size: 2}}
users:
  - {name: an, password: pw, tenants: {shop_a: analyst}}
`, dsn, dsn))
	an := rp.connect(t, "an", "pw", "shop_a")
	for _, q := range []string{
		"SELECT note FROM orders",
		"SELECT note FROM order_ids",
		"SELECT note FROM order_ids2",
		"SELECT note FROM all_orders()",
	} {
		n, v, err := reviewRows(an, q)
		t.Logf("%s -> %d rows %q err=%v", q, n, v, err)
		if err == nil && strings.Contains(v, "ORDER-b") {
			t.Errorf("%s: tenant a read tenant b's rows: %q", q, v)
		}
	}
}

// TestPGSecReviewSQLiteAliasOracle: SQLite resolves select-list aliases in WHERE and
// in ORDER BY expressions, Postgres does not: a masked column's alias used
// there filters/sorts on the clear value.
func TestPGSecReviewSQLiteAliasOracle(t *testing.T) {
	api, _, _ := newSQLiteAPI(t)
	vera := api.login(t, "vera", "vera-pw", "lite")
	for _, q := range []string{
		"SELECT id, email AS e FROM customers WHERE e LIKE 'bob%'",
		"SELECT id, email AS e FROM customers WHERE substr(e, 1, 1) = 'c'",
		"SELECT id, email AS e FROM customers ORDER BY e || '' DESC",
		"SELECT id, email AS e FROM customers ORDER BY (e) DESC",
		"SELECT id, email AS e FROM customers GROUP BY id HAVING e LIKE 'dee%'",
	} {
		st, m := api.sqlQuery(t, vera, q)
		t.Logf("%s -> HTTP %d rows %v err %v", q, st, m["rows"], m["error"])
		if st == 200 {
			t.Errorf("%s: HTTP 200 %v: the masked column's alias filtered/sorted on its clear value", q, m["rows"])
		}
	}
}

// TestPGSecReviewCatalogRegImplicit: a schema tenant turns another schema's oids into
// names without a cast to a reg type.
func TestPGSecReviewCatalogRegImplicit(t *testing.T) {
	f := newCatalogFixture(t)
	ctx := context.Background()
	c := f.rp.connect(t, "an", "pw", "gamma")
	for _, p := range []string{
		"SELECT regclassout({{table}}::oid)",
		"SELECT regclassout(x) FROM (SELECT {{table}}::oid AS x) s",
		"SELECT x FROM (SELECT 'pg_class'::regclass UNION ALL SELECT {{table}}::oid) s(x)",
		"SELECT COALESCE(NULL::regclass, {{table}}::oid)",
		"SELECT COALESCE(NULL::regclass, x) FROM generate_series({{table}} - 3, {{table}} + 3) g(x)",
		"SELECT ARRAY[NULL::regclass, {{table}}::oid]",
		"SELECT CASE WHEN true THEN {{table}}::oid ELSE NULL::regclass END",
		"SELECT regtypeout({{type}}::oid)",
		"SELECT regprocout({{func}}::oid)",
		"SELECT regnamespaceout({{ns}}::oid)",
		"SELECT COALESCE(NULL::regnamespace, {{ns}}::oid)",
		"SELECT COALESCE(NULL::regproc, {{func}}::oid)",
		"SELECT COALESCE(NULL::regtype, {{type}}::oid)",
		"SELECT textin(regclassout({{table}}::oid))",
	} {
		q := f.probe(p)
		rows, err := c.Query(ctx, q)
		var b strings.Builder
		if err == nil {
			for rows.Next() {
				vals, _ := rows.Values()
				fmt.Fprint(&b, vals...)
			}
			rows.Close()
			err = rows.Err()
		}
		t.Logf("%s -> %q err=%v", q, b.String(), err)
		if strings.Contains(b.String(), "zzmark") {
			t.Errorf("%s: schema tenant gamma learned %q", q, b.String())
		}
	}
}

func TestPGSecReviewExtendedMasks(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	t.Logf("begin %s", r.query("BEGIN"))
	r.send(&pgproto3.Parse{Name: "s1", Query: "SELECT id, email FROM items ORDER BY id"},
		&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1", ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p1"},
		&pgproto3.Execute{Portal: "p1", MaxRows: 1}, &pgproto3.Sync{})
	rr := r.ready()
	t.Logf("1: %s", rr)
	noClearText(t, "1", rr)
	r.send(&pgproto3.Execute{Portal: "p1", MaxRows: 1}, &pgproto3.Flush{})
	rr = r.until(5*time.Second, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.PortalSuspended); return ok })
	t.Logf("2: %s", rr)
	noClearText(t, "2", rr)
	r.send(&pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{})
	rr = r.ready()
	t.Logf("3: %s", rr)
	noClearText(t, "3", rr)
	// Rebind the unnamed portal between Describe and Execute.
	r.send(&pgproto3.Parse{Name: "s2", Query: "SELECT 1 AS id, 'x' AS email"},
		&pgproto3.Bind{PreparedStatement: "s1"}, &pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Bind{PreparedStatement: "s2"}, &pgproto3.Bind{PreparedStatement: "s1"},
		&pgproto3.Execute{}, &pgproto3.Sync{})
	rr = r.ready()
	t.Logf("4: %s", rr)
	noClearText(t, "4", rr)
}

// TestPGSecReviewReloadPinnedSQLObjects: SQL-level PREPARE and WITH HOLD cursors made
// before a reload keep the old role's rules (no mask, no cap) after it.
func TestPGSecReviewReloadPinnedSQLObjects(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "reviewrl")
	pgExec(t, db, "CREATE TABLE items (id int PRIMARY KEY, email text NOT NULL)",
		"INSERT INTO items SELECT g, 'user'||g||'@x.example' FROM generate_series(1, 5) g")
	conf := func(roles string) string {
		return fmt.Sprintf(`
tenants:
  - {id: sec, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 1},
     roles: %s}
users:
  - {name: ed, password: pw, tenants: {sec: editor}}
`, db, roles)
	}
	rp := startProxy(t, conf("{}"))
	c := rp.connect(t, "ed", "pw", "sec")
	ctx := context.Background()
	for _, q := range []string{"PREPARE p AS SELECT id, email FROM items", "BEGIN",
		"DECLARE c CURSOR WITH HOLD FOR SELECT id, email FROM items", "COMMIT"} {
		if _, err := c.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sum := reloadYAML(t, rp.Server, conf("{editor: {max_rows: 2, masked_columns: [items.email]}}"))
	t.Logf("reload: %+v", sum)
	n, v, err := reviewRows(c, "SELECT id, email FROM items")
	t.Logf("SELECT after reload -> %d %q %v", n, v, err)
	for _, q := range []string{"EXECUTE p", "FETCH ALL FROM c"} {
		n, v, err := reviewRows(c, q)
		t.Logf("%s after reload -> %d rows %q err=%v", q, n, v, err)
		if err == nil && (n > 2 || strings.Contains(v, "@x.example")) {
			t.Errorf("%s: after the reload the editor (max_rows 2, items.email masked) got %d rows: %q", q, n, v)
		}
	}
}

// TestPGSecReviewFetchProtocolPortal: a protocol-level portal is also a SQL cursor of
// the same name: FETCH reads it without the front end's mask and cap.
func TestPGSecReviewFetchProtocolPortal(t *testing.T) {
	f := newSecFixture(t, "", "")
	pgExec(t, f.db, "INSERT INTO items SELECT g, 'more'||g||'@items.example' FROM generate_series(4, 200) g")
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	t.Logf("begin %s", r.query("BEGIN"))
	r.send(&pgproto3.Parse{Name: "s1", Query: "SELECT id, email FROM items ORDER BY id"},
		&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1"},
		&pgproto3.Sync{})
	t.Logf("bind: %s", r.ready())
	rr := r.query("FETCH ALL FROM p1")
	t.Logf("fetch: %d rows, first %v, errors %v", len(rr.rows), rr.rows[:min(3, len(rr.rows))], rr.errors)
	noClearText(t, "FETCH ALL FROM p1", rr)
	if len(rr.rows) > 100 {
		t.Errorf("FETCH ALL FROM p1: %d rows for a viewer capped at 100", len(rr.rows))
	}
}

// TestPGSecReviewLeakyQualOrder: a cheap qual that fails on the value is evaluated
// before the proxy's filter (the filter's derived table is not a security
// barrier), and the error message shows other tenants' values.
func TestPGSecReviewLeakyQualOrder(t *testing.T) {
	f := newCatalogFixture(t)
	c := f.rp.connect(t, "an", "pw", "gamma")
	for _, q := range []string{
		"SELECT 1 FROM pg_class WHERE relname::text::bool",
		"SELECT 1 FROM pg_class WHERE relname::text::int = 0",
		"SELECT 1 FROM pg_namespace WHERE nspname::text::bool",
		"SELECT 1 FROM pg_proc WHERE proname::text::bool",
		"SELECT 1 FROM information_schema.tables WHERE table_name::text::bool",
		"SELECT 1 FROM pg_namespace WHERE CASE WHEN nspname::text LIKE 'zz%' THEN nspname::text::bool END",
		"SELECT 1 FROM pg_namespace WHERE nspname::text::bool AND nspname::text LIKE 'zz%'",
		"SELECT 1 FROM pg_class WHERE CASE WHEN relname::text LIKE 'zz%' THEN relname::text::bool END",
		"SELECT 1 FROM pg_namespace WHERE (CASE WHEN nspname::text LIKE 'zz%' THEN nspname::text ELSE 'true' END)::bool",
	} {
		_, _, err := reviewRows(c, q)
		t.Logf("%s -> %v", q, err)
		if err != nil && strings.Contains(err.Error(), "zzmark") {
			t.Errorf("%s: the error shows another schema's name: %v", q, err)
		}
	}
}

func TestPGSecReviewLeakyQualRow(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "reviewlq")
	pgExec(t, db,
		"CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text)",
		"INSERT INTO orders VALUES (1, 'a', 'ORDER-a-1'), (101, 'b', 'ORDER-b-1')")
	dsn := "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable"
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: shop_a, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: a, pool: {size: 2}}
  - {id: shop_b, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: b, pool: {size: 2}}
users:
  - {name: an, password: pw, tenants: {shop_a: analyst}}
`, dsn, dsn))
	an := rp.connect(t, "an", "pw", "shop_a")
	for _, q := range []string{
		"SELECT 1 FROM orders WHERE note::bool",
		"SELECT 1 FROM orders WHERE id = 101 AND note::bool",
		"SELECT 1 FROM orders WHERE note::int = 0",
		"SELECT 1 FROM orders WHERE (CASE WHEN note LIKE 'ORDER-b%' THEN note ELSE 'true' END)::bool",
		"SELECT 1 FROM orders WHERE CASE WHEN id > 100 THEN note::bool END",
	} {
		_, _, err := reviewRows(an, q)
		t.Logf("%s -> %v", q, err)
		if err != nil && strings.Contains(err.Error(), "ORDER-b") {
			t.Errorf("%s: the error shows tenant b's value: %v", q, err)
		}
	}
}
