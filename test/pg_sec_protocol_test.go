package test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// TestPGSecPortalAfterSync executes a portal again after a Sync inside a
// transaction: every row of both Executes comes back masked, as the portal
// survives the Sync (as in Postgres) with its statement's masks.
func TestPGSecPortalAfterSync(t *testing.T) {
	f := newSecFixture(t, "", "")
	path := filepath.Join(t.TempDir(), "audit.log")
	withAudit(t, f.rp.Server, nil, proxy.AuditConfig{Path: path, LogLiterals: true})
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	if rr := r.query("BEGIN"); rr.tx != 'T' {
		t.Fatalf("BEGIN: %s", rr)
	}
	r.send(
		&pgproto3.Parse{Name: "s1", Query: "SELECT id, email FROM items ORDER BY id"},
		&pgproto3.Bind{PreparedStatement: "s1", DestinationPortal: "p1"},
		&pgproto3.Execute{Portal: "p1", MaxRows: 1},
		&pgproto3.Sync{},
	)
	first := r.ready()
	if len(first.rows) != 1 || len(first.errors) != 0 || !contains(first.types, "PortalSuspended") {
		t.Fatalf("first Execute: %s", first)
	}
	noClearText(t, "first Execute", first)
	r.send(&pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{})
	rest := r.ready()
	if len(rest.errors) != 0 || len(rest.rows) != 2 || strings.Join(rest.column(0), ",") != "2,3" {
		t.Fatalf("second Execute: %s", rest)
	}
	noClearText(t, "Execute after Sync", rest)
	if rest.column(1)[0] != "****" {
		t.Fatalf("second Execute: %s", rest)
	}
	// The audit line of the second Execute carries its statement.
	lines := waitLines(t, path, 3)
	if l := lines[2]; fmt.Sprint(l["sql"]) != "SELECT id, email FROM items ORDER BY id" || fmt.Sprint(l["rows"]) != "2" {
		t.Fatalf("audit line of the Execute after Sync: %v", l)
	}
	// The transaction ends: the portal with it, as in Postgres.
	if rr := r.query("COMMIT"); rr.tx != 'I' {
		t.Fatalf("COMMIT: %s", rr)
	}
	r.send(&pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{})
	gone := r.ready()
	if len(gone.errors) != 1 || len(gone.rows) != 0 {
		t.Fatalf("Execute of a portal after its transaction ended: %s", gone)
	}
	// In an implicit transaction Sync ends the portal.
	r.send(
		&pgproto3.Bind{PreparedStatement: "s1", DestinationPortal: "p2"},
		&pgproto3.Execute{Portal: "p2", MaxRows: 1},
		&pgproto3.Sync{},
	)
	if rr := r.ready(); len(rr.rows) != 1 {
		t.Fatalf("implicit transaction: %s", rr)
	}
	r.send(&pgproto3.Execute{Portal: "p2"}, &pgproto3.Sync{})
	if rr := r.ready(); len(rr.errors) != 1 || len(rr.rows) != 0 {
		t.Fatalf("Execute of a portal after Sync outside a transaction: %s", rr)
	}
}

// TestPGSecCursorPortal refuses an Execute of a portal the proxy did not
// create (a SQL cursor is a portal too): its rows would bypass the masks.
func TestPGSecCursorPortal(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	r.query("BEGIN")
	rr := r.query("DECLARE c CURSOR FOR SELECT id, email FROM items ORDER BY id")
	noClearText(t, "DECLARE", rr)
	// A cursor the policy allows: its Execute still has no statement the
	// proxy analysed, so it is refused.
	if rr := r.query("DECLARE d CURSOR FOR SELECT id FROM items ORDER BY id"); len(rr.errors) != 0 {
		r.query("ROLLBACK")
		r.query("BEGIN")
	}
	for _, name := range []string{"c", "d"} {
		r.send(&pgproto3.Execute{Portal: name}, &pgproto3.Sync{})
		got := r.ready()
		noClearText(t, "Execute of a cursor", got)
		if len(got.errors) != 1 || len(got.rows) != 0 {
			t.Fatalf("Execute of cursor %s: %s", name, got)
		}
		r.query("ROLLBACK")
		r.query("BEGIN")
		r.query("DECLARE d CURSOR FOR SELECT id FROM items ORDER BY id")
	}
	if fetch := r.query("FETCH ALL FROM c"); len(fetch.errors) == 0 {
		noClearText(t, "FETCH", fetch)
	}
	r.query("ROLLBACK")
}

