package pool

import (
	"context"
	"crypto/tls"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantproxy/tenantproxy/wire/netio"
)

// TestBackendSocketsThroughNetio: a pooled backend connection reads and
// writes its socket through netio, plain and under TLS (where TLS is
// layered over the wrapped socket), on Postgres and MariaDB.
func TestBackendSocketsThroughNetio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	unreachable := func(what string, err error) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", what, err)
		}
		t.Skipf("%s: %v", what, err)
	}
	for _, mode := range []string{"disable", "require"} {
		cfg, err := pgconn.ParseConfig("postgres://postgres@127.0.0.1:5432/postgres?sslmode=" + mode)
		if err != nil {
			t.Fatal(err)
		}
		c, err := PostgresDialer(cfg)(ctx)
		if err != nil {
			unreachable("postgres sslmode="+mode, err)
		}
		nc := c.Conn
		if tc, ok := nc.(*tls.Conn); ok {
			if mode != "require" {
				t.Fatalf("sslmode=%s gave a TLS connection", mode)
			}
			nc = tc.NetConn()
		} else if mode == "require" {
			t.Fatalf("sslmode=require gave %T", nc)
		}
		if _, ok := nc.(*netio.Conn); !ok {
			t.Fatalf("postgres sslmode=%s: the socket is %T, not *netio.Conn", mode, nc)
		}
		if err := PingPostgres(ctx, c); err != nil {
			t.Fatalf("postgres sslmode=%s: ping: %v", mode, err)
		}
		_ = c.Conn.Close()
	}
	m, err := dialMySQL(ctx, MySQLDSN{Addr: "127.0.0.1:3306", User: "root"})
	if err != nil {
		unreachable("mysql", err)
	}
	defer m.Conn.Close()
	if _, ok := m.Conn.(*netio.Conn); !ok {
		t.Fatalf("mysql: the socket is %T, not *netio.Conn", m.Conn)
	}
	if err := PingMySQL(ctx, m); err != nil {
		t.Fatalf("mysql: ping: %v", err)
	}
}
