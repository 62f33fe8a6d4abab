package test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// reloadYAML loads yaml (a whole config without listen addresses) and
// reloads p with it, as SIGHUP does.
func reloadYAML(t testing.TB, p *proxy.Server, yaml string) proxy.ReloadSummary {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reload.yaml")
	yaml = "listen: {postgres: \"127.0.0.1:0\", mysql: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\n" + yaml
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatalf("reload config: %v", err)
	}
	return p.Reload(cfg.Proxy)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestOpsReloadReachesOpenPGSessions: a session open as admin is demoted at
// its next statement when a reload makes the user a viewer (DDL refused,
// masks applied, prepared statements made as admin checked again), and is
// closed with a reason once the user no longer holds the tenant.
func TestOpsReloadReachesOpenPGSessions(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opsreload")
	other := tempPGDatabase(t, "opsreload2")
	pgExec(t, db, "CREATE TABLE items (id int PRIMARY KEY, email text)",
		"INSERT INTO items VALUES (1, 'a@x.org'), (2, 'b@x.org')")
	cfg := func(role, extraTenant string) string {
		return fmt.Sprintf(`
tenants:
  - {id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     roles: {viewer: {masked_columns: [items.email]}}}
  - {id: other, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: alice, password: alice-pw, tenants: {%s}}
`, db, other, extraTenant+role)
	}
	rp := startProxy(t, cfg("shop: admin", "other: viewer, "))
	ctx := context.Background()
	c := rp.connect(t, "alice", "alice-pw", "shop")
	if _, err := c.Prepare(ctx, "emails", "SELECT email FROM items ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	var email string
	if err := c.QueryRow(ctx, "emails").Scan(&email); err != nil || email != "a@x.org" {
		t.Fatalf("as admin: %q, %v", email, err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE made_as_admin (id int)"); err != nil {
		t.Fatalf("admin DDL: %v", err)
	}

	sum := reloadYAML(t, rp.Server, cfg("shop: viewer", "other: viewer, "))
	if strings.Join(sum.Users.Changed, ",") != "alice" {
		t.Fatalf("reload summary: %+v", sum.Users)
	}
	_, err := c.Exec(ctx, "CREATE TABLE made_as_viewer (id int)")
	if pgCode(err) != "42501" {
		t.Fatalf("DDL after the demotion: want 42501, got %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT email FROM items ORDER BY id").Scan(&email); err != nil || email != "****" {
		t.Fatalf("simple query after the demotion: %q, %v (want the mask)", email, err)
	}
	if err := c.QueryRow(ctx, "emails").Scan(&email); err != nil || email != "****" {
		t.Fatalf("statement prepared as admin, run after the demotion: %q, %v (want the mask)", email, err)
	}
	// Control: the table made as admin exists; none was made as viewer.
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'made_as_viewer'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("made_as_viewer: %d, %v", n, err)
	}

	// The user loses the tenant: the open session ends, saying why.
	reloadYAML(t, rp.Server, cfg("", "other: viewer"))
	_, err = c.Exec(ctx, "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "no longer holds a role on tenant \"shop\"") {
		t.Fatalf("after losing the tenant: want the reason, got %v", err)
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the session still works after the user lost the tenant")
	}
	// A new connection is refused too.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c2, err := pgx.Connect(cctx, rp.pgURL("alice", "alice-pw", "shop")); err == nil {
		c2.Close(ctx)
		t.Fatal("connect to a tenant no longer held succeeded")
	}
}

// TestOpsReloadIdleSessionEvicted: an idle session of a user who lost its
// tenant is closed at once with the reason, without sending anything.
func TestOpsReloadIdleSessionEvicted(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opsevict")
	cfg := func(tenants string) string {
		return fmt.Sprintf(`
tenants:
  - {id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: spare, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: alice, password: alice-pw, tenants: {%s}}
`, db, db, tenants)
	}
	rp := startProxy(t, cfg("shop: analyst, spare: analyst"))
	c := rp.connect(t, "alice", "alice-pw", "shop")
	if _, err := c.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	reloadYAML(t, rp.Server, cfg("spare: analyst"))
	deadline := time.Now().Add(5 * time.Second)
	for !c.IsClosed() && time.Now().Before(deadline) {
		// pgx notices the FATAL at its next read.
		_, err := c.Exec(context.Background(), "SELECT 1")
		if err != nil {
			if !strings.Contains(err.Error(), "no longer holds a role") {
				t.Fatalf("want the reason, got %v", err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the session of a user who lost its tenant kept working")
}

// TestOpsReloadReachesOpenMySQLSessions: the same on the MySQL front end,
// text protocol and a statement prepared before the demotion.
func TestOpsReloadReachesOpenMySQLSessions(t *testing.T) {
	f := newMyFixture(t, "", "")
	ctx := context.Background()
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "interpolateParams=false")
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := conn.PrepareContext(ctx, "SELECT secret FROM items WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	var secret string
	if err := st.QueryRowContext(ctx, 1).Scan(&secret); err != nil || !strings.HasPrefix(secret, "secret-of-") {
		t.Fatalf("as admin: %q, %v", secret, err)
	}
	yaml := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s},
     roles: {viewer: {max_rows: 3, masked_columns: [items.secret]}}}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s}}
users:
  - {name: alice, password: alice-pw, tenants: {alpha: viewer, beta: analyst}}
  - {name: bob, password: bob-pw, tenants: {beta: editor}}
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
`, f.alphaDB, f.betaDB)
	reloadYAML(t, f.rp.Server, yaml)
	_, err = conn.ExecContext(ctx, "INSERT INTO items (name) VALUES ('made-as-viewer')")
	wantMyErr(t, err, 1142, "INSERT after the demotion")
	if err := conn.QueryRowContext(ctx, "SELECT secret FROM items WHERE id = 1").Scan(&secret); err != nil || secret != "****" {
		t.Fatalf("text query after the demotion: %q, %v", secret, err)
	}
	if err := st.QueryRowContext(ctx, 1).Scan(&secret); err != nil || secret != "****" {
		t.Fatalf("statement prepared as admin after the demotion: %q, %v", secret, err)
	}
	_ = st.Close()
	var n int
	myDB, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+f.alphaDB)
	if err != nil {
		t.Fatal(err)
	}
	defer myDB.Close()
	if err := myDB.QueryRow("SELECT count(*) FROM items WHERE name = 'made-as-viewer'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("control: %d rows made as viewer, %v", n, err)
	}
}

// TestOpsReloadStalePortal: a portal bound as admin and partly fetched is
// not executed further after a reload made the user a viewer (its rows
// would come unmasked): the Execute is refused with 42501.
func TestOpsReloadStalePortal(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opsportal")
	pgExec(t, db, "CREATE TABLE items (id int PRIMARY KEY, email text)",
		"INSERT INTO items VALUES (1, 'a@x.org'), (2, 'b@x.org'), (3, 'c@x.org')")
	cfg := func(role string) string {
		return fmt.Sprintf(`
tenants:
  - {id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     roles: {viewer: {masked_columns: [items.email]}}}
users:
  - {name: alice, password: alice-pw, tenants: {shop: %s}}
`, db, role)
	}
	rp := startProxy(t, cfg("admin"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, rp.pgURL("alice", "alice-pw", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		t.Fatal(err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	fe := hj.Frontend
	defer hj.Conn.Close()
	_ = hj.Conn.SetDeadline(time.Now().Add(15 * time.Second))
	fe.Send(&pgproto3.Parse{Query: "SELECT email FROM items ORDER BY id"})
	fe.Send(&pgproto3.Bind{DestinationPortal: "p1"})
	fe.Send(&pgproto3.Execute{Portal: "p1", MaxRows: 1})
	fe.Send(&pgproto3.Flush{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for done := false; !done; {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pgproto3.DataRow:
			rows = append(rows, string(m.Values[0]))
		case *pgproto3.PortalSuspended:
			done = true
		case *pgproto3.ErrorResponse:
			t.Fatalf("first execute: %s", m.Message)
		}
	}
	if len(rows) != 1 || rows[0] != "a@x.org" {
		t.Fatalf("as admin: %v", rows)
	}
	reloadYAML(t, rp.Server, cfg("viewer"))
	fe.Send(&pgproto3.Execute{Portal: "p1"})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var code string
	for done := false; !done; {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pgproto3.DataRow:
			t.Fatalf("row of the admin's portal after the demotion: %q", m.Values[0])
		case *pgproto3.ErrorResponse:
			code = m.Code
		case *pgproto3.ReadyForQuery:
			done = true
		}
	}
	if code != "42501" {
		t.Fatalf("want 42501, got %q", code)
	}
}

// TestOpsReloadRoleDefinitionChange: a reload that changes a role's
// definition (the tenant is reconfigured, its pool replaced) applies to the
// role's open sessions at their next statement, which keep working on
// their pool.
func TestOpsReloadRoleDefinitionChange(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opsroledef")
	pgExec(t, db, "CREATE TABLE items (id int PRIMARY KEY, email text)", "INSERT INTO items VALUES (1, 'a@x.org')")
	cfg := func(masks string) string {
		return fmt.Sprintf(`
tenants:
  - {id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     roles: {viewer: {masked_columns: [%s]}}}
users:
  - {name: vic, password: vic-pw, tenants: {shop: viewer}}
`, db, masks)
	}
	rp := startProxy(t, cfg(""))
	ctx := context.Background()
	c := rp.connect(t, "vic", "vic-pw", "shop")
	var email string
	if err := c.QueryRow(ctx, "SELECT email FROM items").Scan(&email); err != nil || email != "a@x.org" {
		t.Fatalf("before: %q %v", email, err)
	}
	sum := reloadYAML(t, rp.Server, cfg("items.email"))
	if strings.Join(sum.Changed, ",") != "shop" {
		t.Fatalf("summary: %+v", sum)
	}
	if err := c.QueryRow(ctx, "SELECT email FROM items").Scan(&email); err != nil || email != "****" {
		t.Fatalf("after the role masked the column: %q %v", email, err)
	}
	// The tenant moves to another database: the open session, still on the
	// old one, ends saying why rather than mixing the two.
	moved := tempPGDatabase(t, "opsroledef2")
	reloadYAML(t, rp.Server, strings.Replace(cfg("items.email"), db, moved, 1))
	_, err := c.Exec(ctx, "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "changed; reconnect") {
		t.Fatalf("after the tenant's database changed: %v", err)
	}
}

// TestOpsReloadNewMySQLTenantHidden: a MySQL tenant added by a reload is as
// hidden from the open sessions of other tenants as from new ones: its
// database and tables never show in their metadata queries.
func TestOpsReloadNewMySQLTenantHidden(t *testing.T) {
	f := newMyFixture(t, "", "")
	gammaDB := tempMyDatabase(t, "mygamma")
	myExec(t, gammaDB, "CREATE TABLE gamma_secret_table (id INT)")
	ctx := context.Background()
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	reloadYAML(t, f.rp.Server, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s},
     roles: {viewer: {max_rows: 3, masked_columns: [items.secret]}}}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s}}
  - {id: gamma, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s}}
users:
  - {name: alice, password: alice-pw, tenants: {alpha: admin, beta: analyst}}
  - {name: gina, password: gina-pw, tenants: {gamma: admin}}
`, f.alphaDB, f.betaDB, gammaDB))
	for _, q := range []string{
		"SELECT table_schema, table_name FROM information_schema.tables",
		"SELECT schema_name FROM information_schema.schemata",
		"SHOW DATABASES",
	} {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			continue // refused: nothing shown
		}
		for rows.Next() {
			cols, _ := rows.Columns()
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if strings.Contains(string(v), gammaDB) || strings.Contains(string(v), "gamma_secret_table") {
					t.Fatalf("%s in an open session of alpha shows the new tenant: %q", q, v)
				}
			}
		}
		rows.Close()
	}
}
