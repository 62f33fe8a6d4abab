package pool

import (
	"errors"
	"fmt"
	"sync"
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
			fn := b.onChange
			b.mu.Unlock()
			if fn != nil {
				fn(from.String(), to.String())
			}
		},
	})
	return b
}

// allow asks whether a request may go to the backend. The returned function
// reports how it went: nil for a working backend, an error for a connect
// or protocol failure.
func (b *breaker) allow() (func(error), error) {
	done, err := b.cb.Allow()
	if err == nil {
		return done, nil
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
	b.mu.Unlock()
}

// succeeded clears a degraded state once the backend works again.
func (b *breaker) succeeded() {
	b.mu.Lock()
	if b.health.State == HealthDegraded && b.health.Breaker == "closed" {
		b.health = Health{State: HealthUp, Since: time.Now(), Breaker: "closed"}
	}
	b.mu.Unlock()
}

func (b *breaker) snapshot() Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}
