package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestHundredTenantsCostNothingUntilUsed configures 100 tenants and checks
// that the proxy opens backend connections only for the one used, and that
// its idle pool shrinks to zero after the idle timeout.
func TestHundredTenantsCostNothingUntilUsed(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "hundred")
	var b strings.Builder
	b.WriteString("tenants:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "  - {id: t%03d, engine: postgres, dsn: \"postgres://postgres@127.0.0.1:5432/%s?sslmode=disable\", pool: {size: 2, idle_timeout: 300ms}}\n", i, db)
	}
	b.WriteString("users:\n  - {name: u, password: pw, tenants: {t042: admin}}\n")
	rp := startProxy(t, b.String())
	ctx := context.Background()
	backends := func() int {
		c, err := pgx.Connect(ctx, pgAdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tenantproxy'", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := backends(); n != 0 {
		t.Fatalf("%d backend connections before any client", n)
	}
	c := rp.connect(t, "u", "pw", "t042")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if n := backends(); n != 1 {
		t.Fatalf("%d backend connections for one client of one tenant", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for backends() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle pool did not shrink to zero")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("the pool did not come back on demand: %v", err)
	}
}
