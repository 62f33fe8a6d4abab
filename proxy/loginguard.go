package proxy

import (
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// LockoutConfig is the brute-force protection of every login (the wire
// front ends and POST /api/v1/auth/login), config key auth.lockout.
type LockoutConfig struct {
	// MaxFailures is how many failed logins in a row a user name may have
	// before it is locked out (default 5; -1 turns the protection off);
	// AddressMaxFailures the same for one source address, whatever the
	// names it tries (default 20).
	MaxFailures        int `mapstructure:"max_failures"`
	AddressMaxFailures int `mapstructure:"address_max_failures"`
	// Duration is the first lockout (default 1s); each further failure
	// doubles it, up to MaxDuration (default 15m). A success ends a user
	// name's lockout; failures are forgotten after MaxDuration without any.
	Duration    time.Duration `mapstructure:"duration"`
	MaxDuration time.Duration `mapstructure:"max_duration"`
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *LockoutConfig) CheckAndSetDefaults() error {
	if c.MaxFailures < -1 || c.AddressMaxFailures < -1 {
		return fmt.Errorf("max_failures and address_max_failures must be -1 (off) or more")
	}
	if c.Duration < 0 || c.MaxDuration < 0 {
		return fmt.Errorf("duration and max_duration must not be negative")
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.AddressMaxFailures == 0 {
		c.AddressMaxFailures = 20
	}
	if c.Duration == 0 {
		c.Duration = time.Second
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = 15 * time.Minute
	}
	if c.MaxDuration < c.Duration {
		return fmt.Errorf("max_duration (%s) must not be shorter than duration (%s)", c.MaxDuration, c.Duration)
	}
	return nil
}

// maxTracked bounds the names and addresses the guard remembers.
const maxTracked = 100000

// loginGuard counts failed logins per user name and per source address.
// Names are counted whether or not the user exists, so a lockout says
// nothing about which users exist.
type loginGuard struct {
	mu    sync.Mutex
	users map[string]*strikes
	addrs map[string]*strikes
}

type strikes struct {
	n     int
	last  time.Time
	until time.Time
}

// LoginAllowed says whether user may try to log in from addr (the client's
// "host:port") now: after
// too many failures of the name or of the address it returns the lockout
// error, to be sent without checking the password. frontend labels the
// metric (postgres, mysql, api).
func (s *Server) LoginAllowed(frontend, user, addr string) error {
	cfg := s.cfg.Lockout
	if cfg.MaxFailures < 0 {
		return nil
	}
	now := time.Now()
	g := &s.logins
	g.mu.Lock()
	until := g.lockedUntil(g.users, user, now)
	if u := g.lockedUntil(g.addrs, hostOf(addr), now); u.After(until) {
		until = u
	}
	g.mu.Unlock()
	if until.IsZero() {
		return nil
	}
	if s.Metrics != nil {
		s.Metrics.LoginLockouts.WithLabelValues(frontend).Inc()
	}
	wait := max(time.Second, until.Sub(now).Round(time.Second))
	return &sqlerr.Error{Kind: sqlerr.LoginLocked,
		Message: fmt.Sprintf("too many failed logins for user %q or from this address: try again in %s", user, wait),
		Err:     RetryAfter(wait)}
}

// LoginFailed counts a failed login of user from addr.
func (s *Server) LoginFailed(frontend, user, addr string) {
	if s.Metrics != nil {
		s.Metrics.LoginFailures.WithLabelValues(frontend).Inc()
	}
	cfg := s.cfg.Lockout
	if cfg.MaxFailures < 0 {
		return
	}
	now := time.Now()
	g := &s.logins
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.users == nil {
		g.users, g.addrs = map[string]*strikes{}, map[string]*strikes{}
	}
	g.strike(g.users, user, cfg.MaxFailures, cfg, now)
	if cfg.AddressMaxFailures > 0 {
		g.strike(g.addrs, hostOf(addr), cfg.AddressMaxFailures, cfg, now)
	}
}

// LoginSucceeded ends the lockout count of user (not of the address: one
// known password must not reset an address guessing others).
func (s *Server) LoginSucceeded(user string) {
	g := &s.logins
	g.mu.Lock()
	delete(g.users, user)
	g.mu.Unlock()
}

func (g *loginGuard) lockedUntil(m map[string]*strikes, key string, now time.Time) time.Time {
	st := m[key]
	if st == nil || !now.Before(st.until) {
		return time.Time{}
	}
	return st.until
}

func (g *loginGuard) strike(m map[string]*strikes, key string, limit int, cfg LockoutConfig, now time.Time) {
	st := m[key]
	if st != nil && now.Sub(st.last) > cfg.MaxDuration && !now.Before(st.until) {
		st = nil // forgotten
	}
	if st == nil {
		if len(m) >= maxTracked {
			sweep(m, cfg, now)
			if len(m) >= maxTracked {
				return
			}
		}
		st = &strikes{}
		m[key] = st
	}
	st.n++
	st.last = now
	if st.n >= limit {
		exp := min(st.n-limit, 30)
		d := time.Duration(math.Min(float64(cfg.Duration)*math.Pow(2, float64(exp)), float64(cfg.MaxDuration)))
		st.until = now.Add(d)
	}
}

// sweep forgets entries that no longer lock and are past their memory.
func sweep(m map[string]*strikes, cfg LockoutConfig, now time.Time) {
	for k, st := range m {
		if !now.Before(st.until) && now.Sub(st.last) > cfg.MaxDuration/4 {
			delete(m, k)
		}
	}
}

// hostOf is the source a "host:port" client address counts against
// (sourceKey of its host).
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return sourceKey(host)
}

// RetryAfter is the cause of a lockout error: how long until the next
// login may be tried (the admin API's Retry-After).
type RetryAfter time.Duration

func (r RetryAfter) Error() string { return "retry after " + time.Duration(r).String() }

// CheckPassword reports whether password is u's. For an unknown user (nil)
// it checks a dummy verifier of the same cost and reports false, so that
// the time a failed login takes does not tell whether the user exists.
func (s *Server) CheckPassword(u *User, password string) bool {
	if u == nil {
		s.dummy.Check(password)
		return false
	}
	return u.Verifier.Check(password)
}
