package proxy

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Limits protect tenants from each other (config key tenants[].limits).
type Limits struct {
	// MaxClientConnections caps the tenant's client connections (0: none);
	// the next client gets SQLSTATE 53300 / MySQL 1040.
	MaxClientConnections int `mapstructure:"max_client_connections"`
	// QPS is the tenant's statement rate (0: none), a token bucket holding
	// Burst statements (default: one second's worth); past it a statement
	// gets SQLSTATE 53400 / MySQL 1226 at once.
	QPS   float64 `mapstructure:"qps"`
	Burst int     `mapstructure:"burst"`
	// StatementTimeout cancels a statement on its backend after this long
	// (0: none): SQLSTATE 57014 / MySQL 3024.
	StatementTimeout time.Duration `mapstructure:"statement_timeout"`
}

// CheckAndSetDefaults validates l and fills in defaults.
func (l *Limits) CheckAndSetDefaults() error {
	if l.MaxClientConnections < 0 {
		return fmt.Errorf("max_client_connections must not be negative, got %d", l.MaxClientConnections)
	}
	if l.QPS < 0 {
		return fmt.Errorf("qps must not be negative, got %g", l.QPS)
	}
	if l.Burst < 0 {
		return fmt.Errorf("burst must not be negative, got %d", l.Burst)
	}
	if l.QPS > 0 && l.Burst == 0 {
		l.Burst = max(1, int(l.QPS))
	}
	if l.StatementTimeout < 0 {
		return fmt.Errorf("statement_timeout must not be negative, got %s", l.StatementTimeout)
	}
	return nil
}

// limiter is a tenant's live limit state.
type limiter struct {
	clients atomic.Int64
	demand  atomic.Int64  // statements asked since the fleet's last heartbeat
	share   atomic.Uint64 // the fleet's share of qps for this proxy (float64 bits; 0: none)

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// Admit counts a client connection bound to b's tenant and returns the
// function that uncounts it. Past the tenant's max_client_connections the
// client is refused.
func (s *Server) Admit(b *Binding) (release func(), err error) {
	t := b.Tenant
	n := t.lim.clients.Add(1)
	max := t.Limits.MaxClientConnections
	f := s.fleet.Load()
	fleetSlot := false
	if max > 0 && f != nil {
		// The limit holds across the fleet; without Redis, per proxy.
		ok, ferr := f.admitConn(t.ID, max)
		switch {
		case ferr == nil && !ok:
			t.lim.clients.Add(-1)
			return nil, sqlerr.New(sqlerr.TooManyConnections,
				"too many client connections for tenant %q (limit %d across the fleet)", t.ID, max)
		case ferr == nil:
			fleetSlot = true
		}
	}
	if !fleetSlot && max > 0 && n > int64(max) {
		t.lim.clients.Add(-1)
		return nil, sqlerr.New(sqlerr.TooManyConnections,
			"too many client connections for tenant %q (limit %d)", t.ID, max)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if fleetSlot {
				f.releaseConn(t.ID)
			}
			if t.lim.clients.Add(-1) == 0 && t.retired.Load() {
				t.closePools()
			}
		})
	}, nil
}

// ClientConnections returns how many clients are bound to the tenant.
func (t *TenantState) ClientConnections() int64 { return t.lim.clients.Load() }

// Allow takes one statement from the tenant's rate budget.
func (s *Server) Allow(b *Binding) error {
	t := b.Tenant
	rate := t.Limits.QPS
	if rate <= 0 {
		return nil
	}
	burst := float64(t.Limits.Burst)
	if f := s.fleet.Load(); f != nil {
		// This proxy's share of the fleet's rate (fleetlimits.go), from
		// local state: no Redis call per statement.
		t.lim.demand.Add(1)
		if bits := t.lim.share.Load(); bits != 0 && math.Float64frombits(bits) < rate {
			share := math.Float64frombits(bits)
			burst = max(1, burst*share/rate)
			rate = share
		}
	}
	l := &t.lim
	now := time.Now()
	l.mu.Lock()
	if l.last.IsZero() {
		l.tokens = burst
	} else {
		l.tokens = min(burst, l.tokens+now.Sub(l.last).Seconds()*rate)
	}
	l.last = now
	ok := l.tokens >= 1
	if ok {
		l.tokens--
	}
	l.mu.Unlock()
	if !ok {
		return sqlerr.New(sqlerr.RateLimited, "statement rate limit of %g per second exceeded for tenant %q", t.Limits.QPS, t.ID)
	}
	return nil
}

// StatementTimer starts the tenant's statement timeout: cancel runs if the
// statement is still running then, and abort (which must break the backend
// connection) if the backend has not answered the cancellation within the
// grace period either (a paused or unreachable backend). stop ends the
// timers and reports whether the timeout fired.
func (b *Binding) StatementTimer(cancel, abort func()) (stop func() bool) {
	d := b.Tenant.Limits.StatementTimeout
	if d <= 0 {
		return func() bool { return false }
	}
	var fired, stopped atomic.Bool
	var mu sync.Mutex
	var grace *time.Timer
	t := time.AfterFunc(d, func() {
		fired.Store(true)
		go cancel() // may wait on an unresponsive backend
		mu.Lock()
		defer mu.Unlock()
		if !stopped.Load() {
			grace = time.AfterFunc(abortGrace(d), func() {
				if !stopped.Load() {
					abort()
				}
			})
		}
	})
	return func() bool {
		stopped.Store(true)
		t.Stop()
		mu.Lock()
		if grace != nil {
			grace.Stop()
		}
		mu.Unlock()
		return fired.Load()
	}
}

// abortGrace is how long a cancelled statement may take to end before its
// backend connection is broken: the timeout itself, between 1s and 5s.
func abortGrace(d time.Duration) time.Duration {
	return min(max(d, time.Second), 5*time.Second)
}

// StatementTimeout is the tenant's statement timeout (0: none).
func (b *Binding) StatementTimeout() time.Duration { return b.Tenant.Limits.StatementTimeout }
