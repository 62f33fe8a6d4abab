package test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Protocol-state probes: a statement kept by the client (a named prepared
// statement on Postgres, COM_STMT_PREPARE on MySQL) is prepared while the
// view it reads is harmless; the view is then replaced on the server by one
// that reads a masked column, and the kept statement is executed after the
// catalog refresh: it must be decided again (proxy.CatalogGen) and refused.

func TestOwnCodeStateHeldKeptStatementPG(t *testing.T) {
	requirePostgres(t)
	ctx := context.Background()
	db := tempPGDatabase(t, "ownstate")
	pgExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, secret text)",
		"INSERT INTO items VALUES (1, 'secret-one')",
		"CREATE TABLE names (id int PRIMARY KEY, name text)", "INSERT INTO names VALUES (1, 'harmless')", "CREATE VIEW v AS SELECT id, name AS s FROM names",
	)
	rp := startProxy(t, fmt.Sprintf(`
catalog: {refresh: 1s}
tenants:
  - id: acme
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      viewer: {masked_columns: [items.secret]}
users:
  - {name: vera, password: pw, tenants: {acme: viewer}}
`, db))
	c, err := pgx.Connect(ctx, rp.pgURL("vera", "pw", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Prepare(ctx, "kept", "SELECT s FROM v WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	got, err := ownPGRows(c, pgx.QueryExecModeCacheStatement, "kept")
	t.Logf("before: %q %v", got, err)
	pgExec(t, db, "CREATE OR REPLACE VIEW v AS SELECT id, secret AS s FROM items")
	direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	if got, err := ownPGRows(direct, pgx.QueryExecModeSimpleProtocol, "SELECT s FROM v WHERE id = 1"); err != nil || !strings.Contains(got, "secret-one") {
		t.Fatalf("control: %q %v", got, err)
	}
	time.Sleep(2500 * time.Millisecond)
	got, err = ownPGRows(c, pgx.QueryExecModeCacheStatement, "kept")
	if strings.Contains(got, "secret-one") {
		t.Errorf("PG named statement kept across CREATE OR REPLACE on the server: vera read %q", got)
	} else if err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("PG named statement after the change: %q %v; want a 42501 refusal", got, err)
	}
	// pgx statement cache, same text, fresh text after the change.
	got, err = ownPGRows(c, pgx.QueryExecModeCacheStatement, "SELECT s FROM v WHERE id = 1")
	if strings.Contains(got, "secret-one") {
		t.Errorf("PG cached statement: vera read %q", got)
	} else if err == nil || !strings.Contains(err.Error(), "42501") {
		t.Errorf("PG cached statement after the change: %q %v; want a 42501 refusal", got, err)
	}
}

func TestOwnCodeStateHeldKeptStatementMySQL(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "ownstate")
	myExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, secret text)",
		"INSERT INTO items VALUES (1, 'secret-one')",
		"CREATE TABLE names (id int PRIMARY KEY, name text)", "INSERT INTO names VALUES (1, 'harmless')", "CREATE VIEW v AS SELECT id, name AS s FROM names",
	)
	rp := startProxy(t, fmt.Sprintf(`
catalog: {refresh: 1s}
tenants:
  - id: acme
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
    roles:
      viewer: {masked_columns: [items.secret]}
users:
  - {name: vera, password: pw, tenants: {acme: viewer}}
`, db))
	c := rp.myOpen(t, "vera", "pw", "acme", "")
	c.SetMaxOpenConns(1)
	st, err := c.Prepare("SELECT s FROM v WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var s sql.NullString
	err = st.QueryRow(1).Scan(&s)
	t.Logf("before: %q %v", s.String, err)
	myExec(t, db, "CREATE OR REPLACE VIEW v AS SELECT id, secret AS s FROM items")
	direct, err := sql.Open("mysql", myAdminDSN+db)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if got, err := ownMyRows(direct, "SELECT s FROM v WHERE id = 1"); err != nil || !strings.Contains(got, "secret-one") {
		t.Fatalf("control: %q %v", got, err)
	}
	time.Sleep(2500 * time.Millisecond)
	s = sql.NullString{}
	err = st.QueryRow(1).Scan(&s)
	if strings.Contains(s.String, "secret-one") {
		t.Errorf("MySQL COM_STMT_PREPARE (SELECT s FROM v WHERE id = ?) prepared before v was replaced on the server by a view over items.secret, executed after refresh: vera read %q", s.String)
	} else if err == nil || !strings.Contains(err.Error(), "1142") {
		t.Errorf("MySQL kept statement after the change: %q %v; want error 1142", s.String, err)
	}
}

// A fresh text after the same change is refused: the snapshot knows v.
func TestOwnCodeStateHeldFreshTextMySQL(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "ownstatef")
	myExec(t, db, "CREATE TABLE items (id int PRIMARY KEY, secret text)", "INSERT INTO items VALUES (1, 'secret-one')",
		"CREATE TABLE names (id int PRIMARY KEY, name text)", "INSERT INTO names VALUES (1, 'harmless')", "CREATE VIEW v AS SELECT id, name AS s FROM names")
	rp := startProxy(t, fmt.Sprintf(`
catalog: {refresh: 1s}
tenants:
  - {id: acme, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", roles: {viewer: {masked_columns: [items.secret]}}}
users:
  - {name: vera, password: pw, tenants: {acme: viewer}}
`, db))
	c := rp.myOpen(t, "vera", "pw", "acme", "")
	if got, err := ownMyRows(c, "SELECT s FROM v WHERE id = ?", 1); err != nil || got != "harmless" {
		t.Fatalf("before: %q %v", got, err)
	}
	myExec(t, db, "CREATE OR REPLACE VIEW v AS SELECT id, secret AS s FROM items")
	time.Sleep(2500 * time.Millisecond)
	for _, q := range []string{"SELECT s FROM v WHERE id = 1", "SELECT s FROM v WHERE id = ? "} {
		got, err := ownMyRows(c, q, func() []any {
			if strings.Contains(q, "?") {
				return []any{1}
			}
			return nil
		}()...)
		if strings.Contains(got, "secret-one") {
			t.Errorf("fresh %q: vera read %q", q, got)
		} else {
			t.Logf("held %q: %v", q, err)
		}
	}
}
