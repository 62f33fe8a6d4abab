package test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
)

// TestMySQLAuth covers mysql_native_password (mariadb CLI), caching_sha2_password
// full authentication over RSA and TLS then the fast path (go-sql-driver),
// and the errors of the connection phase.
func TestMySQLAuth(t *testing.T) {
	v, err := scram.NewVerifier("dave-pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	f := newMyFixture(t, "", fmt.Sprintf("  - {name: carol, password: carol-pw, tenants: {alpha: viewer}}\n  - {name: dave, password: %q, tenants: {alpha: viewer}}\n", v.String()))
	// mysql_native_password: the mariadb client's default plugin.
	out, err := f.rp.mariadbCLI(t, "bob", "bob-pw", "beta", "-e", "SELECT COUNT(*) FROM items")
	if err != nil || out != "3\n" {
		t.Fatalf("mariadb native: %v %q", err, out)
	}
	out, err = f.rp.mariadbCLI(t, "bob", "wrong", "beta", "-e", "SELECT 1")
	if err == nil || !strings.Contains(out, "1045") {
		t.Fatalf("mariadb wrong password: %v %q", err, out)
	}
	// caching_sha2_password over TLS: full authentication, then fast.
	mustPing := func(dsn string) {
		t.Helper()
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
	}
	mustPing(f.rp.myDSN("carol", "carol-pw", "alpha", "tls=skip-verify"))
	mustPing(f.rp.myDSN("carol", "carol-pw", "alpha", "")) // fast path after the full one
	// Without TLS: full authentication with the proxy's RSA key.
	mustPing(f.rp.myDSN("bob", "bob-pw", "beta", ""))
	mustPing(f.rp.myDSN("bob", "bob-pw", "beta", ""))
	fails := []struct {
		user, pw, tenant string
		code             uint16
		msg              string
	}{
		{"bob", "nope", "beta", 1045, "Access denied"},
		{"nobody", "x", "beta", 1045, "Access denied"},
		{"dave", "dave-pw", "alpha", 1045, "SCRAM"},
		{"alice", "alice-pw", "", 1046, "no tenant chosen"},
		{"bob", "bob-pw", "alpha", 1049, "does not exist"},
		{"bob", "bob-pw", "nosuch", 1049, "does not exist"},
	}
	for _, c := range fails {
		db, _ := sql.Open("mysql", f.rp.myDSN(c.user, c.pw, c.tenant, ""))
		err := db.Ping()
		db.Close()
		wantMyErr(t, err, c.code, c.user+"@"+c.tenant)
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s@%s: %v, want %q", c.user, c.tenant, err, c.msg)
		}
	}
	// bob holds one MySQL tenant: no schema picks it.
	db := f.rp.myOpen(t, "bob", "bob-pw", "", "")
	if got := queryStrings(t, db, "SELECT DATABASE()"); got[0] != "beta" {
		t.Fatalf("bob default tenant = %v", got)
	}
}

