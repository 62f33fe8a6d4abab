package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// secFixture is one Postgres tenant with two tables that each have a masked
// column, a viewer who sees them masked and an admin who does not.
type secFixture struct {
	rp *runningProxy
	db string
}

// newSecFixture starts a proxy in front of a fresh database; pool is the
// tenant's pool setting, extra is appended to the tenant's line and top to
// the config file.
func newSecFixture(t testing.TB, pool, extra string, top ...string) *secFixture {
	t.Helper()
	return newSecFixtureAt(t, "127.0.0.1:5432", pool, extra, top...)
}

// newSecFixtureAt is newSecFixture with the tenant's backend reached at addr
// (a relay in front of the local Postgres).
func newSecFixtureAt(t testing.TB, addr, pool, extra string, top ...string) *secFixture {
	t.Helper()
	requirePostgres(t)
	db := tempPGDatabase(t, "sec")
	pgExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, email text NOT NULL)",
		"INSERT INTO items VALUES (1, 'one@items.example'), (2, 'two@items.example'), (3, 'three@items.example')",
		"CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL)",
		"INSERT INTO customers VALUES (1, 'first@customers.example')",
	)
	if pool == "" {
		pool = "{size: 1, timeout: 5s}"
	}
	yaml := fmt.Sprintf(`
tenants:
  - {id: sec, engine: postgres, dsn: "postgres://postgres@%s/%s?sslmode=disable", pool: %s,
     roles: {viewer: {max_rows: 100, masked_columns: [items.email, customers.email]}}%s}
users:
  - {name: vera, password: vera-pw, tenants: {sec: viewer}}
  - {name: adam, password: adam-pw, tenants: {sec: admin}}
  - {name: eddie, password: eddie-pw, tenants: {sec: editor}}
`, addr, db, pool, extra) + strings.Join(top, "\n")
	return &secFixture{rp: startProxy(t, yaml), db: db}
}

// rawPG is a raw protocol client: pgconn authenticates, then the test
// speaks the protocol message by message.
type rawPG struct {
	t  testing.TB
	nc net.Conn
	fe *pgproto3.Frontend
}

// raw opens a raw protocol connection through the proxy.
func (rp *runningProxy) raw(t testing.TB, user, password, tenant string) *rawPG {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := pgconn.Connect(ctx, rp.pgURL(user, password, tenant))
	if err != nil {
		t.Fatalf("connect %s@%s: %v", user, tenant, err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	r := &rawPG{t: t, nc: hj.Conn, fe: pgproto3.NewFrontend(hj.Conn, hj.Conn)}
	t.Cleanup(func() { _ = r.nc.Close() })
	return r
}

// send writes msgs and flushes them.
func (r *rawPG) send(msgs ...pgproto3.FrontendMessage) {
	r.t.Helper()
	for _, m := range msgs {
		r.fe.Send(m)
	}
	if err := r.fe.Flush(); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// rawResult is what arrived up to a point: message types in order, the
// rows as text, error codes and the final transaction status.
type rawResult struct {
	types  []string
	rows   [][]string
	errors []string
	notes  []string
	tx     byte
}

func (rr *rawResult) String() string {
	return fmt.Sprintf("types=%v rows=%v errors=%v", rr.types, rr.rows, rr.errors)
}

// column returns column i of every row.
func (rr *rawResult) column(i int) []string {
	var out []string
	for _, row := range rr.rows {
		if i < len(row) {
			out = append(out, row[i])
		}
	}
	return out
}

// until reads messages until stop reports true for one of them (or an
// ErrorResponse when stopOnError), failing the test if nothing more comes
// within wait.
func (r *rawPG) until(wait time.Duration, stop func(pgproto3.BackendMessage) bool) *rawResult {
	r.t.Helper()
	rr := &rawResult{}
	_ = r.nc.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = r.nc.SetReadDeadline(time.Time{}) }()
	for {
		m, err := r.fe.Receive()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatalf("no reply within %s; so far %s", wait, rr)
			}
			r.t.Fatalf("receive: %v; so far %s", err, rr)
		}
		name := fmt.Sprintf("%T", m)
		name = strings.TrimPrefix(name, "*pgproto3.")
		rr.types = append(rr.types, name)
		switch m := m.(type) {
		case *pgproto3.DataRow:
			row := make([]string, len(m.Values))
			for i, v := range m.Values {
				if v == nil {
					row[i] = "NULL"
				} else {
					row[i] = string(v)
				}
			}
			rr.rows = append(rr.rows, row)
		case *pgproto3.ErrorResponse:
			rr.errors = append(rr.errors, m.Code)
		case *pgproto3.NoticeResponse:
			rr.notes = append(rr.notes, m.Message)
		case *pgproto3.ReadyForQuery:
			rr.tx = m.TxStatus
		}
		if stop(m) {
			return rr
		}
	}
}

// ready reads up to and including the next ReadyForQuery.
func (r *rawPG) ready() *rawResult {
	r.t.Helper()
	return r.until(5*time.Second, func(m pgproto3.BackendMessage) bool {
		_, ok := m.(*pgproto3.ReadyForQuery)
		return ok
	})
}

// query runs a simple query and returns what came back.
func (r *rawPG) query(sql string) *rawResult {
	r.t.Helper()
	r.send(&pgproto3.Query{String: sql})
	return r.ready()
}

// noReply asserts that nothing arrives within wait.
func (r *rawPG) noReply(wait time.Duration) {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = r.nc.SetReadDeadline(time.Time{}) }()
	m, err := r.fe.Receive()
	if err == nil {
		r.t.Fatalf("unexpected message %T", m)
	}
}

// pbe is Parse, Bind and Execute of sql on the unnamed statement and portal.
func pbe(sql string) []pgproto3.FrontendMessage {
	return []pgproto3.FrontendMessage{
		&pgproto3.Parse{Query: sql},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
	}
}

// noClearText fails when any value looks like an unmasked email.
func noClearText(t testing.TB, what string, rr *rawResult) {
	t.Helper()
	for _, row := range rr.rows {
		for _, v := range row {
			if strings.Contains(v, "@") {
				t.Fatalf("%s: masked column in clear: %v (all: %s)", what, row, rr)
			}
		}
	}
}