// TestPGSecTwoMaskedStatementsInOneBatch sends two statements reading
// different tables with masked columns in one batch: each is masked.
func TestPGSecTwoMaskedStatementsInOneBatch(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	var msgs []pgproto3.FrontendMessage
	msgs = append(msgs, pbe("SELECT id, email FROM customers LIMIT 1")...)
	msgs = append(msgs, pbe("SELECT id, email FROM items ORDER BY id")...)
	msgs = append(msgs, pbe("SELECT id FROM customers")...)
	msgs = append(msgs, pbe("SELECT email, id FROM items WHERE id = 2")...)
	msgs = append(msgs, &pgproto3.Sync{})
	r.send(msgs...)
	rr := r.ready()
	if len(rr.errors) != 0 || len(rr.rows) != 1+3+1+1 {
		t.Fatalf("batch: %s", rr)
	}
	noClearText(t, "batch", rr)
	// The same with named statements prepared first, then one batch.
	r.send(
		&pgproto3.Parse{Name: "a", Query: "SELECT email FROM customers"},
		&pgproto3.Parse{Name: "b", Query: "SELECT email FROM items"},
		&pgproto3.Sync{},
	)
	r.ready()
	r.send(
		&pgproto3.Bind{PreparedStatement: "a"}, &pgproto3.Execute{},
		&pgproto3.Bind{PreparedStatement: "b"}, &pgproto3.Execute{},
		&pgproto3.Bind{PreparedStatement: "a", DestinationPortal: "pa"},
		&pgproto3.Bind{PreparedStatement: "b", DestinationPortal: "pb"},
		&pgproto3.Execute{Portal: "pb"}, &pgproto3.Execute{Portal: "pa"},
		&pgproto3.Sync{},
	)
	rr = r.ready()
	if len(rr.errors) != 0 || len(rr.rows) != 1+3+3+1 {
		t.Fatalf("named batch: %s", rr)
	}
	noClearText(t, "named batch", rr)
	// Control: the admin sees the values.
	a := f.rp.raw(t, "adam", "adam-pw", "sec")
	a.send(append(append(pbe("SELECT email FROM customers"), pbe("SELECT email FROM items ORDER BY id")...), &pgproto3.Sync{})...)
	if rr := a.ready(); len(rr.rows) != 4 || rr.rows[1][0] != "one@items.example" {
		t.Fatalf("admin: %s", rr)
	}
}

