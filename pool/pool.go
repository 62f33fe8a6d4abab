// Package pool owns tenantproxy's per-tenant backend connection pools: sizing
// with overflow, acquire timeouts, recycling with jitter, idle reaping,
// pre-ping and usage statistics. It knows nothing of users or roles.
//
// Pool is generic over the connection type so that the Postgres side (raw
// protocol connections, see Postgres) and the MySQL side share one
// implementation.
package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Mode is when a backend connection goes back to the pool.
type Mode string

// Pooling modes.
const (
	ModeTransaction Mode = "transaction" // at the end of each transaction (default)
	ModeSession     Mode = "session"     // when the client disconnects
)

// Config is one tenant's pool settings (config key tenants[].pool).
type Config struct {
	Size        int           `mapstructure:"size"`         // connections kept open (default 10)
	MaxOverflow int           `mapstructure:"max_overflow"` // extra connections allowed under load, closed when returned
	Timeout     time.Duration `mapstructure:"timeout"`      // how long Acquire waits (default 5s)
	Recycle     time.Duration `mapstructure:"recycle"`      // max lifetime, ±10% jitter (default 30m; 0 = default, <0 = never)
	IdleTimeout time.Duration `mapstructure:"idle_timeout"` // close connections idle this long (default 10m; <0 = never)
	PrePing     bool          `mapstructure:"pre_ping"`     // ping a connection idle over a second before handing it out
	Mode        Mode          `mapstructure:"mode"`         // transaction (default) or session
	// Breaker guards the backend (config key tenants[].breaker).
	Breaker BreakerConfig `mapstructure:"-"`
	// HealthInterval is how often a used pool checks its backend actively
	// (config key health.interval; 0: no active checks).
	HealthInterval time.Duration `mapstructure:"-"`
	// AutoSize, when set, makes the size follow the measured concurrency.
	AutoSize *AutoSize `mapstructure:"auto_size"`
	// ClusterMax caps the tenant's backend connections in use across a
	// fleet of proxies (0: no cap); each proxy takes a share (limit.go).
	ClusterMax int `mapstructure:"cluster_max"`
}

