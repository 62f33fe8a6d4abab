package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPGBreakerIsolatesAnOutage takes one tenant's backend down behind a
// fault relay while another tenant runs a steady load: the broken tenant's
// clients fail fast once the breaker opens and recover when the backend is
// back; the other tenant sees no error.
func TestPGBreakerIsolatesAnOutage(t *testing.T) {
	requirePostgres(t)
	flakyDB := tempPGDatabase(t, "flaky")
	steadyDB := tempPGDatabase(t, "steady")
	relay := newFaultRelay(t, "127.0.0.1:5432")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: flaky, engine: postgres, dsn: "postgres://postgres@%s/%s?sslmode=disable&connect_timeout=2",
     pool: {size: 4, timeout: 2s}, breaker: {threshold: 3, timeout: 1s}}
  - {id: steady, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 4}}
users:
  - {name: u, password: pw, tenants: {flaky: admin, steady: admin}}
`, relay.addr, flakyDB, steadyDB))
	ctx := context.Background()

	// Steady load on the other tenant for the whole test.
	load := startSteadyLoad(t, rp.pgURL("u", "pw", "steady"), 3)

	query := func() (time.Duration, error) {
		start := time.Now()
		c, err := pgx.Connect(ctx, rp.pgURL("u", "pw", "flaky"))
		if err != nil {
			return time.Since(start), err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "SELECT 1")
		return time.Since(start), err
	}
	if _, err := query(); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	relay.down()
	killed := time.Now()
	var fastAt time.Duration
	for i := 0; i < 20; i++ {
		d, err := query()
		if err == nil {
			t.Fatal("query succeeded with the backend down")
		}
		if s := sqlstate(err); s != "57P03" {
			t.Fatalf("backend down: %v", err)
		}
		if strings.Contains(err.Error(), flakyDB) || strings.Contains(err.Error(), relay.addr) {
			t.Fatalf("error names the backend: %v", err)
		}
		if strings.Contains(err.Error(), "3 consecutive failures") && d < 100*time.Millisecond {
			fastAt = time.Since(killed)
			t.Logf("breaker open after %d attempts, %s after the outage: %v", i+1, fastAt.Round(time.Millisecond), err)
			break
		}
	}
	if fastAt == 0 {
		t.Fatal("the breaker never opened")
	}
	relay.up(t)
	back := time.Now()
	var recovered time.Duration
	for time.Since(back) < 10*time.Second {
		if _, err := query(); err == nil {
			recovered = time.Since(back)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if recovered == 0 {
		t.Fatal("the tenant did not recover after the backend came back")
	}
	if h := rp.Server.Tenants()[0].PGPool.Health(); h.State != "up" || h.Breaker != "closed" {
		t.Fatalf("health after recovery: %+v", h)
	}
	t.Logf("first success %s after the backend came back", recovered.Round(time.Millisecond))
	p99, errs, n := load.stop()
	if errs != 0 || n == 0 {
		t.Fatalf("the other tenant saw %d errors (%d queries)", errs, n)
	}
	t.Logf("other tenant: %d queries, p99 %s during the fault test", n, p99.Round(time.Microsecond))
}

// TestPGHealthCheckClosesBreaker opens a tenant's breaker, brings the
// backend back and sends no client traffic: the active health check probes
// the backend and closes the breaker on its own.
func TestPGHealthCheckClosesBreaker(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "probe")
	relay := newFaultRelay(t, "127.0.0.1:5432")
	rp := startProxy(t, fmt.Sprintf(`
health: {interval: 100ms}
tenants:
  - {id: probe, engine: postgres, dsn: "postgres://postgres@%s/%s?sslmode=disable&connect_timeout=2",
     pool: {size: 2, timeout: 2s}, breaker: {threshold: 2, timeout: 300ms}}
users:
  - {name: u, password: pw, tenants: {probe: admin}}
`, relay.addr, db))
	ctx := context.Background()
	c := rp.connect(t, "u", "pw", "probe")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	relay.down()
	ts := rp.Server.Tenants()[0]
	deadline := time.Now().Add(5 * time.Second)
	for ts.PGPool.Health().Breaker != "open" {
		if time.Now().After(deadline) {
			t.Fatalf("breaker not opened by the health checks: %+v", ts.PGPool.Health())
		}
		time.Sleep(20 * time.Millisecond)
	}
	down := ts.PGPool.Health()
	if down.State != "down" || down.Reason == "" {
		t.Fatalf("health while down: %+v", down)
	}
	relay.up(t)
	back := time.Now()
	for ts.PGPool.Health().Breaker != "closed" {
		if time.Since(back) > 5*time.Second {
			t.Fatalf("breaker not closed by the health checks: %+v", ts.PGPool.Health())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the health check closed the breaker %s after the backend came back", time.Since(back).Round(time.Millisecond))
	if h := ts.PGPool.Health(); h.State != "up" {
		t.Fatalf("health after recovery: %+v", h)
	}
}

// TestPGSlowAndDroppedBackend slows a tenant's backend behind the fault
// relay past its statement timeout, then drops its connections mid-query:
// the tenant's clients get clear errors, stay usable, and the other tenant
// sees no error.
func TestPGSlowAndDroppedBackend(t *testing.T) {
	requirePostgres(t)
	slowDB := tempPGDatabase(t, "slow")
	steadyDB := tempPGDatabase(t, "steady3")
	relay := newFaultRelay(t, "127.0.0.1:5432")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: slow, engine: postgres, dsn: "postgres://postgres@%s/%s?sslmode=disable&connect_timeout=2",
     pool: {size: 2, timeout: 2s}, limits: {statement_timeout: 300ms}}
  - {id: steady, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: u, password: pw, tenants: {slow: admin, steady: admin}}
`, relay.addr, slowDB, steadyDB))
	ctx := context.Background()
	load := startSteadyLoad(t, rp.pgURL("u", "pw", "steady"), 2)
	c := rp.connect(t, "u", "pw", "slow")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// Slow: every chunk the relay forwards waits 2s.
	relay.delay.Store(int64(2 * time.Second))
	start := time.Now()
	_, err := c.Exec(ctx, "SELECT 1")
	if err == nil {
		t.Fatal("a statement slower than the timeout succeeded")
	}
	t.Logf("slow backend: %v after %s", err, time.Since(start).Round(time.Millisecond))
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the timeout did not bound a slow backend: %s", time.Since(start))
	}
	relay.delay.Store(0)
	c = rp.connect(t, "u", "pw", "slow")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after the slowness: %v", err)
	}
	// Dropped mid-query.
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "SELECT pg_sleep(0.2)", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	relay.drop()
	if err := <-done; err == nil {
		t.Fatal("a statement whose backend connection was dropped succeeded")
	} else {
		t.Logf("dropped connection: %v", err)
	}
	c2 := rp.connect(t, "u", "pw", "slow")
	if _, err := c2.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after the drop: %v", err)
	}
	p99, errs, n := load.stop()
	if errs != 0 {
		t.Fatalf("the other tenant saw %d errors", errs)
	}
	t.Logf("other tenant: %d queries, 0 errors, p99 %s", n, p99.Round(time.Microsecond))
}