// TestPGSecErrorInFlushedBatch: an error in a batch that ended with Flush
// leaves the session in step; the next batch's Sync is answered.
func TestPGSecErrorInFlushedBatch(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "adam", "adam-pw", "sec")
	r.send(append(pbe("SELECT 1/0"), &pgproto3.Flush{})...)
	rr := r.until(5*time.Second, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ErrorResponse)
		return ok
	})
	if len(rr.errors) != 1 || rr.errors[0] != "22012" {
		t.Fatalf("flush: %s", rr)
	}
	r.send(append(pbe("SELECT 2"), &pgproto3.Sync{})...)
	rr = r.ready()
	// Postgres skips to the Sync after an error: no rows, one ReadyForQuery.
	if len(rr.rows) != 0 || rr.tx != 'I' {
		t.Fatalf("after the error: %s", rr)
	}
	r.send(append(pbe("SELECT 3"), &pgproto3.Sync{})...)
	if rr := r.ready(); len(rr.rows) != 1 || rr.rows[0][0] != "3" {
		t.Fatalf("next batch: %s", rr)
	}
	// A simple Query after the error is skipped up to the Sync, as
	// Postgres skips it.
	r.send(append(pbe("SELECT 1/0"), &pgproto3.Flush{})...)
	r.until(5*time.Second, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ErrorResponse)
		return ok
	})
	r.send(&pgproto3.Query{String: "SELECT 9"})
	r.noReply(300 * time.Millisecond)
	r.send(&pgproto3.Sync{})
	if rr := r.ready(); len(rr.rows) != 0 || rr.tx != 'I' {
		t.Fatalf("Sync after a skipped Query: %s", rr)
	}
	if rr := r.query("SELECT 10"); len(rr.rows) != 1 || rr.rows[0][0] != "10" {
		t.Fatalf("query after the Sync: %s", rr)
	}
	// The same with a statement the proxy refuses, and inside a transaction.
	v := f.rp.raw(t, "vera", "vera-pw", "sec")
	v.query("BEGIN")
	v.send(append(pbe("DELETE FROM items"), &pgproto3.Flush{})...)
	rr = v.until(5*time.Second, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ErrorResponse)
		return ok
	})
	v.send(append(pbe("SELECT 2"), &pgproto3.Sync{})...)
	if rr := v.ready(); len(rr.rows) != 0 || rr.tx != 'E' {
		t.Fatalf("refused in a transaction, then Sync: %s", rr)
	}
	if rr := v.query("ROLLBACK"); rr.tx != 'I' {
		t.Fatalf("ROLLBACK: %s", rr)
	}
	// An error of the backend, within a transaction, then a flushed batch.
	a := f.rp.raw(t, "adam", "adam-pw", "sec")
	a.query("BEGIN")
	a.send(append(append(pbe("SELECT 1/0"), pbe("SELECT 5")...), &pgproto3.Flush{})...)
	a.until(5*time.Second, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ErrorResponse)
		return ok
	})
	a.noReply(200 * time.Millisecond)
	a.send(&pgproto3.Sync{})
	if rr := a.ready(); rr.tx != 'E' || len(rr.rows) != 0 {
		t.Fatalf("Sync after the error in a transaction: %s", rr)
	}
	if rr := a.query("ROLLBACK"); rr.tx != 'I' {
		t.Fatalf("ROLLBACK: %s", rr)
	}
}

