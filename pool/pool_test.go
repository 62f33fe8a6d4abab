package pool

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// fakeConn is a connection the tests open and close in memory.
type fakeConn struct {
	id      int
	closed  atomic.Bool
	broken  atomic.Bool
	spoiled atomic.Bool
}

func (c *fakeConn) Spoiled() bool { return c.spoiled.Load() }

func (c *fakeConn) Close() error { c.closed.Store(true); return nil }

type dialer struct {
	mu    sync.Mutex
	n     int
	conns []*fakeConn
	fail  atomic.Bool
}

func (d *dialer) dial(ctx context.Context) (*fakeConn, error) {
	if d.fail.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	c := &fakeConn{id: d.n}
	d.conns = append(d.conns, c)
	return c, nil
}

func ping(ctx context.Context, c *fakeConn) error {
	if c.broken.Load() {
		return errors.New("broken")
	}
	return nil
}

func newPool(t *testing.T, cfg Config) (*Pool[*fakeConn], *dialer) {
	t.Helper()
	if err := cfg.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	d := &dialer{}
	p := New("alpha", cfg, d.dial, ping)
	t.Cleanup(p.Close)
	return p, d
}

func TestReuseAndTimeoutNamesTenant(t *testing.T) {
	p, d := newPool(t, Config{Size: 2, Timeout: 50 * time.Millisecond})
	ctx := context.Background()
	a, _ := p.Acquire(ctx)
	b, _ := p.Acquire(ctx)
	start := time.Now()
	_, err := p.Acquire(ctx)
	if !sqlerr.Is(err, sqlerr.PoolTimeout) || sqlerr.As(err).SQLState() != "53300" {
		t.Fatalf("third acquire: %v", err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("acquire did not wait for the timeout")
	}
	if got := err.Error(); got == "" || !strings.Contains(got, `"alpha"`) {
		t.Fatalf("timeout message does not name the tenant: %s", got)
	}
	p.Release(a)
	c, err := p.Acquire(ctx)
	if err != nil || c.Conn != a.Conn {
		t.Fatalf("released connection not reused: %v", err)
	}
	p.Release(b)
	p.Release(c)
	if d.n != 2 {
		t.Fatalf("dialed %d connections, want 2", d.n)
	}
	st := p.Stats()
	if st.Idle != 2 || st.InUse != 0 || st.Timeouts != 1 || st.Total != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWaiterGetsReleasedConnection(t *testing.T) {
	p, _ := newPool(t, Config{Size: 1, Timeout: 2 * time.Second})
	a, _ := p.Acquire(context.Background())
	got := make(chan *Item[*fakeConn])
	go func() {
		it, err := p.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- it
	}()
	time.Sleep(20 * time.Millisecond)
	if p.Stats().Waiting != 1 {
		t.Fatalf("waiting = %d", p.Stats().Waiting)
	}
	p.Release(a)
	select {
	case it := <-got:
		p.Release(it)
	case <-time.After(time.Second):
		t.Fatal("waiter not served")
	}
}

func TestOverflowClosedOnRelease(t *testing.T) {
	p, _ := newPool(t, Config{Size: 1, MaxOverflow: 2, Timeout: 50 * time.Millisecond})
	ctx := context.Background()
	var items []*Item[*fakeConn]
	for i := 0; i < 3; i++ {
		it, err := p.Acquire(ctx)
		if err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
		items = append(items, it)
	}
	if _, err := p.Acquire(ctx); err == nil {
		t.Fatal("acquired past size + overflow")
	}
	for _, it := range items {
		p.Release(it)
	}
	st := p.Stats()
	if st.Idle != 1 || st.Total != 1 {
		t.Fatalf("overflow connections kept: %+v", st)
	}
	if !items[1].Conn.closed.Load() || !items[2].Conn.closed.Load() {
		t.Fatal("overflow connections not closed")
	}
}

func TestDiscardFreesSlotAndDialFailure(t *testing.T) {
	p, d := newPool(t, Config{Size: 1, Timeout: 50 * time.Millisecond})
	ctx := context.Background()
	a, _ := p.Acquire(ctx)
	p.Discard(a)
	if !a.Conn.closed.Load() || p.Stats().Total != 0 {
		t.Fatal("discarded connection not closed")
	}
	d.fail.Store(true)
	_, err := p.Acquire(ctx)
	if !sqlerr.Is(err, sqlerr.Unavailable) {
		t.Fatalf("dial failure: %v", err)
	}
	d.fail.Store(false)
	b, err := p.Acquire(ctx)
	if err != nil {
		t.Fatalf("slot not freed after a failed dial: %v", err)
	}
	p.Release(b)
}

func TestPrePingReplacesBrokenConnection(t *testing.T) {
	p, d := newPool(t, Config{Size: 1, PrePing: true})
	ctx := context.Background()
	a, _ := p.Acquire(ctx)
	p.Release(a)
	a.Conn.broken.Store(true)
	a.lastUsed = time.Now().Add(-2 * time.Second)
	b, err := p.Acquire(ctx)
	if err != nil || b.Conn == a.Conn || !a.Conn.closed.Load() || d.n != 2 {
		t.Fatalf("broken idle connection handed out: %v", err)
	}
	p.Release(b)
}

func TestRecycleAndIdleReaping(t *testing.T) {
	p, _ := newPool(t, Config{Size: 2, Recycle: time.Hour, IdleTimeout: 30 * time.Millisecond})
	ctx := context.Background()
	a, _ := p.Acquire(ctx)
	if a.expires.Sub(a.created) < 54*time.Minute || a.expires.Sub(a.created) > 66*time.Minute {
		t.Fatalf("lifetime %s is not recycle ±10%%", a.expires.Sub(a.created))
	}
	a.expires = time.Now().Add(-time.Second) // past its lifetime
	p.Release(a)
	b, _ := p.Acquire(ctx)
	if b.Conn == a.Conn || !a.Conn.closed.Load() {
		t.Fatal("connection past its lifetime handed out")
	}
	p.Release(b)
	deadline := time.Now().Add(2 * time.Second)
	for p.Stats().Total != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle connection not reaped: %+v", p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConcurrentUseNeverExceedsMax(t *testing.T) {
	p, d := newPool(t, Config{Size: 3, MaxOverflow: 1, Timeout: 2 * time.Second})
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				it, err := p.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				n := inUse.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				inUse.Add(-1)
				if i%17 == 0 {
					p.Discard(it)
				} else {
					p.Release(it)
				}
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 4 {
		t.Fatalf("%d connections in use at once, max is 4", peak.Load())
	}
	d.mu.Lock()
	open := 0
	for _, c := range d.conns {
		if !c.closed.Load() {
			open++
		}
	}
	d.mu.Unlock()
	if st := p.Stats(); open != st.Total || st.InUse != 0 {
		t.Fatalf("open %d, stats %+v", open, st)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	var c Config
	if err := c.CheckAndSetDefaults(); err != nil || c.Size != 10 || c.Mode != ModeTransaction || c.Timeout != 5*time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range []Config{{Size: -1}, {MaxOverflow: -1}, {Mode: "statement"}, {Timeout: -time.Second}} {
		if err := bad.CheckAndSetDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	p, d := newPool(t, Config{Size: 2, Timeout: time.Second, Breaker: BreakerConfig{Threshold: 3, Timeout: 150 * time.Millisecond}})
	var changes []string
	var mu sync.Mutex
	p.OnBreakerChange(func(from, to string) {
		mu.Lock()
		changes = append(changes, from+">"+to)
		mu.Unlock()
	})
	ctx := context.Background()
	d.fail.Store(true)
	for i := 0; i < 3; i++ {
		if _, err := p.Acquire(ctx); !sqlerr.Is(err, sqlerr.Unavailable) {
			t.Fatalf("dial failure %d: %v", i, err)
		}
	}
	if h := p.Health(); h.State != HealthDown || h.Breaker != "open" || !strings.Contains(h.Reason, "connection refused") {
		t.Fatalf("health after 3 failures: %+v", h)
	}
	dials := d.n
	start := time.Now()
	_, err := p.Acquire(ctx)
	if !sqlerr.Is(err, sqlerr.Unavailable) || !strings.Contains(err.Error(), "3 consecutive failures") || !strings.Contains(err.Error(), "next attempt in") {
		t.Fatalf("open breaker: %v", err)
	}
	if time.Since(start) > 20*time.Millisecond || d.n != dials {
		t.Fatal("open breaker did not fail fast without dialling")
	}
	if sqlerr.As(err).SQLState() != "57P03" || sqlerr.As(err).MySQLState() != "08S01" {
		t.Fatalf("codes %s %s", sqlerr.As(err).SQLState(), sqlerr.As(err).MySQLState())
	}
	// After the timeout one probe goes through; the backend is back.
	time.Sleep(200 * time.Millisecond)
	d.fail.Store(false)
	it, err := p.Acquire(ctx)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	p.Release(it)
	if h := p.Health(); h.State != HealthUp || h.Breaker != "closed" {
		t.Fatalf("health after recovery: %+v", h)
	}
	// A connection broken in use counts too; a dirty discard does not.
	for i := 0; i < 5; i++ {
		it, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Discard(it)
	}
	if p.Health().Breaker != "closed" {
		t.Fatal("discards of dirty connections opened the breaker")
	}
	for i := 0; i < 3; i++ {
		it, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Fail(it, errors.New("connection reset by peer"))
	}
	if p.Health().Breaker != "open" {
		t.Fatalf("protocol failures did not open the breaker: %+v", p.Health())
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(changes, ",") != "closed>open,open>half-open,half-open>closed,closed>open" {
		t.Fatalf("state changes %v", changes)
	}
}

func TestAutoSizeFollowsConcurrency(t *testing.T) {
	p, _ := newPool(t, Config{Size: 2, Timeout: time.Second, AutoSize: &AutoSize{Min: 1, Max: 8, Window: 2 * time.Second}})
	if p.Stats().MaxTotal != 8 {
		t.Fatalf("max in use %d, want auto_size.max", p.Stats().MaxTotal)
	}
	ctx := context.Background()
	var held []*Item[*fakeConn]
	for i := 0; i < 5; i++ {
		it, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, it)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Size != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("size did not follow 5 connections in use: %+v", p.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, it := range held {
		p.Release(it)
	}
	if st := p.Stats(); st.Idle != 5 || st.Recommended != 5 {
		t.Fatalf("after release: %+v", st)
	}
	deadline = time.Now().Add(6 * time.Second)
	for p.Stats().Size != 1 || p.Stats().Idle != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("size did not shrink to min with no load: %+v", p.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, bad := range []AutoSize{{Min: 3, Max: 2}, {Min: -1, Max: 2}, {Min: 1, Max: 4, Window: time.Millisecond}} {
		b := bad
		c := Config{AutoSize: &b}
		if err := c.CheckAndSetDefaults(); err == nil {
			t.Errorf("auto_size %+v accepted", bad)
		}
	}
}

func TestSpoiledConnectionIsNotReused(t *testing.T) {
	p, d := newPool(t, Config{Size: 2})
	ctx := context.Background()
	a, _ := p.Acquire(ctx)
	a.Conn.spoiled.Store(true) // a cancel was sent for it
	p.Release(a)
	if !a.Conn.closed.Load() || p.Stats().Idle != 0 {
		t.Fatalf("a spoiled connection went back to the pool: %+v", p.Stats())
	}
	b, _ := p.Acquire(ctx)
	if b.Conn == a.Conn || d.n != 2 {
		t.Fatal("a spoiled connection was handed out again")
	}
	p.Release(b)
	if p.Health().Breaker != "closed" {
		t.Fatal("a spoiled connection counted against the breaker")
	}
}

// TestBreakerStreakAcrossHealthyRequests: failures count as consecutive
// only until a success; a request that began while the backend was
// healthy and succeeds after some failures ends their streak, and a
// failure of a request let through while healthy counts.
func TestBreakerStreakAcrossHealthyRequests(t *testing.T) {
	p, _ := newPool(t, Config{Size: 4, Timeout: time.Second, Breaker: BreakerConfig{Threshold: 3, Timeout: time.Minute}})
	ctx := context.Background()
	acquire := func() *Item[*fakeConn] {
		t.Helper()
		it, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	p.Release(acquire()) // healthy
	long := acquire()    // began while healthy
	for i := 0; i < 2; i++ {
		p.Fail(acquire(), errors.New("connection reset by peer"))
	}
	p.Release(long) // its success ends the streak of 2
	for i := 0; i < 2; i++ {
		p.Fail(acquire(), errors.New("connection reset by peer"))
	}
	if h := p.Health(); h.Breaker != "closed" {
		t.Fatalf("2 + 2 failures around a success opened the breaker: %+v", h)
	}
	p.Fail(acquire(), errors.New("connection reset by peer"))
	if h := p.Health(); h.Breaker != "open" {
		t.Fatalf("3 consecutive failures left the breaker %s", h.Breaker)
	}
	if _, err := p.Acquire(ctx); !sqlerr.Is(err, sqlerr.Unavailable) {
		t.Fatalf("open breaker let a request through: %v", err)
	}
}
