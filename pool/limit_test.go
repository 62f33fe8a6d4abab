package pool

import (
	"context"
	"testing"
	"time"
)

type nopConn struct{}

func (nopConn) Close() error { return nil }

// TestSetLimit checks that a run-time cap holds connections back and that
// lifting it gives them back.
func TestSetLimit(t *testing.T) {
	cfg := Config{Size: 4, Timeout: 50 * time.Millisecond}
	if err := cfg.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	p := New("t", cfg, func(context.Context) (nopConn, error) { return nopConn{}, nil }, nil)
	defer p.Close()
	ctx := context.Background()
	a, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLimit(2) // one in use: two of the other three tokens are held now
	b, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(ctx); err == nil {
		t.Fatal("a third connection was handed out under a cap of 2")
	}
	if st := p.Stats(); st.InUse != 2 {
		t.Fatalf("in use %d, want 2", st.InUse)
	}
	p.Release(a)
	p.Release(b)
	p.SetLimit(1)
	c, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(ctx); err == nil {
		t.Fatal("a second connection was handed out under a cap of 1")
	}
	p.SetLimit(0)
	d, err := p.Acquire(ctx)
	if err != nil {
		t.Fatalf("after lifting the cap: %v", err)
	}
	p.Release(c)
	p.Release(d)
}