// TestPGSecCopyExtended runs COPY FROM STDIN over the extended protocol as
// libpq sends it, then checks the rows, the pool and a drain.
func TestPGSecCopyExtended(t *testing.T) {
	f := newSecFixture(t, "{size: 1, timeout: 3s}", "")
	for i := 0; i < 3; i++ {
		r := f.rp.raw(t, "adam", "adam-pw", "sec")
		r.send(append(pbe("COPY items (id, email) FROM STDIN"), &pgproto3.Sync{})...)
		rr := r.until(5*time.Second, func(m pgproto3.BackendMessage) bool {
			_, ok := m.(*pgproto3.CopyInResponse)
			return ok
		})
		if len(rr.errors) != 0 {
			t.Fatalf("COPY: %s", rr)
		}
		id := 10 + i
		r.send(
			&pgproto3.CopyData{Data: []byte(strconv.Itoa(id) + "\tcopied@items.example\n")},
			&pgproto3.CopyDone{},
			&pgproto3.Sync{},
		)
		rr = r.ready()
		if len(rr.errors) != 0 || !contains(rr.types, "CommandComplete") || rr.tx != 'I' {
			t.Fatalf("after CopyDone: %s", rr)
		}
		// The session goes on, and then the client leaves.
		if rr := r.query("SELECT count(*) FROM items"); len(rr.rows) != 1 || rr.rows[0][0] != strconv.Itoa(4+i) {
			t.Fatalf("count: %s", rr)
		}
		_ = r.nc.Close()
	}
	// A failed COPY (CopyFail), then a bad row.
	r := f.rp.raw(t, "adam", "adam-pw", "sec")
	r.send(append(pbe("COPY items (id, email) FROM STDIN"), &pgproto3.Sync{})...)
	r.until(5*time.Second, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.CopyInResponse); return ok })
	r.send(&pgproto3.CopyFail{Message: "changed my mind"}, &pgproto3.Sync{})
	if rr := r.ready(); len(rr.errors) != 1 || rr.tx != 'I' {
		t.Fatalf("CopyFail: %s", rr)
	}
	r.send(append(pbe("COPY items (id, email) FROM STDIN"), &pgproto3.Sync{})...)
	r.until(5*time.Second, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.CopyInResponse); return ok })
	r.send(&pgproto3.CopyData{Data: []byte("not-a-number\tx\n")}, &pgproto3.CopyDone{}, &pgproto3.Sync{})
	if rr := r.ready(); len(rr.errors) != 1 || rr.errors[0] != "22P02" || rr.tx != 'I' {
		t.Fatalf("bad row: %s", rr)
	}
	if rr := r.query("SELECT count(*) FROM items"); len(rr.rows) != 1 || rr.rows[0][0] != "6" {
		t.Fatalf("count: %s", rr)
	}
	_ = r.nc.Close()
	// The single pool connection is free: another client gets it at once.
	c := f.rp.connect(t, "adam", "adam-pw", "sec")
	var n int
	if err := c.QueryRow(t.Context(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 6 {
		t.Fatalf("another client: %d %v", n, err)
	}
	_ = c.Close(t.Context())
	// A client that leaves in the middle of a COPY: the drain still ends.
	r = f.rp.raw(t, "adam", "adam-pw", "sec")
	r.send(append(pbe("COPY items (id, email) FROM STDIN"), &pgproto3.Sync{})...)
	r.until(5*time.Second, func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.CopyInResponse); return ok })
	r.send(&pgproto3.CopyData{Data: []byte("20\thalf@items.example\n")})
	_ = r.nc.Close()
	done := make(chan struct{})
	go func() { f.rp.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the drain did not finish")
	}
	pgExec(t, f.db, "SELECT 1") // the backend is not stuck in the COPY's lock
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPGSecMasksAcrossTransactionStates: a batch that ends a failed
// transaction and then reads masked columns gets them masked; a simple
// query doing the same is refused; COPY of a masked table does not leak.
func TestPGSecMasksAcrossTransactionStates(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	r.query("BEGIN")
	if rr := r.query("SELECT 1/0"); rr.tx != 'E' {
		t.Fatalf("failed transaction: %s", rr)
	}
	r.send(append(append(pbe("ROLLBACK"), pbe("SELECT id, email FROM items ORDER BY id")...), &pgproto3.Sync{})...)
	rr := r.ready()
	if len(rr.errors) != 0 || len(rr.rows) != 3 || rr.tx != 'I' {
		t.Fatalf("ROLLBACK then SELECT: %s", rr)
	}
	noClearText(t, "ROLLBACK then SELECT", rr)
	r.query("BEGIN")
	r.query("SELECT 1/0")
	rr = r.query("ROLLBACK; SELECT id, email FROM items ORDER BY id")
	noClearText(t, "simple ROLLBACK then SELECT", rr)
	r.query("ROLLBACK")
	for _, q := range []string{
		"COPY items TO STDOUT",
		"COPY (SELECT email FROM items) TO STDOUT",
		"COPY customers (email) TO STDOUT",
	} {
		r.send(&pgproto3.Query{String: q})
		rr := r.ready()
		for _, row := range rr.types {
			if row == "CopyData" {
				t.Fatalf("%s: data copied out: %s", q, rr)
			}
		}
	}
}