// AutoSize bounds an automatically sized pool (config key pool.auto_size):
// every second the pool samples how many connections are in use; every
// window it sets its size (the connections it keeps open) to the 95th
// percentile of those samples, within [Min, Max]. Up to Max+MaxOverflow
// connections may be in use at once.
type AutoSize struct {
	Min    int           `mapstructure:"min"`
	Max    int           `mapstructure:"max"`
	Window time.Duration `mapstructure:"window"` // default 1m
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *Config) CheckAndSetDefaults() error {
	if c.Size == 0 {
		c.Size = 10
	}
	if c.Size < 0 {
		return fmt.Errorf("size must be positive, got %d", c.Size)
	}
	if c.MaxOverflow < 0 {
		return fmt.Errorf("max_overflow must not be negative, got %d", c.MaxOverflow)
	}
	if c.ClusterMax < 0 {
		return fmt.Errorf("cluster_max must not be negative, got %d", c.ClusterMax)
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout must be positive, got %s", c.Timeout)
	}
	if c.Recycle == 0 {
		c.Recycle = 30 * time.Minute
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if err := c.Breaker.CheckAndSetDefaults(); err != nil {
		return fmt.Errorf("breaker: %w", err)
	}
	if a := c.AutoSize; a != nil {
		if a.Min < 0 || a.Max < 1 || a.Min > a.Max {
			return fmt.Errorf("auto_size: need 0 <= min <= max and max >= 1, got min %d max %d", a.Min, a.Max)
		}
		if a.Window == 0 {
			a.Window = time.Minute
		}
		if a.Window < time.Second {
			return fmt.Errorf("auto_size: window must be at least 1s, got %s", a.Window)
		}
		c.Size = min(max(c.Size, a.Min), a.Max)
	}
	switch c.Mode {
	case "":
		c.Mode = ModeTransaction
	case ModeTransaction, ModeSession:
	default:
		return fmt.Errorf("mode must be transaction or session, got %q", c.Mode)
	}
	return nil
}

// Conn is what a pooled connection must offer.
type Conn interface {
	Close() error
}

// Dialer opens a new backend connection.
type Dialer[C Conn] func(ctx context.Context) (C, error)

// Pinger checks that an idle connection still works.
type Pinger[C Conn] func(ctx context.Context, c C) error

// Item is a pooled connection handed out by Acquire. It must be given back
// with exactly one of Release or Discard.
type Item[C Conn] struct {
	Conn     C
	created  time.Time
	expires  time.Time // zero: never
	lastUsed time.Time
	done     func(error) // reports the outcome to the breaker
}

// Created returns when the connection was opened.
func (it *Item[C]) Created() time.Time { return it.created }

// Stats is a snapshot of a pool's usage.
type Stats struct {
	Size        int   // connections kept open (configured, or the current auto size)
	Recommended int   // the size the measured concurrency calls for (auto_size)
	MaxTotal    int   // size + max_overflow
	Total       int   // open connections
	InUse       int   // handed out
	Idle        int   // open and waiting in the pool
	Waiting     int   // Acquire calls waiting for a connection
	Acquired    int64 // Acquire calls that succeeded
	Timeouts    int64 // Acquire calls that timed out
	Dials       int64 // connections opened
	DialErrors  int64 // connection attempts that failed
}

// Pool is one tenant's pool of backend connections.
type Pool[C Conn] struct {
	name   string
	cfg    Config
	dial   Dialer[C]
	ping   Pinger[C]
	tokens chan struct{} // one token per connection in use; capacity size+overflow (max+overflow when auto-sized)
	br     *breaker
	size   atomic.Int64 // connections kept open; changes when auto-sized
	lim    limit        // a cap below the configured maximum (limit.go)
	// samples of in-use connections for auto-sizing (one per second)
	samples     []int
	recommended atomic.Int64

	mu     sync.Mutex
	idle   []*Item[C] // LIFO: the most recently used connection is reused first
	total  int
	closed bool

	waiting    atomic.Int64
	acquired   atomic.Int64
	timeouts   atomic.Int64
	dials      atomic.Int64
	dialErrors atomic.Int64

	stop chan struct{}
	done chan struct{}
}

// New returns a pool named name (the tenant id, used in errors) that opens
// connections with dial and, when cfg.PrePing is set, checks them with ping.
// cfg must have been through CheckAndSetDefaults.
func New[C Conn](name string, cfg Config, dial Dialer[C], ping Pinger[C]) *Pool[C] {
	p := &Pool[C]{
		name:   name,
		cfg:    cfg,
		dial:   dial,
		ping:   ping,
		tokens: make(chan struct{}, maxInUse(cfg)),
		br:     newBreaker(name, cfg.Breaker),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	p.size.Store(int64(cfg.Size))
	p.recommended.Store(int64(cfg.Size))
	go p.reap()
	return p
}

// maxInUse is how many connections may be in use at once.
func maxInUse(cfg Config) int {
	if cfg.AutoSize != nil {
		return cfg.AutoSize.Max + cfg.MaxOverflow
	}
	return cfg.Size + cfg.MaxOverflow
}

// keep is how many idle connections the pool keeps.
func (p *Pool[C]) keep() int { return int(p.size.Load()) }

// sample records the connections in use and, once per window, resizes an
// auto-sized pool to the 95th percentile of the samples.
func (p *Pool[C]) sample() {
	a := p.cfg.AutoSize
	if a == nil {
		return
	}
	p.samples = append(p.samples, p.inUse())
	if time.Duration(len(p.samples))*time.Second < a.Window {
		return
	}
	s := append([]int(nil), p.samples...)
	p.samples = p.samples[:0]
	slices.Sort(s)
	p95 := s[(len(s)*95+99)/100-1]
	n := min(max(p95, a.Min), a.Max)
	p.recommended.Store(int64(n))
	p.size.Store(int64(n))
}

// Config returns the pool's settings.
func (p *Pool[C]) Config() Config { return p.cfg }

// ErrClosed is returned by Acquire on a closed pool.
var ErrClosed = errors.New("pool: closed")

// Acquire returns a connection, waiting up to the pool's timeout (or ctx) for
// one to be free. A timeout is an *sqlerr.Error of kind PoolTimeout naming
// the tenant.
func (p *Pool[C]) Acquire(ctx context.Context) (*Item[C], error) {
	done, err := p.br.allow()
	if err != nil {
		return nil, err
	}
	it, err := p.acquire(ctx)
	if err != nil {
		if sqlerr.Is(err, sqlerr.Unavailable) {
			p.br.failed(err)
			done(err)
		} else {
			done(errNotBackend)
		}
		return nil, err
	}
	it.done = done
	return it, nil
}

// errNotBackend reports to the breaker an outcome that says nothing about
// the backend (the pool was busy, the client went away, the connection was
// dirty): it counts neither as a success nor as a failure.
var errNotBackend = errors.New("not a backend outcome")

func (p *Pool[C]) acquire(ctx context.Context) (*Item[C], error) {
	select {
	case p.tokens <- struct{}{}:
	default:
		p.waiting.Add(1)
		t := time.NewTimer(p.cfg.Timeout)
		select {
		case p.tokens <- struct{}{}:
			t.Stop()
			p.waiting.Add(-1)
		case <-t.C:
			p.waiting.Add(-1)
			p.timeouts.Add(1)
			return nil, sqlerr.New(sqlerr.PoolTimeout,
				"no backend connection for tenant %q within %s (pool size %d, all in use)",
				p.name, p.cfg.Timeout, maxInUse(p.cfg))
		case <-ctx.Done():
			t.Stop()
			p.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
	it, err := p.take(ctx)
	if err != nil {
		p.giveBack()
		return nil, err
	}
	p.acquired.Add(1)
	return it, nil
}

// take hands out an idle connection or dials a new one. The caller holds a token.
func (p *Pool[C]) take(ctx context.Context) (*Item[C], error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.total++
			p.mu.Unlock()
			return p.open(ctx)
		}
		it := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()

		now := time.Now()
		if !it.expires.IsZero() && now.After(it.expires) {
			p.closeItem(it)
			continue
		}
		if p.cfg.PrePing && p.ping != nil && now.Sub(it.lastUsed) > time.Second {
			if err := p.ping(ctx, it.Conn); err != nil {
				p.closeItem(it)
				continue
			}
		}
		return it, nil
	}
}

// open dials a connection for a slot already counted in total.
func (p *Pool[C]) open(ctx context.Context) (*Item[C], error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	c, err := p.dial(dctx)
	if err != nil {
		p.mu.Lock()
		p.total--
		p.mu.Unlock()
		p.dialErrors.Add(1)
		if sqlerr.As(err) != nil {
			return nil, err
		}
		// The cause names backend hosts, users and databases: it goes to
		// the log, the client gets its gist.
		return nil, sqlerr.Wrap(sqlerr.Unavailable, err, "cannot connect to the backend of tenant %q: %s", p.name, dialReason(err))
	}
	p.dials.Add(1)
	now := time.Now()
	it := &Item[C]{Conn: c, created: now, lastUsed: now}
	if p.cfg.Recycle > 0 {
		jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(p.cfg.Recycle))
		it.expires = now.Add(p.cfg.Recycle + jitter)
	}
	return it, nil
}

// dialReason says why a connection attempt failed without naming the
// backend's address, user or database.
func dialReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "connection timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed during startup"
	}
	return "connection failed"
}

