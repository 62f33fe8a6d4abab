package test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Many clients share two backend connections (transaction pooling), each
// sending statements that carry its own marker: small and large rows (past
// the pooled frame buffer and the streaming threshold), errors in the
// middle of a pipelined batch, portals read in pieces (MaxRows) and clients
// that hang up in the middle of a result. Every client must get exactly its
// own marker back, never another's, and no stale response.
func TestPGRelayNoMixupAcrossClients(t *testing.T) {
	f := newPGFixture(t, "{size: 2, timeout: 20s}", "")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// Control: the same checks against the server itself.
	pgMixup(t, ctx, func() (*pgx.Conn, error) {
		return pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+f.alphaDB+"?sslmode=disable")
	})
	pgMixup(t, ctx, func() (*pgx.Conn, error) { return pgx.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha")) })
}

func pgMixup(t *testing.T, ctx context.Context, dial func() (*pgx.Conn, error)) {
	const clients, rounds = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, clients*2)
	for c := 0; c < clients; c++ {
		conn, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(format string, a ...any) { errs <- fmt.Errorf("client %d: "+format, append([]any{c}, a...)...) }
			for i := 0; i < rounds; i++ {
				mark := fmt.Sprintf("m%d-%d", c, i)
				size := []int{10, 5000, 70000, 300000}[(c+i)%4]
				var got string
				if err := conn.QueryRow(ctx, "SELECT $1::text || repeat('x', $2::int)", mark, size).Scan(&got); err != nil {
					fail("round %d: %v", i, err)
					return
				}
				if want := mark + strings.Repeat("x", size); got != want {
					fail("round %d: got %.40q (%d bytes), want %.40q (%d bytes)", i, got, len(got), want, len(want))
					return
				}
				// A pipelined batch whose middle statement fails: the
				// first answers, the rest is skipped up to the Sync.
				b := &pgx.Batch{}
				b.Queue("SELECT $1::text", mark+"-a")
				b.Queue("SELECT 1/(0 * $1::int)", 1)
				b.Queue("SELECT $1::text", mark+"-c")
				br := conn.SendBatch(ctx, b)
				var a string
				if err := br.QueryRow().Scan(&a); err != nil || a != mark+"-a" {
					fail("round %d batch first: %q, %v", i, a, err)
					return
				}
				if _, err := br.Exec(); sqlstate(err) != "22012" {
					fail("round %d batch second: want division by zero, got %v", i, err)
					return
				}
				_ = br.Close()
				// Rows read one at a time from a multi-row result.
				rows, err := conn.Query(ctx, "SELECT $1::text || g FROM generate_series(1, 50) g", mark)
				if err != nil {
					fail("round %d series: %v", i, err)
					return
				}
				n := 0
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						fail("round %d series scan: %v", i, err)
						return
					}
					n++
					if s != fmt.Sprintf("%s%d", mark, n) {
						fail("round %d series row %d: got %q", i, n, s)
						return
					}
				}
				if rows.Err() != nil || n != 50 {
					fail("round %d series: %d rows, %v", i, n, rows.Err())
					return
				}
			}
		}()
	}
	// Clients that hang up in the middle of a large result, meanwhile.
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				conn, err := dial()
				if err != nil {
					errs <- err
					return
				}
				rows, err := conn.Query(ctx, "SELECT 'gone' || g || repeat('y', 3000) FROM generate_series(1, 20000) g")
				if err == nil && rows.Next() {
					_ = conn.PgConn().Conn().Close()
				}
				rows.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
