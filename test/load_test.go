package test

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// steadyLoad runs SELECT 1 on a few connections and records latencies.
type steadyLoad struct {
	mu   sync.Mutex
	lat  []time.Duration
	errs atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

func startSteadyLoad(t testing.TB, url string, conns int) *steadyLoad {
	t.Helper()
	l := &steadyLoad{done: make(chan struct{})}
	ctx := context.Background()
	for i := 0; i < conns; i++ {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.Close(ctx)
			for {
				select {
				case <-l.done:
					return
				default:
				}
				start := time.Now()
				var one int
				if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
					l.errs.Add(1)
				}
				l.mu.Lock()
				l.lat = append(l.lat, time.Since(start))
				l.mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			close(l.done)
		}
		l.wg.Wait()
	})
	return l
}

func (l *steadyLoad) p99() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l.lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)*99/100]
}

func (l *steadyLoad) reset() {
	l.mu.Lock()
	l.lat = l.lat[:0]
	l.mu.Unlock()
}

func (l *steadyLoad) stop() (time.Duration, int64, int) {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	n := len(l.lat)
	l.mu.Unlock()
	return l.p99(), l.errs.Load(), n
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}