// Spoiler is implemented by connections that can know they must not be
// reused, such as one a cancel request was sent for: the cancel may land
// after the statement it was meant for, on whatever runs next.
type Spoiler interface {
	Spoiled() bool
}

// Release gives a clean connection back to the pool; a spoiled one is
// discarded instead.
func (p *Pool[C]) Release(it *Item[C]) {
	if sp, ok := any(it.Conn).(Spoiler); ok && sp.Spoiled() {
		p.Discard(it)
		return
	}
	p.report(it, nil)
	it.lastUsed = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.keep() {
		p.total--
		p.mu.Unlock()
		_ = it.Conn.Close()
	} else {
		p.idle = append(p.idle, it)
		p.mu.Unlock()
	}
	p.giveBack()
}

// Discard closes a connection that must not be reused because of the state
// a client left on it.
func (p *Pool[C]) Discard(it *Item[C]) {
	p.report(it, errNotBackend)
	p.closeItem(it)
	p.giveBack()
}

// Fail closes a connection the backend broke (I/O error, protocol error)
// and counts it against the backend's circuit breaker.
func (p *Pool[C]) Fail(it *Item[C], err error) {
	p.br.failed(err)
	p.report(it, err)
	p.closeItem(it)
	p.giveBack()
}

func (p *Pool[C]) report(it *Item[C], err error) {
	if it.done != nil {
		if err == nil {
			p.br.succeeded()
		}
		it.done(err)
		it.done = nil
	}
}

// Health returns the backend's state as the breaker and traffic see it.
func (p *Pool[C]) Health() Health { return p.br.snapshot() }

// OnBreakerChange registers fn to be called when the breaker changes state.
func (p *Pool[C]) OnBreakerChange(fn func(from, to string)) {
	p.br.mu.Lock()
	p.br.onChange = fn
	p.br.mu.Unlock()
}

func (p *Pool[C]) closeItem(it *Item[C]) {
	_ = it.Conn.Close()
	p.mu.Lock()
	p.total--
	p.mu.Unlock()
}

