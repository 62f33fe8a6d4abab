package test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	dto "github.com/prometheus/client_model/go"
)

// cappedFixture is a Postgres and a MySQL tenant, each with a five-row
// table, a three-row table and a two-row table, and a viewer capped at 3.
type cappedFixture struct {
	api *apiServer
}

func newCappedFixture(t *testing.T) *cappedFixture {
	t.Helper()
	requirePostgres(t)
	requireMySQL(t)
	pdb := tempPGDatabase(t, "capped")
	pgExec(t, pdb,
		"CREATE TABLE five (id int PRIMARY KEY)", "INSERT INTO five SELECT generate_series(1, 5)",
		"CREATE TABLE three (id int PRIMARY KEY)", "INSERT INTO three SELECT generate_series(1, 3)",
		"CREATE TABLE two (id int PRIMARY KEY)", "INSERT INTO two SELECT generate_series(1, 2)")
	mdb := tempMyDatabase(t, "capped")
	myExec(t, mdb,
		"CREATE TABLE five (id int PRIMARY KEY)", "INSERT INTO five VALUES (1),(2),(3),(4),(5)",
		"CREATE TABLE three (id int PRIMARY KEY)", "INSERT INTO three VALUES (1),(2),(3)",
		"CREATE TABLE two (id int PRIMARY KEY)", "INSERT INTO two VALUES (1),(2)")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - id: capg
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles: {viewer: {max_rows: 3}}
  - id: capm
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
    roles: {viewer: {max_rows: 3}}
users:
  - name: vera
    password: "vera-pw"
    tenants: {capg: viewer, capm: viewer}
`, pdb, mdb))
	return &cappedFixture{api: api}
}

func (f *cappedFixture) capped(tenant string) float64 {
	var m dto.Metric
	if err := f.api.Proxy.Metrics.Capped.WithLabelValues(tenant).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// TestCappedMeansWithheldPostgres checks that the "result limited" notice,
// the command tag and the capped metric appear only when the role's cap
// really withheld rows, in the simple and the extended protocol, across a
// portal fetched in pieces, and for each statement of a multi-statement
// query.
func TestCappedMeansWithheldPostgres(t *testing.T) {
	f := newCappedFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host := f.api.PGAddr
	cfg, err := pgx.ParseConfig("postgres://vera:vera-pw@" + host + "/capg?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for _, c := range []struct {
			sql      string
			rows     int
			withheld bool
		}{
			{"SELECT id FROM five ORDER BY id", 3, true},
			{"SELECT id FROM five ORDER BY id LIMIT 10", 3, true},
			{"SELECT id FROM three ORDER BY id", 3, false},
			{"SELECT id FROM two", 2, false},
			{"SELECT count(*) FROM five", 1, false},
			{"SELECT id FROM five ORDER BY id LIMIT 2", 2, false},
		} {
			notices = notices[:0]
			before := f.capped("capg")
			rows, err := conn.Query(ctx, c.sql, mode)
			if err != nil {
				t.Fatalf("%v %s: %v", mode, c.sql, err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			tag := rows.CommandTag()
			if err := rows.Err(); err != nil {
				t.Fatalf("%v %s: %v", mode, c.sql, err)
			}
			if n != c.rows || tag.RowsAffected() != int64(c.rows) {
				t.Errorf("%v %s: %d rows, tag %q; want %d", mode, c.sql, n, tag, c.rows)
			}
			gotNotice := len(notices) == 1 && strings.Contains(notices[0], "result limited to 3 rows")
			if gotNotice != c.withheld || (!c.withheld && len(notices) > 0) {
				t.Errorf("%v %s: notices %q, want a capped notice: %v", mode, c.sql, notices, c.withheld)
			}
			if d := f.capped("capg") - before; d != map[bool]float64{true: 1, false: 0}[c.withheld] {
				t.Errorf("%v %s: capped metric went up by %v", mode, c.sql, d)
			}
		}
	}

	// Two statements in one simple query: each result is capped on its own.
	notices = notices[:0]
	res, err := conn.PgConn().Exec(ctx, "SELECT id FROM five; SELECT id FROM two").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || len(res[0].Rows) != 3 || len(res[1].Rows) != 2 || len(notices) != 1 {
		t.Fatalf("multi-statement: %d results, notices %q", len(res), notices)
	}
	if len(res) == 2 && (res[0].CommandTag.String() != "SELECT 3" || res[1].CommandTag.String() != "SELECT 2") {
		t.Errorf("multi-statement tags: %q, %q", res[0].CommandTag, res[1].CommandTag)
	}
}

// TestCappedPortalInPieces fetches a capped portal two rows at a time
// inside a transaction: the client gets three rows in all and one notice.
func TestCappedPortalInPieces(t *testing.T) {
	f := newCappedFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, "postgres://vera:vera-pw@"+f.api.PGAddr+"/capg?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	hj, err := conn.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Conn.Close()
	fe := hj.Frontend
	_ = hj.Conn.SetDeadline(time.Now().Add(20 * time.Second))
	read := func(until func(pgproto3.BackendMessage) bool) (rows int, notices []string, tags []string) {
		for {
			m, err := fe.Receive()
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			switch x := m.(type) {
			case *pgproto3.DataRow:
				rows++
			case *pgproto3.NoticeResponse:
				notices = append(notices, x.Message)
			case *pgproto3.CommandComplete:
				tags = append(tags, string(x.CommandTag))
			case *pgproto3.ErrorResponse:
				t.Fatalf("error: %s", x.Message)
			}
			if until(m) {
				return
			}
		}
	}
	ready := func(m pgproto3.BackendMessage) bool { _, ok := m.(*pgproto3.ReadyForQuery); return ok }
	fe.Send(&pgproto3.Query{String: "BEGIN"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	read(ready)
	fe.Send(&pgproto3.Parse{Query: "SELECT id FROM five ORDER BY id"})
	fe.Send(&pgproto3.Bind{DestinationPortal: "p"})
	fe.Send(&pgproto3.Execute{Portal: "p", MaxRows: 2})
	fe.Send(&pgproto3.Execute{Portal: "p", MaxRows: 2})
	fe.Send(&pgproto3.Execute{Portal: "p", MaxRows: 2})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, notices, tags := read(ready)
	if rows != 3 || len(notices) != 1 {
		t.Fatalf("portal in pieces: %d rows, notices %q, tags %q; want 3 rows and one notice", rows, notices, tags)
	}
	if len(tags) != 1 || tags[0] != "SELECT 0" {
		t.Errorf("tags %q, want the last Execute's SELECT 0 (its only row was withheld)", tags)
	}
	fe.Send(&pgproto3.Query{String: "COMMIT"})
	_ = fe.Flush()
	read(ready)
}

// TestCappedMeansWithheldMySQL checks warning 1260 and the capped metric
// on the MySQL front end, text and binary protocol.
func TestCappedMeansWithheldMySQL(t *testing.T) {
	f := newCappedFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, params := range []string{"interpolateParams=true", ""} {
		db, err := sql.Open("mysql", fmt.Sprintf("vera:vera-pw@tcp(%s)/capm?timeout=5s&%s", f.api.MySQLAddr, params))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, q := range []struct {
			sql      string
			rows     int
			withheld bool
		}{
			{"SELECT id FROM five WHERE id > ? ORDER BY id", 3, true},
			{"SELECT id FROM three WHERE id > ? ORDER BY id", 3, false},
			{"SELECT count(*) FROM five WHERE id > ?", 1, false},
			{"SELECT id FROM two WHERE id > ?", 2, false},
		} {
			before := f.capped("capm")
			rows, err := c.QueryContext(ctx, q.sql, 0)
			if err != nil {
				t.Fatalf("%s %s: %v", params, q.sql, err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			if n != q.rows {
				t.Errorf("%s %s: %d rows, want %d", params, q.sql, n, q.rows)
			}
			var warn int
			wrows, err := c.QueryContext(ctx, "SHOW WARNINGS")
			if err != nil {
				t.Fatal(err)
			}
			for wrows.Next() {
				var level, msg string
				var code int
				if err := wrows.Scan(&level, &code, &msg); err != nil {
					t.Fatal(err)
				}
				if code == 1260 {
					warn++
				}
			}
			wrows.Close()
			if (warn == 1) != q.withheld {
				t.Errorf("%s %s: %d capped warnings, want withheld=%v", params, q.sql, warn, q.withheld)
			}
			if d := f.capped("capm") - before; d != map[bool]float64{true: 1, false: 0}[q.withheld] {
				t.Errorf("%s %s: capped metric went up by %v", params, q.sql, d)
			}
		}
	}
}

// TestCappedMeansWithheldAPI checks the API's truncated flag on both engines.
func TestCappedMeansWithheldAPI(t *testing.T) {
	f := newCappedFixture(t)
	for _, tenant := range []string{"capg", "capm"} {
		tok := f.api.login(t, "vera", "vera-pw", tenant)
		for _, c := range []struct {
			sql       string
			rows      int
			truncated bool
		}{
			{"SELECT id FROM five ORDER BY id", 3, true},
			{"SELECT id FROM three ORDER BY id", 3, false},
			{"SELECT count(*) FROM five", 1, false},
		} {
			r := f.api.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"sql": c.sql})
			if r.Status != 200 {
				t.Fatalf("%s %s: HTTP %d %s", tenant, c.sql, r.Status, r.Body)
			}
			m := r.JSON(t)
			if fmt.Sprint(m["row_count"]) != fmt.Sprint(c.rows) || m["truncated"] != c.truncated {
				t.Errorf("%s %s: row_count %v truncated %v, want %d %v", tenant, c.sql, m["row_count"], m["truncated"], c.rows, c.truncated)
			}
		}
	}
}
