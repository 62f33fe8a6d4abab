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

func TestPGTenantLimits(t *testing.T) {
	requirePostgres(t)
	limited := tempPGDatabase(t, "limited")
	free := tempPGDatabase(t, "free")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: limited, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     limits: {max_client_connections: 2, qps: 20, burst: 5, statement_timeout: 300ms}}
  - {id: free, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: u, password: pw, tenants: {limited: admin, free: admin}}
`, limited, free))
	ctx := context.Background()
	a := rp.connect(t, "u", "pw", "limited")
	b := rp.connect(t, "u", "pw", "limited")
	_, err := pgx.Connect(ctx, rp.pgURL("u", "pw", "limited"))
	wantCode(t, err, "53300")
	if !strings.Contains(err.Error(), `"limited" (limit 2)`) {
		t.Fatalf("limit error: %v", err)
	}
	// Other tenants are not counted against it.
	f := rp.connect(t, "u", "pw", "free")
	// Switching into the full tenant is refused too.
	_, err = f.PgConn().Exec(ctx, "SET tenant = 'limited'").ReadAll()
	wantCode(t, err, "53300")
	// Statement timeout: the backend statement is cancelled.
	start := time.Now()
	_, err = a.Exec(ctx, "SELECT pg_sleep(5)")
	wantCode(t, err, "57014")
	if !strings.Contains(err.Error(), "statement timeout") || time.Since(start) > 3*time.Second {
		t.Fatalf("timeout after %s: %v", time.Since(start), err)
	}
	if _, err := a.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("session after a timeout: %v", err)
	}
	// Rate: a burst of 5, then 20 per second; past it 53400 at once.
	time.Sleep(300 * time.Millisecond)
	limitedErrs := 0
	for i := 0; i < 40; i++ {
		start := time.Now()
		_, err := b.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			wantCode(t, err, "53400")
			if time.Since(start) > 100*time.Millisecond {
				t.Fatal("a rate-limited statement was delayed instead of refused")
			}
			limitedErrs++
		}
	}
	if limitedErrs < 20 {
		t.Fatalf("only %d of 40 back-to-back statements were limited", limitedErrs)
	}
	// The other tenant has no limit.
	for i := 0; i < 40; i++ {
		if _, err := f.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatalf("unlimited tenant: %v", err)
		}
	}
	// A client leaving frees its place.
	a.Close(ctx)
	time.Sleep(100 * time.Millisecond)
	c, err := pgx.Connect(ctx, rp.pgURL("u", "pw", "limited"))
	if err != nil {
		t.Fatalf("after a client left: %v", err)
	}
	c.Close(ctx)
}

func TestMySQLTenantLimits(t *testing.T) {
	requireMySQL(t)
	limited := tempMyDatabase(t, "mylimited")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: limited, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s",
     limits: {max_client_connections: 1, qps: 10, burst: 3, statement_timeout: 300ms}}
users:
  - {name: u, password: pw, tenants: {limited: admin}}
`, limited))
	ctx := context.Background()
	db := rp.myOpen(t, "u", "pw", "limited", "")
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	other, _ := sql.Open("mysql", rp.myDSN("u", "pw", "limited", ""))
	defer other.Close()
	err = other.PingContext(ctx)
	wantMyErr(t, err, 1040, "second client")
	start := time.Now()
	_, err = conn.ExecContext(ctx, "SELECT COUNT(*) FROM seq_1_to_100000 a, seq_1_to_100000 b")
	if code, _ := myErr(t, err); code != 3024 || time.Since(start) > 4*time.Second {
		t.Fatalf("statement timeout: code %d after %s: %v", code, time.Since(start), err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatalf("session after a timeout: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	limitedErrs := 0
	for i := 0; i < 20; i++ {
		if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
			c, _ := myErr(t, err)
			if c != 1226 {
				t.Fatalf("rate limit: %v", err)
			}
			limitedErrs++
		}
	}
	if limitedErrs < 10 {
		t.Fatalf("only %d of 20 statements were rate limited", limitedErrs)
	}
}
