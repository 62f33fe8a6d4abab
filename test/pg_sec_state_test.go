package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestPGSecStatementNamesUnpredictable: a backend statement's name cannot
// be computed from its text, so another client on the same pooled
// connection cannot run it with SQL EXECUTE.
func TestPGSecStatementNamesUnpredictable(t *testing.T) {
	f := newSecFixture(t, "{size: 1, timeout: 5s}", "")
	drop := "DROP TABLE IF EXISTS rt_victim"
	pgExec(t, f.db, "CREATE TABLE rt_victim (id int)")
	// The admin drops the table with the extended protocol: the statement
	// stays prepared on the one backend connection.
	a := f.rp.raw(t, "adam", "adam-pw", "sec")
	a.send(&pgproto3.Parse{Name: "d", Query: drop}, &pgproto3.Bind{PreparedStatement: "d"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if rr := a.ready(); len(rr.errors) != 0 {
		t.Fatalf("admin: %s", rr)
	}
	pgExec(t, f.db, "CREATE TABLE rt_victim (id int)")
	// The name the statement would have under a plain hash of its text.
	h := sha256.Sum256([]byte(drop))
	guess := "tp_" + hex.EncodeToString(h[:16])
	ed := f.rp.raw(t, "eddie", "eddie-pw", "sec")
	rr := ed.query("EXECUTE " + guess)
	if len(rr.errors) == 0 {
		t.Fatalf("EXECUTE %s ran another client's statement: %s", guess, rr)
	}
	ctx := context.Background()
	pc, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+f.db+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	var n int
	if err := pc.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'rt_victim'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rt_victim: %d %v", n, err)
	}
	// The admin's statement still runs.
	a.send(&pgproto3.Bind{PreparedStatement: "d"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if rr := a.ready(); len(rr.errors) != 0 {
		t.Fatalf("admin again: %s", rr)
	}
}

// TestPGSecPreparedBounded: a backend connection keeps a bounded number of
// prepared statements; statements evicted are prepared again when used.
func TestPGSecPreparedBounded(t *testing.T) {
	f := newSecFixture(t, "{size: 1, timeout: 5s}", "")
	pgExec(t, f.db, "CREATE FUNCTION n_prepared() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM pg_prepared_statements'")
	ctx := context.Background()
	c := f.rp.connect(t, "adam", "adam-pw", "sec")
	for i := 0; i < 300; i++ {
		var v int
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT %d + $1::int", i), 1).Scan(&v); err != nil || v != i+1 {
			t.Fatalf("statement %d: %d %v", i, v, err)
		}
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT n_prepared()", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 256 || n < 200 {
		t.Fatalf("%d statements prepared on the backend connection, want at most 256", n)
	}
	// The first statements were evicted; they still run.
	for i := 0; i < 5; i++ {
		var v int
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT %d + $1::int", i), 2).Scan(&v); err != nil || v != i+2 {
			t.Fatalf("evicted statement %d: %d %v", i, v, err)
		}
	}
	// Another client on the same connection is not disturbed.
	o := f.rp.connect(t, "adam", "adam-pw", "sec")
	var v int
	if err := o.QueryRow(ctx, "SELECT 299 + $1::int", 1).Scan(&v); err != nil || v != 300 {
		t.Fatalf("other client: %d %v", v, err)
	}
}

// pgCorruptRelay forwards to the local Postgres and breaks the DataRow
// frames from the server that contain marker: their last value's length
// is made larger than the row.
type pgCorruptRelay struct {
	addr   string
	marker []byte
}

func newPGCorruptRelay(t testing.TB, marker string) *pgCorruptRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &pgCorruptRelay{addr: ln.Addr().String(), marker: []byte(marker)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", "127.0.0.1:5432")
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, b)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(b, c); _ = b.Close() }()
			go func() { defer wg.Done(); r.serverToClient(c, b); _ = c.Close() }()
		}
	}()
	return r
}

func (r *pgCorruptRelay) serverToClient(dst io.Writer, src io.Reader) {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
		body := make([]byte, n)
		if _, err := io.ReadFull(src, body); err != nil {
			return
		}
		if hdr[0] == 'D' && bytes.Contains(body, r.marker) {
			// Walk to the last value and overstate its length.
			cols := int(binary.BigEndian.Uint16(body))
			p := 2
			for i := 0; i < cols-1; i++ {
				l := int(int32(binary.BigEndian.Uint32(body[p:])))
				p += 4
				if l > 0 {
					p += l
				}
			}
			binary.BigEndian.PutUint32(body[p:], uint32(n+1000))
		}
		if _, err := dst.Write(hdr[:]); err != nil {
			return
		}
		if _, err := dst.Write(body); err != nil {
			return
		}
	}
}

