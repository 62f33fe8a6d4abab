package pool

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// BreakerConfig is a tenant's circuit breaker (config key tenants[].breaker).
type BreakerConfig struct {
	Threshold int           `mapstructure:"threshold"` // consecutive connect or protocol failures that open it (default 5)
	Timeout   time.Duration `mapstructure:"timeout"`   // how long it stays open before a probe (default 60s)
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *BreakerConfig) CheckAndSetDefaults() error {
	if c.Threshold == 0 {
		c.Threshold = 5
	}
	if c.Threshold < 0 {
		return fmt.Errorf("threshold must be positive, got %d", c.Threshold)
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout must be positive, got %s", c.Timeout)
	}
	return nil
}

// Health states of a backend.
const (
	HealthUp       = "up"       // breaker closed, last check and traffic fine
	HealthDegraded = "degraded" // recent failures, or probing after an outage
	HealthDown     = "down"     // breaker open: clients fail fast
)

// Health is a backend's state with the reason and since when.
type Health struct {
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since"`
	Breaker string    `json:"breaker"` // closed, half-open, open
}

// breaker guards a pool's backend: after Threshold consecutive connect or
// protocol failures it opens and Acquire fails at once; after Timeout one
// probe is let through, and its success closes it again.
type breaker struct {
	name string
	cfg  BreakerConfig
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]

	mu       sync.Mutex
	openedAt time.Time
	health   Health
	onChange func(from, to string)

	// clean is the fast path of a healthy backend: bit 0 is set while the
	// breaker is closed with no failure counted since the last success
	// (so a success changes nothing it decides on), and the higher bits
	// count the changes (failures, state changes) that clear it, so that a
	// success seen before a change cannot set it again after. While it is
	// set, a request skips gobreaker's lock and its closure, and its
	// success is not reported; a failure always reaches gobreaker.
	clean     atomic.Uint64
	cleanDone func(error) // done of a request let through on the fast path
	// unwell is set while the health is not HealthUp (written under mu):
	// a success need not take mu to clear it.
	unwell atomic.Bool
}

func newBreaker(name string, cfg BreakerConfig) *breaker {
	b := &breaker{name: name, cfg: cfg, health: Health{State: HealthUp, Since: time.Now(), Breaker: "closed"}}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Interval:    time.Minute,
		Timeout:     cfg.Timeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(cfg.Threshold) },
		IsExcluded:  func(err error) bool { return errors.Is(err, errNotBackend) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.mu.Lock()
			now := time.Now()
			switch to {
			case gobreaker.StateOpen:
				b.openedAt = now
				b.health = Health{State: HealthDown, Reason: b.health.Reason, Since: now, Breaker: "open"}
			case gobreaker.StateHalfOpen:
				b.health = Health{State: HealthDegraded, Reason: "probing after an outage: " + b.health.Reason, Since: now, Breaker: "half-open"}
			case gobreaker.StateClosed:
				b.health = Health{State: HealthUp, Since: now, Breaker: "closed"}
			}
			b.unwell.Store(b.health.State != HealthUp)
			fn := b.onChange
			b.mu.Unlock()
			b.dirty()
			if fn != nil {
				fn(from.String(), to.String())
			}
		},
	})
	b.cleanDone = b.doneClean
	b.clean.Store(1) // closed, nothing counted
	return b
}

// dirty clears the fast path: a failure is about to be counted, or the
// state changed.
func (b *breaker) dirty() {
	for {
		v := b.clean.Load()
		if b.clean.CompareAndSwap(v, (v|1)+1) { // next count, bit 0 clear
			return
		}
	}
}

// isFailure reports whether a request's outcome counts against the backend.
func isFailure(err error) bool { return err != nil && !errors.Is(err, errNotBackend) }

// doneClean reports the outcome of a request let through on the fast path.
// An outcome that says nothing about the backend changes nothing; a
// failure is counted as gobreaker would have counted it; a success changes
// nothing either while nothing was counted since the request began, and
// otherwise (a failure came meanwhile) ends the failure streak, as it
// would have in gobreaker, if the breaker is still closed.
func (b *breaker) doneClean(err error) {
	if errors.Is(err, errNotBackend) {
		return
	}
	if err == nil {
		if b.clean.Load()&1 != 0 || b.cb.State() != gobreaker.StateClosed {
			return
		}
	} else {
		b.dirty()
	}
	if done, aerr := b.cb.Allow(); aerr == nil {
		done(err)
	}
}

// settle sets the fast path again after a success on the slow path, when
// the breaker is closed with no failure counted and nothing changed since
// v was read.
func (b *breaker) settle(v uint64) {
	if v&1 != 0 || b.cb.State() != gobreaker.StateClosed || b.cb.Counts().ConsecutiveFailures != 0 {
		return
	}
	b.clean.CompareAndSwap(v, v|1)
}

// allow asks whether a request may go to the backend. The returned function
// reports how it went: nil for a working backend, an error for a connect
// or protocol failure.
func (b *breaker) allow() (func(error), error) {
	v := b.clean.Load()
	if v&1 != 0 {
		return b.cleanDone, nil
	}
	done, err := b.cb.Allow()
	if err == nil {
		return func(err error) {
			if isFailure(err) {
				b.dirty()
			}
			done(err)
			if err == nil {
				b.settle(v)
			}
		}, nil
	}
	b.mu.Lock()
	retry := time.Until(b.openedAt.Add(b.cfg.Timeout))
	if retry > 10*time.Second {
		retry = retry.Round(time.Second)
	} else {
		retry = retry.Round(100 * time.Millisecond)
	}
	reason := b.health.Reason
	b.mu.Unlock()
	if errors.Is(err, gobreaker.ErrTooManyRequests) || retry <= 0 {
		return nil, sqlerr.New(sqlerr.Unavailable,
			"the backend of tenant %q is unavailable (%s); a probe is under way, retry shortly", b.name, reason)
	}
	return nil, sqlerr.New(sqlerr.Unavailable,
		"the backend of tenant %q is unavailable after %d consecutive failures (%s); next attempt in %s",
		b.name, b.cfg.Threshold, reason, retry)
}

// failed records the reason of the latest failure.
func (b *breaker) failed(err error) {
	b.mu.Lock()
	b.health.Reason = err.Error()
	if b.health.State == HealthUp {
		b.health = Health{State: HealthDegraded, Reason: err.Error(), Since: time.Now(), Breaker: b.health.Breaker}
	}
	b.unwell.Store(b.health.State != HealthUp)
	b.mu.Unlock()
}

// succeeded clears a degraded state once the backend works again.
func (b *breaker) succeeded() {
	if !b.unwell.Load() {
		return // up: nothing to clear
	}
	b.mu.Lock()
	if b.health.State == HealthDegraded && b.health.Breaker == "closed" {
		b.health = Health{State: HealthUp, Since: time.Now(), Breaker: "closed"}
	}
	b.unwell.Store(b.health.State != HealthUp)
	b.mu.Unlock()
}

func (b *breaker) snapshot() Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}
