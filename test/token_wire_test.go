package test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestAccessTokenAsWirePassword logs in through the admin API and uses the
// token as the password of Postgres (cleartext on loopback, allowed by the
// config) and MySQL (clear password over TLS) connections.
func TestAccessTokenAsWirePassword(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	alpha := pgShop(t, "tok_alpha", `INSERT INTO customer VALUES (1,'Ana','ana@a.example','Brazil')`)
	beta := pgShop(t, "tok_beta", `INSERT INTO customer VALUES (1,'Dave','dave@b.example','Peru')`)
	my := tempMyDatabase(t, "tok_my")
	myExec(t, my, "CREATE TABLE customer (customer_id int PRIMARY KEY, name varchar(40))", "INSERT INTO customer VALUES (1, 'Mia')")
	a := startAPI(t, fmt.Sprintf(`
auth: {jwt_secret: %q, token_ttl: 1h, token_passwords_on_loopback: true}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: beta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: gamma, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}
users:
  - {name: alice, password: alice-secret, tenants: {alpha: analyst, beta: viewer, gamma: analyst}}
  - {name: bob, password: bob-secret, tenants: {beta: admin}}
`, testSecret, alpha, beta, my))
	ctx := context.Background()
	alphaTok := a.login(t, "alice", "alice-secret", "alpha")
	host, port, _ := net.SplitHostPort(a.PGAddr)
	pgURL := func(user, pw, db string) string {
		return fmt.Sprintf("postgres://%s:%s@%s:%s/%s?sslmode=disable", user, pw, host, port, db)
	}
	// The token of alpha opens alpha; with no database named, its tenant.
	for _, db := range []string{"alpha", ""} {
		c, err := pgx.Connect(ctx, pgURL("alice", alphaTok, db))
		if err != nil {
			t.Fatalf("token as password (db %q): %v", db, err)
		}
		var name string
		if err := c.QueryRow(ctx, "SELECT name FROM customer").Scan(&name); err != nil || name != "Ana" {
			t.Fatalf("through a token: %q %v", name, err)
		}
		c.Close(ctx)
	}
	// Not for another tenant, nor as another user, nor tampered.
	_, err := pgx.Connect(ctx, pgURL("alice", alphaTok, "beta"))
	wantCode(t, err, "42501")
	_, err = pgx.Connect(ctx, pgURL("bob", alphaTok, "alpha"))
	wantCode(t, err, "28P01")
	_, err = pgx.Connect(ctx, pgURL("alice", alphaTok[:len(alphaTok)-4]+"AAAA", "alpha"))
	wantCode(t, err, "28P01")
	// The plain password still works over the cleartext exchange.
	c, err := pgx.Connect(ctx, pgURL("alice", "alice-secret", "alpha"))
	if err != nil {
		t.Fatalf("password over cleartext: %v", err)
	}
	c.Close(ctx)
	_, err = pgx.Connect(ctx, pgURL("alice", "wrong", "alpha"))
	wantCode(t, err, "28P01")

	// MySQL: mysql_clear_password over TLS.
	gammaTok := a.login(t, "alice", "alice-secret", "gamma")
	dsn := func(pw, db string) string {
		return fmt.Sprintf("alice:%s@tcp(%s)/%s?tls=skip-verify&allowCleartextPasswords=true&timeout=5s", pw, a.MySQLAddr, db)
	}
	db, err := sql.Open("mysql", dsn(gammaTok, "gamma"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(ctx, "SELECT name FROM customer").Scan(&name); err != nil || name != "Mia" {
		t.Fatalf("MySQL through a token: %q %v", name, err)
	}
	bad, _ := sql.Open("mysql", dsn(alphaTok, "gamma"))
	defer bad.Close()
	err = bad.PingContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "another tenant") {
		t.Fatalf("MySQL with a token of another tenant: %v", err)
	}
}
