package test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestPGPipeline sends several extended-protocol batches without waiting,
// with a Flush request in the middle and an explicit transaction spanning
// two Sync points, on a pool smaller than the number of clients.
func TestPGPipeline(t *testing.T) {
	f := newPGFixture(t, "{size: 1, timeout: 5s}", "")
	ctx := context.Background()
	other, err := pgconn.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	pc, err := pgconn.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)

	p := pc.StartPipeline(ctx)
	p.SendPrepare("ps", "SELECT name FROM items WHERE id = $1", nil)
	p.SendFlushRequest()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	res, err := p.GetResults()
	if err != nil {
		t.Fatalf("prepare after flush: %v", err)
	}
	if sd, ok := res.(*pgconn.StatementDescription); !ok || len(sd.Fields) != 1 {
		t.Fatalf("prepare result %T", res)
	}
	p.SendQueryParams("BEGIN", nil, nil, nil, nil)
	p.SendQueryPrepared("ps", [][]byte{[]byte("1")}, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams("INSERT INTO items (name) VALUES ('piped')", nil, nil, nil, nil)
	p.SendQueryPrepared("ps", [][]byte{[]byte("2")}, nil, nil)
	p.SendQueryParams("COMMIT", nil, nil, nil, nil)
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	syncs := 0
	for syncs < 2 {
		res, err := p.GetResults()
		if err != nil {
			t.Fatalf("pipeline: %v", err)
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			rr := r.Read()
			if rr.Err != nil {
				t.Fatal(rr.Err)
			}
			for _, row := range rr.Rows {
				got = append(got, string(row[0]))
			}
		case *pgconn.PipelineSync:
			syncs++
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "alpha-apple,alpha-avocado" {
		t.Fatalf("pipeline rows %v", got)
	}
	// The other client shares the single backend connection and sees the commit.
	rr := other.ExecParams(ctx, "SELECT count(*) FROM items WHERE name = 'piped'", nil, nil, nil, nil).Read()
	if rr.Err != nil || string(rr.Rows[0][0]) != "1" {
		t.Fatalf("after pipeline: %v %v", rr.Err, rr.Rows)
	}
}

// TestPGSetInsideTransactionPins keeps a SET made inside a transaction with
// the session, as Postgres would after COMMIT.
func TestPGSetInsideTransactionPins(t *testing.T) {
	f := newPGFixture(t, "{size: 2, timeout: 5s}", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	o := f.rp.connect(t, "alice", "alice-pw", "alpha")
	for _, q := range []string{"BEGIN", "SET statement_timeout = '7s'", "COMMIT"} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if _, err := o.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := c.QueryRow(ctx, "SHOW statement_timeout").Scan(&v); err != nil || v != "7s" {
			t.Fatalf("statement_timeout = %q (%v)", v, err)
		}
		if err := o.QueryRow(ctx, "SHOW statement_timeout").Scan(&v); err != nil || v != "0" {
			t.Fatalf("another client sees statement_timeout = %q (%v)", v, err)
		}
	}
	// A SET LOCAL ends with its transaction and leaks nowhere.
	for _, q := range []string{"BEGIN", "SET LOCAL work_mem = '9MB'", "COMMIT"} {
		if _, err := o.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var v string
	if err := o.QueryRow(ctx, "SHOW work_mem").Scan(&v); err != nil || v == "9MB" {
		t.Fatalf("SET LOCAL outlived its transaction: %q %v", v, err)
	}
	// RESET ALL returns to the session's startup values.
	if _, err := o.Exec(ctx, "SET work_mem = '3MB'"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Exec(ctx, "RESET ALL"); err != nil {
		t.Fatal(err)
	}
	if err := o.QueryRow(ctx, "SHOW work_mem").Scan(&v); err != nil || v == "3MB" {
		t.Fatalf("RESET ALL not applied: %q %v", v, err)
	}
}

// TestPGCancelNeedsTheSecret sends cancel requests with a wrong secret and
// checks the query runs on.
func TestPGCancelNeedsTheSecret(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := pc.Exec(ctx, "SELECT pg_sleep(1.5)").ReadAll()
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	key := pc.SecretKey()
	wrong := append([]byte(nil), key...)
	wrong[0] ^= 0xff
	for _, k := range []struct {
		pid    uint32
		secret []byte
	}{{pc.PID(), wrong}, {pc.PID() + 1, key}} {
		nc, err := net.Dial("tcp", f.rp.PGAddr)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := (&pgproto3.CancelRequest{ProcessID: k.pid, SecretKey: k.secret}).Encode(nil)
		_, _ = nc.Write(msg)
		_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = nc.Read(make([]byte, 1))
		nc.Close()
	}
	if err := <-done; err != nil {
		t.Fatalf("a cancel with the wrong key cancelled the query: %v", err)
	}
}
