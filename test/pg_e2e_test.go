package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// twoTenants creates two databases with different data and a proxy serving
// them as tenants alpha and beta; pool size 2 unless poolYAML says otherwise.
type pgFixture struct {
	rp           *runningProxy
	alphaDB      string
	betaDB       string
	sharedDB     string
	gammaSchema  string
	deltaSchema  string
	alphaItems   []string
	betaItems    []string
	gammaItems   []string
	extraYAML    string
	pool         string
	maxMsg       int
	skipSchemaDB bool
}

func newPGFixture(t testing.TB, pool string, extra string) *pgFixture {
	t.Helper()
	requirePostgres(t)
	f := &pgFixture{pool: pool, extraYAML: extra}
	f.alphaDB = tempPGDatabase(t, "alpha")
	f.betaDB = tempPGDatabase(t, "beta")
	f.sharedDB = tempPGDatabase(t, "shared")
	f.alphaItems = []string{"alpha-apple", "alpha-avocado"}
	f.betaItems = []string{"beta-banana", "beta-blueberry", "beta-beet"}
	f.gammaItems = []string{"gamma-grape"}
	seed := func(db, schema string, items []string) {
		q := []string{}
		if schema != "" {
			q = append(q, "CREATE SCHEMA "+schema)
		} else {
			schema = "public"
		}
		q = append(q, fmt.Sprintf("CREATE TABLE %s.items (id serial PRIMARY KEY, name text NOT NULL, secret text)", schema))
		for _, it := range items {
			q = append(q, fmt.Sprintf("INSERT INTO %s.items (name, secret) VALUES ('%s', 'secret-of-%s')", schema, it, it))
		}
		pgExec(t, db, q...)
	}
	seed(f.alphaDB, "", f.alphaItems)
	seed(f.betaDB, "", f.betaItems)
	seed(f.sharedDB, "gamma", f.gammaItems)
	seed(f.sharedDB, "delta", []string{"delta-date"})
	pgExec(t, f.alphaDB, `CREATE FUNCTION say_notice() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'hello from alpha'; RETURN 1; END $$`)
	if pool == "" {
		pool = "{size: 2, timeout: 2s}"
	}
	yaml := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: %s,
     roles: {viewer: {max_rows: 3, masked_columns: [items.secret]}}}
  - {id: beta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: %s}
  - {id: gamma, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", isolation: schema, pool: %s}
  - {id: delta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", isolation: schema, pool: %s}
users:
  - {name: alice, password: alice-pw, tenants: {alpha: admin, beta: analyst, gamma: admin}}
  - {name: bob, password: bob-pw, tenants: {beta: editor}}
  - {name: carol, password: carol-pw, tenants: {gamma: analyst}}
  - {name: vera, password: vera-pw, tenants: {alpha: viewer, beta: viewer}}
%s`, f.alphaDB, pool, f.betaDB, pool, f.sharedDB, pool, f.sharedDB, pool, extra)
	f.rp = startProxy(t, yaml)
	return f
}

func names(t testing.TB, c *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want SQLSTATE %s", code)
	}
	if got := sqlstate(err); got != code {
		t.Fatalf("got error %v (SQLSTATE %q), want SQLSTATE %s", err, got, code)
	}
}

func TestPGQueriesAndProtocol(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")

	// Extended protocol with named, cached statements (pgx's default).
	if got := names(t, c, "SELECT name FROM items WHERE id > $1 ORDER BY id", 0); strings.Join(got, ",") != "alpha-apple,alpha-avocado" {
		t.Fatalf("items = %v", got)
	}
	// Again, now the statement is prepared: Bind/Execute only.
	if got := names(t, c, "SELECT name FROM items WHERE id > $1 ORDER BY id", 1); len(got) != 1 {
		t.Fatalf("items = %v", got)
	}
	// Binary and text formats, several types.
	var n int64
	var ts time.Time
	var num string
	if err := c.QueryRow(ctx, "SELECT 42::int8, '2024-01-02 03:04:05+00'::timestamptz, 1.5::numeric::text").Scan(&n, &ts, &num); err != nil {
		t.Fatal(err)
	}
	if n != 42 || ts.Year() != 2024 || num != "1.5" {
		t.Fatalf("got %d %v %s", n, ts, num)
	}
	// Simple protocol, several statements in one message.
	pc := c.PgConn()
	res, err := pc.Exec(ctx, "SELECT 1; SELECT name FROM items ORDER BY id LIMIT 1; SELECT 'x'").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || string(res[1].Rows[0][0]) != "alpha-apple" {
		t.Fatalf("multi-statement results: %d", len(res))
	}
	// Transaction status through ReadyForQuery.
	if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if pc.TxStatus() != 'T' {
		t.Fatalf("status after BEGIN = %q", pc.TxStatus())
	}
	_, err = pc.Exec(ctx, "SELECT 1/0").ReadAll()
	wantCode(t, err, "22012")
	if pc.TxStatus() != 'E' {
		t.Fatalf("status after error in transaction = %q", pc.TxStatus())
	}
	if _, err := pc.Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if pc.TxStatus() != 'I' {
		t.Fatalf("status after ROLLBACK = %q", pc.TxStatus())
	}
	// NOTICE passthrough.
	var notices []string
	var mu sync.Mutex
	cfg, _ := pgx.ParseConfig(f.rp.pgURL("alice", "alice-pw", "alpha"))
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Message)
		mu.Unlock()
	}
	nc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close(ctx)
	if _, err := nc.Exec(ctx, "SELECT say_notice()"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(notices) != 1 || notices[0] != "hello from alpha" {
		t.Fatalf("notices = %v", notices)
	}
	mu.Unlock()
	// ParameterStatus passthrough: the server version and a SET that reports.
	if pc.ParameterStatus("server_version") == "" {
		t.Fatal("no server_version parameter")
	}
	if _, err := pc.Exec(ctx, "SET DateStyle = 'German'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("DateStyle"); !strings.HasPrefix(got, "German") {
		t.Fatalf("DateStyle after SET = %q", got)
	}
}

func TestPGCopy(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	// COPY FROM STDIN (binary, through pgx's CopyFrom).
	rows := [][]any{}
	for i := 0; i < 5000; i++ {
		rows = append(rows, []any{fmt.Sprintf("copied-%d", i), "s"})
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"name", "secret"}, pgx.CopyFromRows(rows))
	if err != nil || n != 5000 {
		t.Fatalf("CopyFrom: %d %v", n, err)
	}
	// COPY FROM STDIN in text format through the simple protocol.
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader("text-1\tx\ntext-2\ty\n"), "COPY items (name, secret) FROM STDIN")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("COPY text: %v %v", tag, err)
	}
	// COPY TO STDOUT.
	var buf bytes.Buffer
	tag, err = c.PgConn().CopyTo(ctx, &buf, "COPY (SELECT name FROM items WHERE name LIKE 'text-%' ORDER BY 1) TO STDOUT")
	if err != nil || buf.String() != "text-1\ntext-2\n" {
		t.Fatalf("COPY TO: %q %v", buf.String(), err)
	}
	// A failing COPY leaves the session usable.
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader("only-one-column\n"), "COPY items (name, secret) FROM STDIN")
	wantCode(t, err, "22P04")
	if got := names(t, c, "SELECT count(*)::text FROM items"); got[0] != "5004" {
		t.Fatalf("count after copies = %v", got)
	}
}

func TestPGAuthAndTenantErrors(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	try := func(user, pw, tenant string) error {
		c, err := pgx.Connect(ctx, f.rp.pgURL(user, pw, tenant))
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	wantCode(t, try("alice", "wrong", "alpha"), "28P01")
	wantCode(t, try("nobody", "x", "alpha"), "28P01")
	errUnknown := try("bob", "bob-pw", "nosuchtenant")
	wantCode(t, errUnknown, "3D000")
	errNotHeld := try("bob", "bob-pw", "alpha")
	wantCode(t, errNotHeld, "3D000")
	// The two answers differ only in the tenant named: existence is not revealed.
	a := strings.ReplaceAll(errUnknown.Error(), "nosuchtenant", "X")
	b := strings.ReplaceAll(errNotHeld.Error(), "alpha", "X")
	if a != b {
		t.Fatalf("unknown and not-held tenants answer differently:\n%s\n%s", a, b)
	}
	// A wrong password for a real user and an unknown user read alike too.
	e1 := try("alice", "wrong", "alpha").Error()
	e2 := strings.ReplaceAll(try("mallory", "x", "alpha").Error(), "mallory", "alice")
	if e1 != e2 {
		t.Fatalf("wrong password and unknown user answer differently:\n%s\n%s", e1, e2)
	}
	// Right credentials work.
	if err := try("bob", "bob-pw", "beta"); err != nil {
		t.Fatal(err)
	}
}

func TestPGSetTenantAndIsolation(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	pc := c.PgConn()
	show := func() string {
		r, err := pc.Exec(ctx, "SHOW tenant").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return string(r[0].Rows[0][0])
	}
	if show() != "alpha" {
		t.Fatalf("SHOW tenant = %s", show())
	}
	// Prepare a statement on alpha, then switch: it runs against beta's data.
	if got := names(t, c, "SELECT name FROM items ORDER BY id"); got[0] != "alpha-apple" {
		t.Fatal(got)
	}
	if _, err := pc.Exec(ctx, "SET tenant = 'beta'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if show() != "beta" {
		t.Fatalf("SHOW tenant after switch = %s", show())
	}
	if got := names(t, c, "SELECT name FROM items ORDER BY id"); strings.Join(got, ",") != strings.Join(f.betaItems, ",") {
		t.Fatalf("after switch got %v", got)
	}
	// alice is analyst on beta: writes are refused there.
	_, err := c.Exec(ctx, "DELETE FROM items")
	wantCode(t, err, "42501")
	// Not to a tenant she does not hold, nor inside a transaction.
	_, err = pc.Exec(ctx, "SET tenant = 'delta'").ReadAll()
	wantCode(t, err, "42501")
	_, err = pc.Exec(ctx, "SET tenant TO nosuch").ReadAll()
	wantCode(t, err, "42501")
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pc.Exec(ctx, "SET tenant = 'alpha'").ReadAll()
	wantCode(t, err, "25001")
	_ = tx.Rollback(ctx)
	if _, err := pc.Exec(ctx, "SET tenant TO alpha").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, c, "SELECT name FROM items ORDER BY id"); got[0] != "alpha-apple" {
		t.Fatalf("back on alpha got %v", got)
	}
}

func TestPGSchemaIsolation(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	c := f.rp.connect(t, "carol", "carol-pw", "gamma")
	if got := names(t, c, "SELECT name FROM items"); strings.Join(got, ",") != "gamma-grape" {
		t.Fatalf("gamma items = %v", got)
	}
	for _, q := range []string{
		"SELECT name FROM delta.items",
		`SELECT name FROM "delta"."items"`,
		"SELECT name FROM DELTA.ITEMS",
		"SELECT g.name FROM items g JOIN delta.items d ON true",
		"SELECT (SELECT name FROM delta.items LIMIT 1)",
		"WITH x AS (SELECT * FROM delta.items) SELECT name FROM x",
		"SELECT name FROM items UNION SELECT name FROM delta.items",
		"SELECT name FROM items WHERE EXISTS (SELECT 1 FROM delta.items)",
		"SET search_path = delta",
		"SET search_path TO delta, public",
		"SELECT set_config('search_path', 'delta', false)",
		"SELECT name FROM " + f.sharedDB + ".delta.items",
	} {
		_, err := c.PgConn().Exec(ctx, q).ReadAll()
		if err == nil {
			t.Errorf("%s: allowed", q)
			continue
		}
		if s := sqlstate(err); s != "42501" && s != "0A000" {
			t.Errorf("%s: %v (SQLSTATE %s)", q, err, s)
		}
		if strings.Contains(err.Error(), "delta-date") {
			t.Errorf("%s leaked data: %v", q, err)
		}
	}
	// The session's search_path still points at gamma.
	if got := names(t, c, "SELECT name FROM items"); strings.Join(got, ",") != "gamma-grape" {
		t.Fatalf("gamma items after attempts = %v", got)
	}
}

func TestPGDatabaseIsolation(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	for _, q := range []string{
		"SELECT name FROM " + f.betaDB + ".public.items",
		"SELECT * FROM dblink('dbname=" + f.betaDB + "', 'SELECT name FROM items') AS t(name text)",
		"SELECT pg_read_file('/etc/passwd')",
		"SELECT pg_terminate_backend(1)",
		"COPY items TO '/tmp/tp_leak'",
		"COPY items FROM PROGRAM 'cat /etc/passwd'",
	} {
		_, err := c.PgConn().Exec(ctx, q).ReadAll()
		if err == nil {
			t.Errorf("%s: allowed", q)
			continue
		}
		if s := sqlstate(err); s != "42501" && s != "0A000" {
			t.Errorf("%s: %v (SQLSTATE %s)", q, err, s)
		}
	}
	if got := names(t, c, "SELECT name FROM items ORDER BY id"); got[0] != "alpha-apple" {
		t.Fatalf("alpha items = %v", got)
	}
}

// TestPGTransactionPoolingPreparedStatements runs more clients than backend
// connections, each with its own named prepared statements and settings.
func TestPGTransactionPoolingPreparedStatements(t *testing.T) {
	f := newPGFixture(t, "{size: 2, timeout: 10s}", "")
	ctx := context.Background()
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := pgx.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			tz := []string{"UTC", "Asia/Tokyo", "America/Lima", "Europe/Paris"}[i%4]
			if _, err := c.Exec(ctx, "SET TimeZone = '"+tz+"'"); err != nil {
				errs <- err
				return
			}
			for j := 0; j < 40; j++ {
				var name, gotTZ string
				var k int
				// Same statement text in every client: pgx names it the same.
				if err := c.QueryRow(ctx, "SELECT name, current_setting('TimeZone'), $1::int FROM items WHERE id = $2", j, 1+j%2).Scan(&name, &gotTZ, &k); err != nil {
					errs <- fmt.Errorf("client %d iteration %d: %w", i, j, err)
					return
				}
				if gotTZ != tz || k != j || !strings.HasPrefix(name, "alpha-") {
					errs <- fmt.Errorf("client %d got tz %s (want %s), k %d, name %s", i, gotTZ, tz, k, name)
					return
				}
				// A transaction with a statement of this client's own.
				tx, err := c.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				var s string
				if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT 'client-%d-' || $1::int", i), j).Scan(&s); err != nil {
					errs <- err
					return
				}
				if s != fmt.Sprintf("client-%d-%d", i, j) {
					errs <- fmt.Errorf("got %s", s)
					return
				}
				if err := tx.Commit(ctx); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, _ := f.rp.Server.Tenants()[0].PoolStats()
	if st.Total > 2 {
		t.Fatalf("pool opened %d connections, size is 2", st.Total)
	}
}

func TestPGUnnamedAndDescribeAcrossBackends(t *testing.T) {
	f := newPGFixture(t, "{size: 2, timeout: 5s}", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	other := f.rp.connect(t, "alice", "alice-pw", "alpha")
	pc := c.PgConn()
	// Prepare a named statement, then keep the backends busy with another
	// client so the next Describe/Bind may land on another connection.
	sd, err := pc.Prepare(ctx, "mine", "SELECT name FROM items WHERE id = $1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := other.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		// A standalone Describe of the statement.
		d, err := pc.Prepare(ctx, "", "SELECT $1::int + 1", nil)
		if err != nil || len(d.ParamOIDs) != 1 {
			t.Fatalf("describe: %v", err)
		}
		rr := pc.ExecPrepared(ctx, "mine", [][]byte{[]byte("2")}, nil, nil).Read()
		if rr.Err != nil || string(rr.Rows[0][0]) != "alpha-avocado" {
			t.Fatalf("exec prepared: %v", rr.Err)
		}
	}
	_ = sd
	// Closing drops the client's name; preparing it again works.
	if err := pc.Deallocate(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Prepare(ctx, "mine", "SELECT 2", nil); err != nil {
		t.Fatalf("re-prepare after close: %v", err)
	}
	rr := pc.ExecPrepared(ctx, "nosuch", nil, nil, nil).Read()
	wantCode(t, rr.Err, "42601")
}

func TestPGSessionPoolMode(t *testing.T) {
	f := newPGFixture(t, "{size: 1, timeout: 1s, mode: session}", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// The only connection stays with c: a second client times out with 53300.
	c2, err := pgx.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err == nil {
		_, err = c2.Exec(ctx, "SELECT 1")
		c2.Close(ctx)
	}
	wantCode(t, err, "53300")
	if !strings.Contains(err.Error(), `"alpha"`) {
		t.Fatalf("pool timeout does not name the tenant: %v", err)
	}
	c.Close(ctx)
	time.Sleep(100 * time.Millisecond)
	c3 := f.rp.connect(t, "alice", "alice-pw", "alpha")
	if _, err := c3.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after the first client left: %v", err)
	}
}

func TestPGTempTablePinsSession(t *testing.T) {
	f := newPGFixture(t, "{size: 2, timeout: 5s}", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	others := []*pgx.Conn{f.rp.connect(t, "alice", "alice-pw", "alpha"), f.rp.connect(t, "alice", "alice-pw", "alpha")}
	if _, err := c.Exec(ctx, "CREATE TEMP TABLE scratch (v int)"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := others[i%2].Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO scratch VALUES ($1)", i); err != nil {
			t.Fatalf("temp table lost: %v", err)
		}
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM scratch").Scan(&n); err != nil || n != 5 {
		t.Fatalf("count %d %v", n, err)
	}
}

func TestPGCancel(t *testing.T) {
	f := newPGFixture(t, "", "")
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Exec(ctx, "SELECT pg_sleep(20)")
	if err == nil {
		t.Fatal("pg_sleep was not cancelled")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("cancel took %s", time.Since(start))
	}
	// pgx sends a CancelRequest and then closes; check the server side with a
	// raw CancelRequest through pgconn on a fresh connection.
	pc, err := pgconn.Connect(context.Background(), f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := pc.Exec(context.Background(), "SELECT pg_sleep(20)").ReadAll()
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := pc.CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		wantCode(t, err, "57014")
	case <-time.After(10 * time.Second):
		t.Fatal("cancel request had no effect")
	}
	// The connection is still usable.
	if _, err := pc.Exec(context.Background(), "SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
}

func TestPGClientVanishesMidTransaction(t *testing.T) {
	f := newPGFixture(t, "{size: 1, timeout: 5s}", "")
	ctx := context.Background()
	c, err := pgx.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO items (name) VALUES ('uncommitted')"); err != nil {
		t.Fatal(err)
	}
	_ = c.PgConn().Conn().Close() // vanish without Terminate
	// The single backend connection must come back clean.
	c2 := f.rp.connect(t, "alice", "alice-pw", "alpha")
	var n int
	if err := c2.QueryRow(ctx, "SELECT count(*) FROM items WHERE name = 'uncommitted'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("the vanished client's transaction was committed")
	}
	if c2.PgConn().TxStatus() != 'I' {
		t.Fatalf("reused backend in status %q", c2.PgConn().TxStatus())
	}
	// Mid-query: the client leaves while a long query runs.
	c3, err := pgx.Connect(ctx, f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = c3.Exec(ctx, "SELECT pg_sleep(3)") }()
	time.Sleep(200 * time.Millisecond)
	_ = c3.PgConn().Conn().Close()
	qctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	if err := c2.QueryRow(qctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("after a client left mid-query: %v", err)
	}
}

func TestPGGarbageAndOversized(t *testing.T) {
	f := newPGFixture(t, "", "proxy: {max_message_size: 4096}\n")
	ctx := context.Background()
	good := f.rp.connect(t, "alice", "alice-pw", "alpha")
	cases := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0, 0, 0, 8, 0, 3, 0, 0},            // startup with no parameters
		{0xff, 0xff, 0xff, 0xff, 1, 2, 3},   // absurd length
		{0, 0, 0, 3},                        // length below minimum
		{0, 0, 0, 9, 0, 0x99, 0, 0, 'x'},    // bad protocol version
		{0, 0, 0, 16, 4, 210, 22, 46, 1, 2}, // truncated cancel request
	}
	for i, b := range cases {
		nc, err := net.DialTimeout("tcp", f.rp.PGAddr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Write(b)
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, err = io.ReadAll(nc)
		nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("case %d: the proxy kept a garbage connection open", i)
		}
	}
	// An oversized query after login closes that client with 08P01.
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	_, err := c.Exec(ctx, "SELECT '"+strings.Repeat("x", 10000)+"'")
	if err == nil {
		t.Fatal("oversized message accepted")
	}
	if s := sqlstate(err); s != "08P01" && s != "" {
		t.Fatalf("oversized: %v", err)
	}
	// Everyone else is still served.
	if got := names(t, good, "SELECT name FROM items ORDER BY id"); got[0] != "alpha-apple" {
		t.Fatal(got)
	}
}

func TestPGMetrics(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Exec(ctx, "SELECT 1/0")
	resp, err := http.Get("http://" + f.rp.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tenantproxy_client_connections{protocol="postgres",tenant="alpha"} 1`,
		`tenantproxy_pool_connections{state="idle",tenant="alpha"}`,
		`tenantproxy_pool_connections{state="in_use",tenant="alpha"} 0`,
		`tenantproxy_pool_connections{state="waiting",tenant="alpha"} 0`,
		`tenantproxy_statements_total{class="read",tenant="alpha"}`,
		`tenantproxy_statement_duration_seconds_bucket{tenant="alpha",le="0.001"}`,
		`tenantproxy_errors_total{category="backend",sqlstate="22012",tenant="alpha"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, err = http.Get("http://" + f.rp.AdminAddr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}

func TestPGViewerMasksAndCaps(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	pgExec(t, f.alphaDB, "INSERT INTO items (name, secret) SELECT 'extra-' || g, 'hidden-' || g FROM generate_series(1, 10) g")
	var notices []string
	var mu sync.Mutex
	cfg, _ := pgx.ParseConfig(f.rp.pgURL("vera", "vera-pw", "alpha"))
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Message)
		mu.Unlock()
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	check := func(label string, mode pgx.QueryExecMode, sql string) {
		t.Helper()
		rows, err := c.Query(ctx, sql, mode)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		n := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for i, fd := range rows.FieldDescriptions() {
				if fd.Name == "secret" || fd.Name == "s" {
					if vals[i] != "****" {
						t.Fatalf("%s: masked column came back as %v", label, vals[i])
					}
				}
			}
			n++
		}
		if rows.Err() != nil {
			t.Fatalf("%s: %v", label, rows.Err())
		}
		if n != 3 {
			t.Fatalf("%s: %d rows, want the cap of 3", label, n)
		}
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		check("star", mode, "SELECT * FROM items ORDER BY id")
		check("alias", mode, "SELECT name, secret AS s FROM items ORDER BY id")
		check("qualified", mode, "SELECT i.secret, i.name FROM items i")
		check("again", mode, "SELECT * FROM items ORDER BY id")
	}
	mu.Lock()
	if len(notices) == 0 || !strings.Contains(notices[0], "limited to 3 rows") {
		t.Fatalf("no cap notice: %v", notices)
	}
	mu.Unlock()
	// Probing the masked column in any expression is refused.
	for _, q := range []string{
		"SELECT name FROM items WHERE secret = 'secret-of-alpha-apple'",
		"SELECT upper(secret) FROM items",
		"SELECT name FROM items ORDER BY secret",
		"SELECT secret, count(*) FROM items GROUP BY secret",
		"SELECT length(secret) FROM items",
		"SELECT name FROM items WHERE secret LIKE 's%'",
	} {
		_, err := c.Exec(ctx, q)
		wantCode(t, err, "42501")
	}
	// Writes are refused for the viewer.
	_, err = c.Exec(ctx, "UPDATE items SET name = 'x'")
	wantCode(t, err, "42501")
	// The same statements unmasked for the admin.
	a := f.rp.connect(t, "alice", "alice-pw", "alpha")
	if got := names(t, a, "SELECT secret FROM items ORDER BY id LIMIT 1"); got[0] != "secret-of-alpha-apple" {
		t.Fatalf("admin sees %v", got)
	}
}

func TestPGUnsafeClientEncodingRefused(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["client_encoding"] = "SJIS"
	if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c.Close(ctx)
		t.Fatal("client_encoding SJIS accepted")
	} else if sqlstate(err) != "0A000" {
		t.Fatalf("SJIS: %v", err)
	}
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("UTF8: %v", err)
	}
	c.Close(ctx)
}

func TestPGStandardConformingStringsStaysOn(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(f.rp.pgURL("alice", "alice-pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["standard_conforming_strings"] = "off"
	if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c.Close(ctx)
		t.Fatal("standard_conforming_strings=off accepted at startup")
	}
	c := f.rp.connect(t, "alice", "alice-pw", "alpha")
	_, err = c.Exec(ctx, "SET standard_conforming_strings = off")
	if err == nil {
		t.Fatal("SET standard_conforming_strings = off accepted")
	}
}
