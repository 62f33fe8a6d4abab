package test

// Row isolation takes its tenant tables from the live catalog (issue 9):
// without tenant_tables in the config, every relation that has the tenant
// column is filtered, including relations created after the proxy started,
// straight on the backend or through the proxy.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgStrings returns the first column of every row of q, as text.
func pgStrings(t testing.TB, c *pgx.Conn, q string) []string {
	t.Helper()
	out, err := pgStringsErr(c, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func pgStringsErr(c *pgx.Conn, q string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rows, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprint(vals[0]))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func pgState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// rowCatalogPG seeds a shared database and starts two row tenants on it
// without tenant_tables, plus a database-isolated tenant "owner" on the same
// database whose admin changes the schema through the proxy.
func rowCatalogPG(t *testing.T, refresh string) (*runningProxy, string) {
	t.Helper()
	requirePostgres(t)
	db := tempPGDatabase(t, "rowcat")
	pgExec(t, db,
		"CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text)",
		"INSERT INTO orders VALUES (1, 'a', 'ORDER-a-1'), (2, 'a', 'ORDER-a-2'), (101, 'b', 'ORDER-b-1'), (102, 'b', 'ORDER-b-2')",
		"CREATE TABLE plans (id int PRIMARY KEY, name text)",
		"INSERT INTO plans VALUES (1, 'basic'), (2, 'pro')",
		// A nullable tenant column of another type is filtered all the same.
		"CREATE TABLE notes (tenant_id varchar(10), body text)",
		"INSERT INTO notes VALUES ('a', 'NOTE-a'), ('b', 'NOTE-b'), (NULL, 'NOTE-null')",
		// Partitions: the parent and each partition have the column.
		"CREATE TABLE events (tenant_id text NOT NULL, n int) PARTITION BY LIST (tenant_id)",
		"CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a')",
		"CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b')",
		"INSERT INTO events VALUES ('a', 1), ('b', 2)",
		// A view that keeps the column is filtered like a table.
		"CREATE VIEW order_notes AS SELECT tenant_id, note FROM orders",
		// A view over a tenant table without the column cannot be filtered.
		"CREATE VIEW order_ids AS SELECT id, note FROM orders",
		"CREATE VIEW plan_names AS SELECT name FROM plans",
		// A shared table keyed on the tenant column too.
		"CREATE TABLE scoped (tenant_id text, code text, PRIMARY KEY (tenant_id, code))",
	)
	dsn := "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable"
	rp := startProxy(t, fmt.Sprintf(`
catalog: {refresh: %s}
tenants:
  - {id: shop_a, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: a, pool: {size: 2}}
  - {id: shop_b, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: b, pool: {size: 2}}
  - {id: owner, engine: postgres, dsn: "%s", pool: {size: 1}}
users:
  - {name: an, password: pw, tenants: {shop_a: analyst}}
  - {name: ed, password: pw, tenants: {shop_a: editor}}
  - {name: vi, password: pw, tenants: {shop_a: viewer}}
  - {name: ow, password: pw, tenants: {owner: admin}}
`, refresh, dsn, dsn, dsn))
	return rp, db
}

// TestRowCatalogPGWithoutTenantTables: the default no longer fails open.
func TestRowCatalogPGWithoutTenantTables(t *testing.T) {
	rp, db := rowCatalogPG(t, "1h")
	an := rp.connect(t, "an", "pw", "shop_a")
	ed := rp.connect(t, "ed", "pw", "shop_a")
	ctx := context.Background()

	for q, want := range map[string]string{
		"SELECT note FROM orders":                              "ORDER-a-1,ORDER-a-2",
		"SELECT o.note FROM orders o JOIN orders p USING (id)": "ORDER-a-1,ORDER-a-2",
		"SELECT body FROM notes":                               "NOTE-a",
		"SELECT n::text FROM events":                           "1",
		"SELECT n::text FROM events_b":                         "",
		"SELECT n::text FROM public.events_a":                  "1",
		"SELECT note FROM order_notes":                         "ORDER-a-1,ORDER-a-2",
		"SELECT name FROM plans":                               "basic,pro",
		"SELECT note FROM orders WHERE tenant_id = 'b'":        "",
	} {
		if got := strings.Join(pgStrings(t, an, q), ","); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	// An editor's DELETE aimed at the other tenant changes nothing of it.
	tag, err := ed.Exec(ctx, "DELETE FROM orders WHERE tenant_id = 'b'")
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 0 {
		t.Errorf("DELETE of tenant b's rows affected %d rows", tag.RowsAffected())
	}
	if _, err := ed.Exec(ctx, "UPDATE notes SET body = 'X' WHERE body = 'NOTE-b'"); err != nil {
		t.Fatal(err)
	}
	su := pgSuper(t, db)
	if got := strings.Join(pgStrings(t, su, "SELECT note FROM orders WHERE tenant_id = 'b'"), ","); got != "ORDER-b-1,ORDER-b-2" {
		t.Errorf("tenant b's orders after the editor's DELETE: %q", got)
	}
	if got := strings.Join(pgStrings(t, su, "SELECT body FROM notes WHERE tenant_id = 'b'"), ","); got != "NOTE-b" {
		t.Errorf("tenant b's note after the editor's UPDATE: %q", got)
	}
	if got := strings.Join(pgStrings(t, an, "SELECT name FROM plan_names"), ","); got != "basic,pro" {
		t.Errorf("view over a shared table: %q", got)
	}
	for _, q := range []string{"SELECT note FROM order_ids", "SELECT (SELECT max(note) FROM order_ids)", "SELECT * FROM orders JOIN order_ids USING (id)"} {
		if _, err := pgStringsErr(an, q); pgState(err) != "42501" || !strings.Contains(err.Error(), "no tenant column") {
			t.Errorf("%s: %v, want refused", q, err)
		}
	}
	// Unique keys without the tenant column are reported.
	ts, _ := rp.Server.Tenant("shop_a")
	var keys []string
	for _, k := range ts.CatalogKeyWarnings() {
		keys = append(keys, k.Table+"."+k.Key)
	}
	// (plans is not a tenant table; scoped's key includes the column.)
	if got := strings.Join(keys, ","); got != "orders.orders_pkey" {
		t.Errorf("key warnings: %q, want orders.orders_pkey", got)
	}
	// Shared tables without the column stay read-only below a write role.
	vi := rp.connect(t, "vi", "pw", "shop_a")
	if _, err := vi.Exec(ctx, "UPDATE plans SET name = 'x'"); pgState(err) != "42501" {
		t.Errorf("viewer UPDATE of a shared table: %v", err)
	}
}

// TestRowCatalogPGLaterTables: relations created after the start, straight
// on the backend or by an admin through the proxy, are filtered at once,
// including a text decided (and cached) while the table did not exist.
func TestRowCatalogPGLaterTables(t *testing.T) {
	rp, db := rowCatalogPG(t, "1h")
	an := rp.connect(t, "an", "pw", "shop_a")
	ow := rp.connect(t, "ow", "pw", "owner")
	ctx := context.Background()

	if got := pgStrings(t, an, "SELECT note FROM orders"); len(got) != 2 {
		t.Fatalf("orders: %v", got)
	}
	// Decided before the table exists: the backend says it does not.
	if _, err := pgStringsErr(an, "SELECT secret FROM late"); pgState(err) != "42P01" {
		t.Fatalf("before CREATE: %v", err)
	}
	pgExec(t, db,
		"CREATE TABLE late (tenant_id text, secret text)",
		"INSERT INTO late VALUES ('a', 'LATE-a'), ('b', 'LATE-b')")
	for _, q := range []string{"SELECT secret FROM late", "SELECT secret FROM public.late", "SELECT (SELECT max(secret) FROM late)"} {
		if got := strings.Join(pgStrings(t, an, q), ","); got != "LATE-a" {
			t.Errorf("%s after a direct CREATE: %q, want LATE-a", q, got)
		}
	}
	// Created through the proxy by another tenant's admin.
	if _, err := ow.Exec(ctx, "CREATE TABLE via_proxy (tenant_id text, secret text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.Exec(ctx, "INSERT INTO via_proxy VALUES ('a', 'VIA-a'), ('b', 'VIA-b')"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pgStrings(t, an, "SELECT secret FROM via_proxy"), ","); got != "VIA-a" {
		t.Errorf("via_proxy: %q, want VIA-a", got)
	}
	// A known table that gains the column through the proxy: the DDL marks
	// the snapshot stale even though refresh is an hour.
	if got := strings.Join(pgStrings(t, an, "SELECT name FROM plans"), ","); got != "basic,pro" {
		t.Fatalf("plans: %q", got)
	}
	if _, err := ow.Exec(ctx, "ALTER TABLE plans ADD COLUMN tenant_id text"); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.Exec(ctx, "UPDATE plans SET tenant_id = 'b' WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pgStrings(t, an, "SELECT name FROM plans"), ","); got != "" {
		t.Errorf("plans after ADD COLUMN tenant_id through the proxy: %q, want no rows", got)
	}
}

// TestRowCatalogPGRefresh: a change made straight on the backend to a table
// the snapshot knows is picked up within catalog.refresh.
func TestRowCatalogPGRefresh(t *testing.T) {
	rp, db := rowCatalogPG(t, "300ms")
	an := rp.connect(t, "an", "pw", "shop_a")
	if got := strings.Join(pgStrings(t, an, "SELECT name FROM plans"), ","); got != "basic,pro" {
		t.Fatalf("plans: %q", got)
	}
	pgExec(t, db, "ALTER TABLE plans ADD COLUMN tenant_id text", "UPDATE plans SET tenant_id = 'b'")
	time.Sleep(600 * time.Millisecond)
	if got := strings.Join(pgStrings(t, an, "SELECT name FROM plans"), ","); got != "" {
		t.Errorf("plans after the refresh interval: %q, want no rows", got)
	}
}

// TestRowCatalogPGUnreadable: a tenant whose catalog cannot be read
// (permission denied on pg_attribute for its backend role) has its statements
// refused with 57P03 naming it, never run unfiltered; a listed table that does
// not exist refuses the tenant's statements with the reason.
func TestRowCatalogPGUnreadable(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "rowcat_nocat")
	role := db + "_role"
	pgExec(t, db, "CREATE ROLE "+role+" LOGIN",
		"CREATE TABLE orders (tenant_id text, note text)", "INSERT INTO orders VALUES ('a', 'x'), ('b', 'y')",
		"GRANT SELECT ON orders TO "+role,
		"REVOKE SELECT ON pg_catalog.pg_attribute FROM PUBLIC")
	t.Cleanup(func() {
		pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)", "DROP ROLE IF EXISTS "+role)
	})
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: shop_nocat, engine: postgres, dsn: "postgres://%s@127.0.0.1:5432/%s?sslmode=disable", isolation: row,
     tenant_column: tenant_id, tenant_value: a, pool: {size: 1, timeout: 2s}}
  - {id: shop_missing, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", isolation: row,
     tenant_column: tenant_id, tenant_value: a, tenant_tables: [orders, nosuch], pool: {size: 1}}
users:
  - {name: an, password: pw, tenants: {shop_nocat: analyst, shop_missing: analyst}}
  - {name: ad, password: pw, tenants: {shop_nocat: admin}}
`, role, db, db))
	// Control: the backend role itself reads every tenant's rows.
	direct, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://%s@127.0.0.1:5432/%s?sslmode=disable", role, db))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	if got := pgStrings(t, direct, "SELECT note FROM orders"); len(got) != 2 {
		t.Fatalf("control: %v", got)
	}
	c := rp.connect(t, "an", "pw", "shop_nocat")
	_, err = pgStringsErr(c, "SELECT note FROM orders")
	if pgState(err) != "57P03" || !strings.Contains(err.Error(), `tenant "shop_nocat"`) {
		t.Errorf("catalog unreadable: %v, want 57P03 naming the tenant", err)
	}
	// A dry-run is decided as the real run is: refused, with its code.
	ad := rp.connect(t, "ad", "pw", "shop_nocat")
	x := map[string]string{}
	rows, err := ad.Query(context.Background(), "EXPLAIN POLICY SELECT note FROM orders", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		x[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if x["allowed"] != "false" || x["error_code"] != "57P03" || !strings.Contains(x["error_message"], `tenant "shop_nocat"`) {
		t.Errorf("EXPLAIN POLICY with the catalog unreadable: %v, want refused with 57P03", x)
	}
	m := rp.connect(t, "an", "pw", "shop_missing")
	_, err = pgStringsErr(m, "SELECT note FROM orders")
	if pgState(err) != "57P03" || !strings.Contains(err.Error(), `tenant "shop_missing": tenant_tables: table "nosuch" does not exist`) {
		t.Errorf("listed table missing: %v", err)
	}
}

// pgSuper connects to db as the superuser.
func pgSuper(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// TestRowCatalogConfigChecked: a listed tenant table that does not exist or
// lacks the tenant column stops the start and is refused on reload, naming
// the tenant, the table and the reason.
func TestRowCatalogConfigChecked(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "rowcat_cfg")
	pgExec(t, db, "CREATE TABLE orders (tenant_id text, note text)", "CREATE TABLE plans (name text)",
		"INSERT INTO orders VALUES ('a', 'A'), ('b', 'B')")
	tenants := func(tables string) string {
		return fmt.Sprintf(`
tenants:
  - {id: shop_a, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", isolation: row,
     tenant_column: tenant_id, tenant_value: a, tenant_tables: [%s]}
users:
  - {name: an, password: pw, tenants: {shop_a: analyst}}
`, db, tables)
	}
	// Start refused.
	path := filepath.Join(t.TempDir(), "bad.yaml")
	cfg := fmt.Sprintf("listen: {postgres: %q, admin: \"\"}\n", freeAddr(t)) + tenants("orders, nosuch, plans")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, proxyBinary(t), "--config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("the proxy started with a missing tenant table:\n%s", out)
	}
	for _, want := range []string{`tenant "shop_a"`, `table "nosuch" does not exist`, `table "plans" has no column "tenant_id"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("start error does not say %q:\n%s", want, out)
		}
	}

	// Reload refused; the running configuration stays.
	pp := startProxyProcess(t, tenants("orders"))
	c, err := pgx.Connect(ctx, pp.url("an", "pw", "shop_a"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got := strings.Join(pgStrings(t, c, "SELECT note FROM orders"), ","); got != "A" {
		t.Fatalf("orders: %q", got)
	}
	if err := os.WriteFile(pp.cfgPath, []byte(pp.listen+tenants("orders, nosuch")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pp.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(pp.log(), "config_reload_rejected") {
		if time.Now().After(deadline) {
			t.Fatalf("reload not rejected:\n%s", pp.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(pp.log(), `table \"nosuch\" does not exist`) && !strings.Contains(pp.log(), `table "nosuch" does not exist`) {
		t.Errorf("reload rejection does not give the reason:\n%s", pp.log())
	}
	if got := strings.Join(pgStrings(t, c, "SELECT note FROM orders"), ","); got != "A" {
		t.Errorf("orders after the rejected reload: %q", got)
	}
}

// TestRowCatalogPGConcurrent: clients reading while tables appear straight
// on the backend never see another tenant's rows.
func TestRowCatalogPGConcurrent(t *testing.T) {
	rp, db := rowCatalogPG(t, "200ms")
	done := make(chan struct{})
	errs := make(chan string, 100)
	for w := 0; w < 4; w++ {
		go func(w int) {
			c, err := pgx.Connect(context.Background(), rp.pgURL("an", "pw", "shop_a"))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close(context.Background())
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- ""
					return
				default:
				}
				q := fmt.Sprintf("SELECT secret FROM conc_%d", i%5)
				got, err := pgStringsErr(c, q)
				if err != nil {
					continue // not created yet
				}
				for _, v := range got {
					if strings.HasSuffix(v, "-b") {
						errs <- fmt.Sprintf("%s returned %q", q, v)
					}
				}
			}
		}(w)
	}
	for i := 0; i < 5; i++ {
		pgExec(t, db, fmt.Sprintf("CREATE TABLE conc_%d (tenant_id text, secret text)", i),
			fmt.Sprintf("INSERT INTO conc_%d VALUES ('a', 'c%d-a'), ('b', 'c%d-b')", i, i, i))
		time.Sleep(100 * time.Millisecond)
	}
	close(done)
	for w := 0; w < 4; w++ {
		for e := range errs {
			if e == "" {
				break
			}
			t.Error(e)
		}
	}
}
