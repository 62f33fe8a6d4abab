package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/admin"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	mysqlwire "github.com/tenantproxy/tenantproxy/wire/mysql"
	"github.com/tenantproxy/tenantproxy/wire/pg"
)

// pgAdminDSN reaches the local Postgres as its superuser.
const pgAdminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// requirePostgres skips (or, under CI=true, fails) when Postgres is down.
func requirePostgres(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgAdminDSN)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Postgres is not reachable at 127.0.0.1:5432: %v", err)
		}
		t.Skipf("Postgres is not reachable: %v", err)
	}
	_ = c.Close(ctx)
}

// pgExec runs statements as the Postgres superuser on database db.
func pgExec(t testing.TB, db string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	defer c.Close(ctx)
	for _, q := range sqls {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// tempPGDatabase creates a database with a unique name, dropped after the test.
func tempPGDatabase(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("tp_%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
	pgExec(t, "postgres", "CREATE DATABASE "+name)
	t.Cleanup(func() {
		pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return name
}

// runningProxy is a proxy started in-process on free ports.
type runningProxy struct {
	PGAddr    string
	MySQLAddr string
	AdminAddr string
	Server    *proxy.Server
	Registry  *prometheus.Registry
	stop      func()
}

// startProxy loads yaml (a whole config file; listen addresses are replaced
// by free ports) and serves it until the test ends.
func startProxy(t testing.TB, yaml string) *runningProxy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml = "listen: {postgres: \"127.0.0.1:0\", mysql: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\n" + yaml
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TP_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewRegistry()
	p, err := proxy.New(cfg.Proxy, policy.NewEngine(10000), proxy.NewMetrics(reg), log)
	if err != nil {
		t.Fatal(err)
	}
	pgl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pgSrv := pg.New(p, nil, log)
	go func() { _ = pgSrv.Serve(pgl) }()
	myl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mySrv := mysqlwire.New(p, mysqlTLS(t), log)
	go func() { _ = mySrv.Serve(myl) }()
	adm := admin.New(p, reg, log)
	go func() { _ = adm.Serve(adl) }()
	rp := &runningProxy{PGAddr: pgl.Addr().String(), MySQLAddr: myl.Addr().String(), AdminAddr: adl.Addr().String(), Server: p, Registry: reg}
	stopped := false
	rp.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = pgl.Close()
		_ = myl.Close()
		_ = adl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		pgSrv.Wait()
		mySrv.Wait()
		_ = adm.Shutdown(ctx)
	}
	t.Cleanup(rp.stop)
	return rp
}

// pgURL is a client DSN for the proxy.
func (rp *runningProxy) pgURL(user, password, tenant string) string {
	host, port, _ := net.SplitHostPort(rp.PGAddr)
	return fmt.Sprintf("postgres://%s:%s@%s:%s/%s?sslmode=disable", user, password, host, port, tenant)
}

// connect opens a pgx connection through the proxy.
func (rp *runningProxy) connect(t testing.TB, user, password, tenant string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, rp.pgURL(user, password, tenant))
	if err != nil {
		t.Fatalf("connect %s@%s: %v", user, tenant, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