// TestPGSecUndecodableRowFailsClosed: a row the proxy cannot decode for
// masking ends the statement with an error; it is never forwarded as is.
func TestPGSecUndecodableRowFailsClosed(t *testing.T) {
	relay := newPGCorruptRelay(t, "corrupt-me")
	f := newSecFixtureAt(t, relay.addr, "{size: 1, timeout: 5s}", "")
	pgExec(t, f.db, "INSERT INTO items VALUES (9, 'corrupt-me@items.example')")
	for _, extended := range []bool{false, true} {
		r := f.rp.raw(t, "vera", "vera-pw", "sec")
		if extended {
			r.send(append(pbe("SELECT id, email FROM items WHERE id = 9"), &pgproto3.Sync{})...)
		} else {
			r.send(&pgproto3.Query{String: "SELECT id, email FROM items WHERE id = 9"})
		}
		var got []byte
		buf := make([]byte, 4096)
		_ = r.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			n, err := r.nc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil || bytes.Contains(got, []byte{'Z', 0, 0, 0, 5}) {
				break
			}
		}
		if bytes.Contains(got, []byte("corrupt-me")) {
			t.Fatalf("extended=%v: the undecodable row reached the client: %q", extended, got)
		}
		if !bytes.Contains(got, []byte("XX000")) {
			t.Fatalf("extended=%v: no error for the undecodable row: %q", extended, got)
		}
	}
	// Rows that decode are masked and served as before.
	c := f.rp.connect(t, "vera", "vera-pw", "sec")
	var email string
	if err := c.QueryRow(context.Background(), "SELECT email FROM items WHERE id = 1").Scan(&email); err != nil || email != "****" {
		t.Fatalf("email = %q (%v)", email, err)
	}
}

// TestPGSecDrainIdleInTransaction: SIGTERM's drain lets a client idle
// inside a transaction finish it, then closes it.
func TestPGSecDrainIdleInTransaction(t *testing.T) {
	f := newSecFixture(t, "", "", "proxy: {drain_timeout: 6s}")
	ctx := context.Background()
	c := f.rp.connect(t, "adam", "adam-pw", "sec")
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO items VALUES (50, 'fifty@items.example')"); err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Duration)
	start := time.Now()
	go func() { f.rp.stop(); done <- time.Since(start) }()
	time.Sleep(300 * time.Millisecond)
	if _, err := c.Exec(ctx, "INSERT INTO items VALUES (51, 'fiftyone@items.example')"); err != nil {
		t.Fatalf("the open transaction was not allowed to go on: %v", err)
	}
	if _, err := c.Exec(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT during the drain: %v", err)
	}
	select {
	case d := <-done:
		if d > 5*time.Second {
			t.Fatalf("the drain waited %s after the transaction ended", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not finish")
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the session stayed open after the drain")
	}
	pc, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+f.db+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	var n int
	if err := pc.QueryRow(ctx, "SELECT count(*) FROM items WHERE id IN (50, 51)").Scan(&n); err != nil || n != 2 {
		t.Fatalf("committed rows: %d %v", n, err)
	}
}

// TestPGSecDrainTimeoutBreaksBackendWait: after drain_timeout the drain ends
// even when a session waits on its backend (a long statement, no timeout).
func TestPGSecDrainTimeoutBreaksBackendWait(t *testing.T) {
	f := newSecFixture(t, "", "", "proxy: {drain_timeout: 1s}")
	c := f.rp.connect(t, "adam", "adam-pw", "sec")
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SELECT pg_sleep(40)")
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	done := make(chan struct{})
	go func() { f.rp.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(12 * time.Second):
		t.Fatal("the drain waited on a session blocked on its backend")
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the statement ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client was not told")
	}
}

// TestPGSecPrePingDeadline: the pre-ping of an idle connection to a backend
// that stopped answering is bounded; the client gets an answer, not a hang.
func TestPGSecPrePingDeadline(t *testing.T) {
	relay := newFaultRelay(t, "127.0.0.1:5432")
	f := newSecFixtureAt(t, relay.addr, "{size: 1, timeout: 2s, pre_ping: true}", "")
	ctx := context.Background()
	c := f.rp.connect(t, "adam", "adam-pw", "sec")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // idle long enough to be pinged
	relay.delay.Store(int64(60 * time.Second))
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.Exec(qctx, "SELECT 1")
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the client waited %s on a backend that does not answer (%v)", d, err)
	}
	if err == nil {
		t.Fatal("a query through a backend that does not answer succeeded")
	}
	relay.down()
}

// TestPGSecReplayDeadline: replaying a session's settings on a backend that
// stopped answering is bounded; the client gets an error, not a hang.
func TestPGSecReplayDeadline(t *testing.T) {
	relay := newFaultRelay(t, "127.0.0.1:5432")
	f := newSecFixtureAt(t, relay.addr, "{size: 1, timeout: 2s}", "")
	ctx := context.Background()
	a := f.rp.connect(t, "adam", "adam-pw", "sec")
	if _, err := a.Exec(ctx, "SET work_mem = '7MB'", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	// Another client takes the connection: its settings are reset.
	b := f.rp.connect(t, "eddie", "eddie-pw", "sec")
	if _, err := b.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	relay.delay.Store(int64(60 * time.Second))
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	_, err := a.Exec(qctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the client waited %s for its settings to be replayed (%v)", d, err)
	}
	if err == nil {
		t.Fatal("a query through a backend that does not answer succeeded")
	}
	relay.down()
}
