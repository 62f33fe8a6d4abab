package pool

import (
	"sync"
	"sync/atomic"
)

// limit caps a pool's connections in use below its configured maximum at
// run time (a fleet's share of pool.cluster_max): the pool holds the tokens
// of the connections it must not hand out. Lowering the cap never takes a
// connection away from a client: a connection given back while the pool
// holds fewer tokens than it should keeps its token held.
type limit struct {
	mu   sync.Mutex
	want atomic.Int64 // tokens to hold
	held int          // tokens held
}

// ClusterMax returns the pool's cluster-wide cap (pool.cluster_max), 0 for none.
func (p *Pool[C]) ClusterMax() int { return p.cfg.ClusterMax }

// SetLimit caps the connections in use at n; 0, or n at or above the
// pool's maximum, lifts the cap.
func (p *Pool[C]) SetLimit(n int) {
	l := &p.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	want := 0
	if c := cap(p.tokens); n > 0 && n < c {
		want = c - n
	}
	l.want.Store(int64(want))
	for l.held > want {
		<-p.tokens
		l.held--
	}
	for l.held < want {
		select {
		case p.tokens <- struct{}{}:
			l.held++
		default:
			return // the rest are in use: held as they come back
		}
	}
}

// giveBack returns the token of a connection that is no longer in use, or
// holds it when the pool is over its cap.
func (p *Pool[C]) giveBack() {
	l := &p.lim
	if l.want.Load() > 0 {
		l.mu.Lock()
		if int64(l.held) < l.want.Load() {
			l.held++
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
	<-p.tokens
}

// inUse is how many connections are handed out (held tokens excluded).
func (p *Pool[C]) inUse() int {
	p.lim.mu.Lock()
	h := p.lim.held
	p.lim.mu.Unlock()
	return len(p.tokens) - h
}