// Stats returns a snapshot of the pool's usage.
func (p *Pool[C]) Stats() Stats {
	p.mu.Lock()
	total, idle := p.total, len(p.idle)
	p.mu.Unlock()
	return Stats{
		Size:        p.keep(),
		MaxTotal:    maxInUse(p.cfg),
		Recommended: int(p.recommended.Load()),
		Total:       total,
		InUse:       p.inUse(),
		Idle:        idle,
		Waiting:     int(p.waiting.Load()),
		Acquired:    p.acquired.Load(),
		Timeouts:    p.timeouts.Load(),
		Dials:       p.dials.Load(),
		DialErrors:  p.dialErrors.Load(),
	}
}

// reap closes idle connections past their idle timeout or lifetime.
func (p *Pool[C]) reap() {
	defer close(p.done)
	period := time.Second * 30
	if p.cfg.IdleTimeout > 0 && p.cfg.IdleTimeout/2 < period {
		period = max(p.cfg.IdleTimeout/2, 10*time.Millisecond)
	}
	t := time.NewTicker(period)
	defer t.Stop()
	var sampler <-chan time.Time
	if p.cfg.AutoSize != nil {
		st := time.NewTicker(time.Second)
		defer st.Stop()
		sampler = st.C
	}
	var health <-chan time.Time
	if p.cfg.HealthInterval > 0 {
		ht := time.NewTicker(p.cfg.HealthInterval)
		defer ht.Stop()
		health = ht.C
	}
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.reapOnce(time.Now())
		case <-health:
			p.check()
		case <-sampler:
			p.sample()
			p.trimIdle()
		}
	}
}

// check is the active health check: it pings an idle connection, or opens
// one when none is idle, through the breaker, so an open breaker is probed
// (and closed again) without waiting for a client. A pool that was never
// used is left alone: idle tenants cost no backend connection.
func (p *Pool[C]) check() {
	if p.dials.Load() == 0 && p.dialErrors.Load() == 0 {
		return
	}
	done, err := p.br.allow()
	if err != nil {
		return // open: wait for the breaker's timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		done(errNotBackend)
		return
	}
	var it *Item[C]
	if n := len(p.idle); n > 0 {
		it = p.idle[n-1]
		p.idle = p.idle[:n-1]
	} else if p.total < maxInUse(p.cfg) {
		p.total++
	} else {
		p.mu.Unlock()
		done(errNotBackend) // every connection is in use: traffic is the check
		return
	}
	p.mu.Unlock()
	if it == nil {
		if it, err = p.open(ctx); err != nil {
			p.br.failed(err)
			done(err)
			return
		}
	} else if p.ping != nil {
		if err := p.ping(ctx, it.Conn); err != nil {
			p.br.failed(err)
			done(err)
			p.closeItem(it)
			return
		}
	}
	p.br.succeeded()
	done(nil)
	it.lastUsed = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.keep() {
		p.total--
		p.mu.Unlock()
		_ = it.Conn.Close()
		return
	}
	p.idle = append(p.idle, it)
	p.mu.Unlock()
}

// trimIdle closes idle connections above the current size.
func (p *Pool[C]) trimIdle() {
	var extra []*Item[C]
	p.mu.Lock()
	for len(p.idle) > p.keep() {
		it := p.idle[0]
		p.idle = p.idle[1:]
		p.total--
		extra = append(extra, it)
	}
	p.mu.Unlock()
	for _, it := range extra {
		_ = it.Conn.Close()
	}
}

func (p *Pool[C]) reapOnce(now time.Time) {
	var old []*Item[C]
	p.mu.Lock()
	kept := p.idle[:0]
	for _, it := range p.idle {
		idleTooLong := p.cfg.IdleTimeout > 0 && now.Sub(it.lastUsed) > p.cfg.IdleTimeout
		expired := !it.expires.IsZero() && now.After(it.expires)
		if idleTooLong || expired {
			old = append(old, it)
			p.total--
		} else {
			kept = append(kept, it)
		}
	}
	for i := len(kept); i < len(p.idle); i++ {
		p.idle[i] = nil
	}
	p.idle = kept
	p.mu.Unlock()
	for _, it := range old {
		_ = it.Conn.Close()
	}
}

// Close closes idle connections and makes further Acquire calls fail.
// Connections in use are closed when they are released.
func (p *Pool[C]) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.total -= len(idle)
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, it := range idle {
		_ = it.Conn.Close()
	}
}
