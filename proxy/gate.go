package proxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"

	"github.com/tenantproxy/tenantproxy/wire/netio"
)

// DefaultMaxUnauthenticatedPerSource is proxy.max_unauthenticated_per_source
// when the config leaves it out.
const DefaultMaxUnauthenticatedPerSource = 64

// RefuseFunc tells a client connection the proxy will not serve it why, in
// its front end's protocol, before the connection is closed.
type RefuseFunc func(nc net.Conn, err *sqlerr.Error)

// gate is the proxy-wide count of client connections, and of those not
// authenticated yet per source address.
type gate struct {
	total   atomic.Int64
	mu      sync.Mutex
	pending map[string]int
}

// Gate wraps a front end's listener so that no client, authenticated or
// not, can stop the proxy: accept errors (EMFILE and the like) are logged
// and retried with a backoff instead of ending the accept loop; past
// proxy.max_client_connections, and past
// proxy.max_unauthenticated_per_source connections from one address that
// have not authenticated yet, a new connection is told why (refuse) and
// closed. The front end calls Authenticated on a connection once its
// client logged in.
func (s *Server) Gate(ln net.Listener, frontend string, refuse RefuseFunc) net.Listener {
	return &gatedListener{Listener: ln, s: s, frontend: frontend, refuse: refuse, closed: make(chan struct{})}
}

type gatedListener struct {
	net.Listener
	s         *Server
	frontend  string
	refuse    RefuseFunc
	closeOnce sync.Once
	closed    chan struct{}
}

func (l *gatedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *gatedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			if delay == 0 {
				l.s.log.Error("accept_failed", "frontend", l.frontend, "error", err)
			}
			l.s.Metrics.acceptError(l.frontend)
			delay = acceptBackoff(delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		if delay != 0 {
			l.s.log.Info("accept_recovered", "frontend", l.frontend)
			delay = 0
		}
		if gc, refusal := l.admit(nc); refusal != nil {
			l.s.Metrics.refused(l.frontend, refusal.reason)
			l.s.Metrics.Error("", refusal.err.SQLState(), refusal.err)
			_ = nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			if l.refuse != nil {
				l.refuse(nc, refusal.err)
			}
			_ = nc.Close()
		} else {
			return gc, nil
		}
	}
}

type refusal struct {
	reason string
	err    *sqlerr.Error
}

// admit counts nc in, or says why it is refused.
func (l *gatedListener) admit(nc net.Conn) (*gatedConn, *refusal) {
	g := &l.s.gate
	cfg := l.s.cfg
	if n := g.total.Add(1); cfg.MaxClientConnections > 0 && n > int64(cfg.MaxClientConnections) {
		g.total.Add(-1)
		return nil, &refusal{"max_client_connections", sqlerr.New(sqlerr.TooManyConnections,
			"sorry, too many clients already: the proxy serves at most %d client connections (proxy.max_client_connections)", cfg.MaxClientConnections)}
	}
	src := sourceOf(nc)
	limit := cfg.MaxUnauthenticatedPerSource
	if limit == 0 {
		limit = DefaultMaxUnauthenticatedPerSource
	}
	g.mu.Lock()
	if g.pending == nil {
		g.pending = make(map[string]int)
	}
	if limit > 0 && g.pending[src] >= limit {
		g.mu.Unlock()
		g.total.Add(-1)
		return nil, &refusal{"max_unauthenticated_per_source", sqlerr.New(sqlerr.TooManyConnections,
			"too many connections from %s that have not logged in yet (proxy.max_unauthenticated_per_source is %d)", src, limit)}
	}
	g.pending[src]++
	g.mu.Unlock()
	return &gatedConn{Conn: netio.Wrap(nc), g: g, src: src}, nil
}

func sourceOf(nc net.Conn) string { return hostOf(nc.RemoteAddr().String()) }

// sourceKey groups client addresses the way one client holds them: an
// IPv4 address alone, an IPv6 address by its /64 (one site's prefix, which
// an attacker can fill with addresses at will).
func sourceKey(host string) string {
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// gatedConn is a client connection counted by the gate.
type gatedConn struct {
	net.Conn
	g         *gate
	src       string
	authOnce  sync.Once
	closeOnce sync.Once
}

func (c *gatedConn) unpend() {
	c.authOnce.Do(func() {
		c.g.mu.Lock()
		if c.g.pending[c.src]--; c.g.pending[c.src] <= 0 {
			delete(c.g.pending, c.src)
		}
		c.g.mu.Unlock()
	})
}

// Close closes the connection and uncounts it.
func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.unpend()
		c.g.total.Add(-1)
	})
	return err
}

// Authenticated tells the gate that nc's client has logged in: it no
// longer counts against its address's unauthenticated connections. It does
// nothing for a connection not accepted through Gate.
func Authenticated(nc net.Conn) {
	if c, ok := nc.(*gatedConn); ok {
		c.unpend()
	}
}