// TestPGSecTimeoutInFlushedBatch: a statement of a batch that ended with
// Flush is subject to the tenant's statement timeout too.
func TestPGSecTimeoutInFlushedBatch(t *testing.T) {
	f := newSecFixture(t, "", ", limits: {statement_timeout: 500ms}")
	r := f.rp.raw(t, "adam", "adam-pw", "sec")
	start := time.Now()
	r.send(append(pbe("SELECT pg_sleep(8)"), &pgproto3.Flush{})...)
	rr := r.until(6*time.Second, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ErrorResponse)
		return ok
	})
	if rr.errors[0] != "57014" || time.Since(start) > 5*time.Second {
		t.Fatalf("flushed batch: %s after %s", rr, time.Since(start))
	}
	r.send(&pgproto3.Sync{})
	if rr := r.ready(); rr.tx != 'I' {
		t.Fatalf("Sync: %s", rr)
	}
	if rr := r.query("SELECT 7"); len(rr.rows) != 1 || rr.rows[0][0] != "7" {
		t.Fatalf("next query: %s", rr)
	}
}

// TestPGSecPortalSurvivesEviction: preparing many statements inside a
// transaction does not close (by evicting its statement) a portal still open.
func TestPGSecPortalSurvivesEviction(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "adam", "adam-pw", "sec")
	r.query("BEGIN")
	r.send(
		&pgproto3.Parse{Name: "s", Query: "SELECT id FROM items ORDER BY id"},
		&pgproto3.Bind{PreparedStatement: "s", DestinationPortal: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 1},
		&pgproto3.Sync{},
	)
	if rr := r.ready(); len(rr.rows) != 1 {
		t.Fatalf("first row: %s", rr)
	}
	var msgs []pgproto3.FrontendMessage
	for i := 0; i < 300; i++ {
		name := "x" + strconv.Itoa(i)
		msgs = append(msgs, &pgproto3.Parse{Name: name, Query: "SELECT " + strconv.Itoa(i)},
			&pgproto3.Bind{PreparedStatement: name}, &pgproto3.Execute{})
	}
	r.send(append(msgs, &pgproto3.Sync{})...)
	if rr := r.ready(); len(rr.errors) != 0 || len(rr.rows) != 300 {
		t.Fatalf("300 statements: %d rows, errors %v", len(rr.rows), rr.errors)
	}
	r.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	if rr := r.ready(); len(rr.errors) != 0 || strings.Join(rr.column(0), ",") != "2,3" {
		t.Fatalf("the portal after 300 statements: %s", rr)
	}
	r.query("COMMIT")
}

// TestPGSecPipelinedBatches: batches sent at once, the first failing in
// its middle; each later statement is answered in order and masked.
func TestPGSecPipelinedBatches(t *testing.T) {
	f := newSecFixture(t, "", "")
	r := f.rp.raw(t, "vera", "vera-pw", "sec")
	var msgs []pgproto3.FrontendMessage
	msgs = append(msgs, pbe("SELECT email FROM customers")...)
	msgs = append(msgs, pbe("SELECT 1/0")...)
	msgs = append(msgs, pbe("SELECT email FROM items")...)
	msgs = append(msgs, &pgproto3.Sync{})
	msgs = append(msgs, pbe("SELECT id, email FROM items ORDER BY id")...)
	msgs = append(msgs, &pgproto3.Flush{})
	msgs = append(msgs, pbe("SELECT email FROM customers")...)
	msgs = append(msgs, &pgproto3.Sync{})
	r.send(msgs...)
	first := r.ready()
	if len(first.rows) != 1 || len(first.errors) != 1 || first.errors[0] != "22012" {
		t.Fatalf("first batch: %s", first)
	}
	second := r.ready()
	if len(second.rows) != 4 || len(second.errors) != 0 {
		t.Fatalf("second batch: %s", second)
	}
	noClearText(t, "pipelined", first)
	noClearText(t, "pipelined", second)
	// Two statements in one simple query, each reading another masked table.
	rr := r.query("SELECT id FROM customers LIMIT 1; SELECT id, email FROM items ORDER BY id; SELECT email FROM customers")
	if len(rr.rows) != 5 || len(rr.errors) != 0 {
		t.Fatalf("simple query: %s", rr)
	}
	noClearText(t, "simple query", rr)
}
