package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
)

// fleetRedis returns a client of the local Redis, or skips (fails under
// CI=true) when it is down.
func fleetRedis(t testing.TB) *redis.Client {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DialTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis is not reachable at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("Redis is not reachable: %v", err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// fleetMember is a proxy core with a tenant "t" joined to a fleet.
func fleetMember(t testing.TB, rc *redis.Client, prefix string, limits Limits) (*Server, *Fleet) {
	t.Helper()
	pc, err := pgconn.ParseConfig("postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pool.Config{}
	if err := pcfg.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := limits.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	ten := &Tenant{ID: "t", Engine: EnginePostgres, PGConfig: pc, Pool: pcfg, Limits: limits,
		Scope: policy.Scope{Tenant: "t", Isolation: policy.IsolationDatabase, Database: "none"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(Config{Tenants: []*Tenant{ten}}, policy.NewEngine(100), NewMetrics(prometheus.NewRegistry()), log)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFleet(FleetConfig{Enabled: true, PeerListen: "127.0.0.1:0", Secret: "0123456789abcdef0123",
		Heartbeat: 50 * time.Millisecond, LeaseTTL: 300 * time.Millisecond, Prefix: prefix}, rc, s, "test", "h", nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Peers dial the port the listener got.
	f.mu.Lock()
	f.self.PeerAddr = f.peer.Addr()
	f.mu.Unlock()
	t.Cleanup(f.Close)
	return s, f
}

func bindingOf(s *Server) *Binding {
	t, _ := s.Tenant("t")
	return &Binding{User: &User{Name: "u"}, Tenant: t, Role: &policy.Role{Name: "analyst", Access: policy.AccessRead}}
}

// TestFleetInProcess runs two fleet members in one process (under -race):
// connection slots, rate shares, forwarded cancel and KILL, leaving.
func TestFleetInProcess(t *testing.T) {
	rc := fleetRedis(t)
	prefix := fmt.Sprintf("tp:test:%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	})
	lim := Limits{MaxClientConnections: 3, QPS: 100}
	s1, f1 := fleetMember(t, rc, prefix, lim)
	s2, f2 := fleetMember(t, rc, prefix, lim)
	waitFor(t, "two members", func() bool { return len(f1.Members()) == 2 && len(f2.Members()) == 2 })
	if f1.node.Load() == f2.node.Load() {
		t.Fatal("two members share a node number")
	}

	// Connection slots: 3 across both.
	var releases []func()
	for _, s := range []*Server{s1, s1, s2} {
		r, err := s.Admit(bindingOf(s))
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	for _, s := range []*Server{s1, s2} {
		if _, err := s.Admit(bindingOf(s)); err == nil {
			t.Fatal("a fourth connection was admitted across the fleet (limit 3)")
		}
	}
	releases[2]()
	waitFor(t, "a released slot", func() bool {
		r, err := s1.Admit(bindingOf(s1))
		if err == nil {
			releases[2] = r
		}
		return err == nil
	})

	// Rate shares follow demand and add up to the tenant's rate.
	b1, b2 := bindingOf(s1), bindingOf(s2)
	for i := 0; i < 40; i++ {
		_ = s1.Allow(b1)
		_ = s1.Allow(b1)
		_ = s2.Allow(b2)
		time.Sleep(5 * time.Millisecond)
	}
	sh1, sh2 := f1.limits.share("t", 100), f2.limits.share("t", 100)
	if math.Abs(sh1+sh2-100) > 15 || sh1 <= sh2 {
		t.Errorf("shares %.1f and %.1f (demand 2:1), want them to add up to about 100, the busier larger", sh1, sh2)
	}

	// A cancel key handed out by s1 works when the request reaches s2.
	var cancelled atomic.Bool
	pid, secret, unreg := s1.NewCancelKey(func() { cancelled.Store(true) })
	defer unreg()
	if int(pid>>cancelNodeShift) != int(f1.node.Load()) {
		t.Fatalf("cancel key %d does not carry node %d", pid, f1.node.Load())
	}
	if s2.Cancel(pid, secret+1) || cancelled.Load() {
		t.Fatal("a forwarded cancel with a wrong secret cancelled")
	}
	if !s2.Cancel(pid, secret) || !cancelled.Load() {
		t.Fatal("a cancel request for s1's key sent to s2 was not forwarded")
	}

	// KILL of an s1 connection id through s2, for the same user only.
	var killed atomic.Uint32
	s1.SetKillFunc(func(id uint32, user, tenant string, query bool) bool {
		if user != "u" || tenant != "t" {
			return false
		}
		killed.Store(id)
		return true
	})
	id := s1.NewConnID(7)
	if s2.ForwardKill(id, "mallory", "t", true) {
		t.Fatal("another user's KILL was done")
	}
	if !s2.ForwardKill(id, "u", "t", true) || killed.Load() != id {
		t.Fatalf("KILL of %d through s2 not forwarded", id)
	}

	// A member that leaves stops counting for the others.
	f1.Close()
	for _, r := range releases {
		r()
	}
	waitFor(t, "s2 alone", func() bool { return len(f2.Members()) == 1 })
	for i := 0; i < 3; i++ {
		if _, err := s2.Admit(b2); err != nil {
			t.Fatalf("after s1 left: %v", err)
		}
	}
}

// BenchmarkAllow is the per-statement cost of the rate limit, alone and as
// a fleet member (its share is local state: no Redis call).
func BenchmarkAllow(b *testing.B) {
	lim := Limits{QPS: 1e9}
	b.Run("alone", func(b *testing.B) {
		pc, _ := pgconn.ParseConfig("postgres://nobody@127.0.0.1:1/none")
		pcfg := pool.Config{}
		_ = pcfg.CheckAndSetDefaults()
		l := lim
		_ = l.CheckAndSetDefaults()
		s, _ := New(Config{Tenants: []*Tenant{{ID: "t", Engine: EnginePostgres, PGConfig: pc, Pool: pcfg, Limits: l}}},
			policy.NewEngine(10), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		bd := bindingOf(s)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = s.Allow(bd)
		}
	})
	b.Run("fleet", func(b *testing.B) {
		rc := fleetRedis(b)
		s, _ := fleetMember(b, rc, fmt.Sprintf("tp:bench:%d:", time.Now().UnixNano()), lim)
		bd := bindingOf(s)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = s.Allow(bd)
		}
	})
}