// TestMySQLUseAndSessionState checks USE, replayed session variables,
// pinned user variables, autocommit and prepared statements across a pool
// of one backend connection shared by two clients.
func TestMySQLUseAndSessionState(t *testing.T) {
	f := newMyFixture(t, "{size: 1, timeout: 5s}", "")
	ctx := context.Background()
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "interpolateParams=false")
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	one := func(c *sql.Conn, q string, args ...any) string {
		t.Helper()
		got := queryStrings(t, c, q, args...)
		if len(got) != 1 {
			t.Fatalf("%s: %v", q, got)
		}
		return got[0]
	}
	def := one(b, "SELECT @@session.sql_mode")
	if _, err := a.ExecContext(ctx, "SET SESSION sql_mode = 'PIPES_AS_CONCAT'"); err != nil {
		t.Fatal(err)
	}
	if got := one(b, "SELECT @@session.sql_mode"); got != def {
		t.Fatalf("b sees a's sql_mode %q", got)
	}
	if got := one(a, "SELECT @@session.sql_mode"); got != "PIPES_AS_CONCAT" {
		t.Fatalf("a lost its sql_mode: %q", got)
	}
	// Prepared statements survive on the shared backend.
	st, err := a.PrepareContext(ctx, "SELECT name FROM items WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_ = one(b, "SELECT 1")
		var name string
		if err := st.QueryRowContext(ctx, 1).Scan(&name); err != nil || name != "alpha-apple" {
			t.Fatalf("execute after b: %v %q", err, name)
		}
	}
	st.Close()
	// USE switches tenant outside a transaction, not inside.
	if _, err := a.ExecContext(ctx, "USE beta"); err != nil {
		t.Fatal(err)
	}
	if got := one(a, "SELECT COUNT(*) FROM items"); got != "3" {
		t.Fatalf("after USE beta count = %s", got)
	}
	if got := one(a, "SELECT DATABASE()"); got != "beta" {
		t.Fatalf("DATABASE() = %s", got)
	}
	if _, err := a.ExecContext(ctx, "USE alpha"); err != nil {
		t.Fatal(err)
	}
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec("USE beta")
	wantMyErr(t, err, 1179, "USE in a transaction")
	_ = tx.Rollback()
	// autocommit=0 is replayed; the transaction it opens holds the backend.
	if _, err := a.ExecContext(ctx, "SET autocommit = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "INSERT INTO items (name) VALUES ('uncommitted')"); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		got := queryStrings(t, b, "SELECT COUNT(*) FROM items")
		done <- got[0]
	}()
	select {
	case got := <-done:
		t.Fatalf("b ran during a's transaction (pool of 1): %s", got)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := a.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "3" {
		t.Fatalf("b count after commit = %s", got)
	}
	if _, err := a.ExecContext(ctx, "SET autocommit = 1"); err != nil {
		t.Fatal(err)
	}
	// User variables pin the session to its backend until it ends.
	f2 := newMyFixture(t, "{size: 2, timeout: 5s}", "")
	db2 := f2.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	cdb := f2.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	c, err := cdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "SET @x = 41"); err != nil {
		t.Fatal(err)
	}
	other := queryStrings(t, db2, "SELECT COALESCE(@x, 'unset')")
	if got := one(c, "SELECT @x + 1"); got != "42" {
		t.Fatalf("@x + 1 = %s", got)
	}
	if other[0] != "unset" {
		t.Fatalf("another client sees @x = %v", other)
	}
	c.Close()
	cdb.Close()
	for i := 0; i < 4; i++ {
		if got := queryStrings(t, db2, "SELECT COALESCE(@x, 'unset')"); got[0] != "unset" {
			t.Fatalf("@x leaked after the client left: %v", got)
		}
	}
}

// TestMySQLSessionPoolMode keeps one backend per client.
func TestMySQLSessionPoolMode(t *testing.T) {
	f := newMyFixture(t, "{size: 2, mode: session}", "")
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(context.Background(), "SET @v = 7"); err != nil {
		t.Fatal(err)
	}
	if got := queryStrings(t, c, "SELECT @v"); got[0] != "7" {
		t.Fatal(got)
	}
	if st := f.rp.tenantPoolStats(t, "alpha"); st.InUse != 1 {
		t.Fatalf("session mode: in use = %d", st.InUse)
	}
}

// TestMySQLKillQuery kills a statement waiting for a lock, from another
// connection of the same user, by the proxy's connection id.
func TestMySQLKillQuery(t *testing.T) {
	f := newMyFixture(t, "{size: 4, timeout: 5s}", "")
	ctx := context.Background()
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	holder, _ := db.Conn(ctx)
	defer holder.Close()
	victim, _ := db.Conn(ctx)
	defer victim.Close()
	var vid int64
	if err := victim.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&vid); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SELECT * FROM items WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := victim.ExecContext(ctx, "UPDATE items SET name = 'x' WHERE id = 1")
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	// Another user's connection cannot be killed.
	bob := f.rp.myOpen(t, "bob", "bob-pw", "beta", "")
	_, err = bob.Exec(fmt.Sprintf("KILL QUERY %d", vid))
	if code, _ := myErr(t, err); code != 1227 && code != 1142 {
		t.Errorf("bob kills alice: %v", err)
	}
	// alice on another tenant cannot kill it either.
	other := f.rp.myOpen(t, "alice", "alice-pw", "beta", "")
	_, err = other.Exec(fmt.Sprintf("KILL QUERY %d", vid))
	if code, _ := myErr(t, err); code != 1227 && code != 1142 {
		t.Errorf("alice@beta kills alice@alpha: %v", err)
	}
	if _, err := db.Exec(fmt.Sprintf("KILL QUERY %d", vid)); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		wantMyErr(t, err, 1317, "killed query")
	case <-time.After(10 * time.Second):
		t.Fatal("KILL QUERY did not stop the statement")
	}
	_ = tx.Rollback()
	if got := queryStrings(t, victim, "SELECT name FROM items WHERE id = 1"); got[0] != "alpha-apple" {
		t.Fatalf("victim after kill: %v", got)
	}
}

