package test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultRelay is a TCP relay in front of a real server that can be taken
// down (connections reset, new ones refused), slowed, and brought back.
type faultRelay struct {
	target string
	addr   string
	delay  atomic.Int64 // nanoseconds added before each forwarded chunk
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newFaultRelay(t testing.TB, target string) *faultRelay {
	t.Helper()
	r := &faultRelay{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.start(ln)
	t.Cleanup(r.down)
	return r
}

func (r *faultRelay) start(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
}

func (r *faultRelay) serve(c net.Conn) {
	b, err := net.DialTimeout("tcp", r.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	r.conns[c], r.conns[b] = struct{}{}, struct{}{}
	r.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32*1024)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if d := r.delay.Load(); d > 0 {
					time.Sleep(time.Duration(d))
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go pipe(b, c)
	pipe(c, b)
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, b)
	r.mu.Unlock()
}

// down resets every relayed connection and refuses new ones.
func (r *faultRelay) down() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		c.Close()
	}
	r.mu.Unlock()
}

// drop closes every relayed connection politely (FIN), as a backend or a
// middlebox dropping connections would, and keeps accepting new ones.
func (r *faultRelay) drop() {
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
}

// up listens again on the same address.
func (r *faultRelay) up(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.start(ln)
}
