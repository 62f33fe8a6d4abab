package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startReplica makes a streaming replica of primary with pg_basebackup and
// starts it on a free port.
func startReplica(t testing.TB, primary *throwawayPG) *throwawayPG {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "tp-pgr-")
	if err != nil {
		t.Fatal(err)
	}
	r := &throwawayPG{bin: primary.bin, dir: dir, port: port}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	r.run(t, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", filepath.Join(dir, "data"), "-R", "-X", "stream", "--no-sync")
	t.Cleanup(func() {
		_ = r.cmd("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	r.start(t)
	return r
}

// TestPGReadReplicaRouting runs reads outside transactions on a streaming
// replica and everything else on the primary, keeps a session on the
// primary right after it wrote, and keeps reads working when either side is
// down.
func TestPGReadReplicaRouting(t *testing.T) {
	requirePostgres(t)
	primary := startThrowawayPG(t)
	ctx := context.Background()
	pc, err := pgx.Connect(ctx, primary.dsn())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, name text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Exec(ctx, "INSERT INTO items VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	pc.Close(ctx)
	replica := startReplica(t, primary)
	rp := startProxy(t, fmt.Sprintf(`
health: {interval: 200ms}
tenants:
  - {id: rr, engine: postgres, dsn: %q, replicas: [%q], read_after_write: 500ms,
     pool: {size: 4, timeout: 1s}, breaker: {threshold: 2, timeout: 1s}}
users:
  - {name: u, password: pw, tenants: {rr: editor}}
`, primary.dsn(), replica.dsn()))
	c := rp.connect(t, "u", "pw", "rr")
	onReplica := func(mode pgx.QueryExecMode) bool {
		t.Helper()
		var in bool
		if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()", mode).Scan(&in); err != nil {
			t.Fatalf("read: %v", err)
		}
		return in
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		if !onReplica(mode) {
			t.Fatalf("a read outside a transaction (%v) ran on the primary", mode)
		}
	}
	// Longer batches (Parse, Bind, Describe, Execute, Sync in one write):
	// the proxy reads a client's next bytes into a small buffer first, and
	// sees the Sync of a batch that goes past it, whether the buffer ends
	// within the Parse or within a later message.
	for _, n := range []int{300, 495, 497, 500, 1500, 9000} {
		sql := "SELECT pg_is_in_recovery() WHERE '" + strings.Repeat("x", n-len("SELECT pg_is_in_recovery() WHERE '' <> ''")) + "' <> ''"
		var in bool
		if err := c.QueryRow(ctx, sql, pgx.QueryExecModeExec).Scan(&in); err != nil {
			t.Fatalf("read of %d bytes: %v", len(sql), err)
		}
		if !in {
			t.Fatalf("a read outside a transaction, %d bytes of SQL in one batch, ran on the primary", len(sql))
		}
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var in bool
	if err := tx.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&in); err != nil || in {
		t.Fatalf("a read inside a transaction ran on the replica (%v)", err)
	}
	_ = tx.Rollback(ctx)
	// A write goes to the primary, and the next reads too for a while.
	if _, err := c.Exec(ctx, "INSERT INTO items VALUES (2, 'two')"); err != nil {
		t.Fatalf("write: %v", err)
	}
	var name string
	if err := c.QueryRow(ctx, "SELECT name FROM items WHERE id = 2").Scan(&name); err != nil || name != "two" {
		t.Fatalf("read your write: %q %v", name, err)
	}
	if onReplica(pgx.QueryExecModeCacheStatement) {
		t.Fatal("a read right after a write ran on the replica")
	}
	time.Sleep(600 * time.Millisecond)
	if !onReplica(pgx.QueryExecModeCacheStatement) {
		t.Fatal("reads did not go back to the replica after the read-after-write window")
	}

	// The replica dies: reads fall back to the primary.
	replica.kill(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var in bool
		err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()", pgx.QueryExecModeSimpleProtocol).Scan(&in)
		if err == nil && !in {
			break
		}
		if err != nil && c.IsClosed() {
			c = rp.connect(t, "u", "pw", "rr")
		}
		if time.Now().After(deadline) {
			t.Fatalf("reads never fell back to the primary: %v", err)
		}
	}
	// The primary dies, the replica is back: reads work on the replica,
	// writes fail fast.
	replica.start(t)
	primary.kill(t)
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, err := c.Exec(ctx, "INSERT INTO items VALUES (3, 'three')", pgx.QueryExecModeSimpleProtocol)
		if err != nil && sqlstate(err) == "57P03" {
			break
		}
		if err != nil && c.IsClosed() {
			c = rp.connect(t, "u", "pw", "rr")
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes never failed fast with the primary down: %v", err)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		var n int
		err := c.QueryRow(ctx, "SELECT count(*) FROM items", pgx.QueryExecModeSimpleProtocol).Scan(&n)
		if err == nil && n == 2 {
			break
		}
		if err != nil && c.IsClosed() {
			c = rp.connect(t, "u", "pw", "rr")
		}
		if time.Now().After(deadline) {
			t.Fatalf("reads stopped with the primary down: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