// TestMySQLClientVanishes checks that a client leaving mid-transaction or
// mid-result leaves no dirty backend connection in the pool.
func TestMySQLClientVanishes(t *testing.T) {
	f := newMyFixture(t, "{size: 1, timeout: 5s}", "")
	dsn := f.rp.myDSN("alice", "alice-pw", "alpha", "")
	cfg, _ := mysql.ParseDSN(dsn)
	var raw net.Conn
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		raw = c
		return c, err
	}
	connector, _ := mysql.NewConnector(cfg)
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO items (name) VALUES ('ghost')"); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close() // vanish mid-transaction
	good := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := queryStrings(t, good, "SELECT COUNT(*), @@in_transaction FROM items WHERE name = 'ghost'")
		if got[0] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ghost row visible: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := queryStrings(t, good, "SELECT @@in_transaction"); got[0] != "0" {
		t.Fatalf("pooled backend is in a transaction: %v", got)
	}
	// Mid-result: read a few rows of a long result, then vanish.
	nc, err := net.Dial("tcp", f.rp.MySQLAddr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	big := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	rows, err := big.Query("SELECT seq, REPEAT('x', 200) FROM seq_1_to_2000000")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && rows.Next(); i++ {
	}
	_ = big.Close() // closes the connection under the open result
	_ = rows.Close()
	for i := 0; i < 3; i++ {
		if got := queryStrings(t, good, "SELECT COUNT(*) FROM items"); got[0] != "2" {
			t.Fatalf("after mid-result disconnect: %v", got)
		}
	}
}

// TestMySQLGarbageAndOversized sends malformed and oversized packets: each
// closes that client only.
func TestMySQLGarbageAndOversized(t *testing.T) {
	f := newMyFixture(t, "", "proxy: {max_message_size: 4096}\n")
	good := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	if got := queryStrings(t, good, "SELECT 1"); got[0] != "1" {
		t.Fatal(got)
	}
	cases := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0xff, 0xff, 0xff, 1, 1, 2, 3},                                           // absurd length
		{5, 0, 0, 1, 0x85, 0xa6},                                                 // truncated
		{40, 0, 0, 1, 0x0f, 0xa6, 0, 0},                                          // short handshake response
		{4, 0, 0, 7, 1, 2, 3, 4},                                                 // wrong sequence id
		append([]byte{36, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01}, make([]byte, 32)...), // no user terminator
	}
	for i, b := range cases {
		nc, err := net.DialTimeout("tcp", f.rp.MySQLAddr, 2*time.Second)
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
	// An oversized query after login closes that client with 1047 / 08S01.
	c := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "")
	c.SetMaxOpenConns(1)
	_, err := c.Exec("SELECT '" + strings.Repeat("x", 10000) + "'")
	if err == nil {
		t.Fatal("oversized packet accepted")
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number != 1047 {
		t.Fatalf("oversized: %v", err)
	}
	// Everyone else is still served.
	if got := queryStrings(t, good, "SELECT name FROM items ORDER BY id"); got[0] != "alpha-apple" {
		t.Fatal(got)
	}
}

// TestMySQLConcurrentClients runs more clients than backend connections
// with text and binary protocols, in and out of transactions.
func TestMySQLConcurrentClients(t *testing.T) {
	f := newMyFixture(t, "{size: 3, timeout: 10s}", "")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			params := "interpolateParams=false"
			if i%2 == 1 {
				params = "interpolateParams=true"
			}
			db, err := sql.Open("mysql", f.rp.myDSN("bob", "bob-pw", "beta", params))
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			for j := 0; j < 20; j++ {
				var n int
				if err := db.QueryRow("SELECT COUNT(*) FROM items WHERE id <= ?", 3).Scan(&n); err != nil || n != 3 {
					errs <- fmt.Errorf("client %d: %v %d", i, err, n)
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
}
