package test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// limitedProxy is the proxy binary started under `ulimit -n nofile`.
type limitedProxy struct {
	cmd    *exec.Cmd
	pgAddr string
	mu     sync.Mutex
	logs   strings.Builder
	exited chan struct{}
}

func (lp *limitedProxy) log() string {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.logs.String()
}

func (lp *limitedProxy) alive() bool {
	select {
	case <-lp.exited:
		return false
	default:
		return lp.cmd.Process.Signal(syscall.Signal(0)) == nil
	}
}

func startLimitedProxy(t *testing.T, nofile int, yaml string) *limitedProxy {
	t.Helper()
	bin := proxyBinary(t)
	lp := &limitedProxy{pgAddr: freeAddr(t), exited: make(chan struct{})}
	cfg := fmt.Sprintf("listen: {postgres: %q, mysql: \"\", admin: \"\"}\n%s", lp.pgAddr, yaml)
	if strings.HasPrefix(yaml, "listen:") {
		cfg = yaml // the caller's own listeners
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// RLIMIT_NOFILE is set on the child only; exec keeps the pid.
	lp.cmd = exec.Command("sh", "-c", fmt.Sprintf("ulimit -n %d && exec %s --config %s", nofile, bin, path))
	stderr, _ := lp.cmd.StderrPipe()
	if err := lp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lp.mu.Lock()
			lp.logs.WriteString(sc.Text() + "\n")
			lp.mu.Unlock()
		}
		_ = lp.cmd.Wait()
		close(lp.exited)
	}()
	t.Cleanup(func() { _ = lp.cmd.Process.Kill() })
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(lp.log(), "msg=started") {
		if time.Now().After(deadline) || !lp.alive() {
			t.Fatalf("proxy did not start:\n%s", lp.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return lp
}

// holdConns opens n plain TCP connections (no protocol) from local
// address from ("" for any) and keeps them open until the test ends.
func holdConns(t *testing.T, addr, from string, n int) []net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	var conns []net.Conn
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue // the backlog may be full: that is the attack working
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return conns
}

// connectRetry connects with pgx until it works or the time is up.
func connectRetry(t *testing.T, url string, within time.Duration) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			t.Cleanup(func() { _ = c.Close(context.Background()) })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("a legitimate client cannot connect: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestOpsAcceptSurvivesFDExhaustion: under `ulimit -n 40`, 80 plain TCP
// connects exhaust the proxy's descriptors; the process backs off, stays
// up, and serves a legitimate client once they are gone.
func TestOpsAcceptSurvivesFDExhaustion(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opsfd")
	lp := startLimitedProxy(t, 40, fmt.Sprintf(`
proxy: {max_unauthenticated_per_source: -1}
tenants: [{id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 2}}]
users: [{name: u, password: pw, tenants: {shop: analyst}}]
`, db))
	conns := holdConns(t, lp.pgAddr, "", 80)
	time.Sleep(1500 * time.Millisecond)
	if !lp.alive() {
		t.Fatalf("the proxy died under descriptor exhaustion (%d connections):\n%s", len(conns), lp.log())
	}
	if !strings.Contains(lp.log(), "accept_failed") || !strings.Contains(lp.log(), "too many open files") {
		t.Fatalf("descriptors were not exhausted (the test proves nothing):\n%s", lp.log())
	}
	for _, c := range conns {
		_ = c.Close()
	}
	c := connectRetry(t, fmt.Sprintf("postgres://u:pw@%s/shop?sslmode=disable", lp.pgAddr), 10*time.Second)
	var one int
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 after the attack: %d, %v", one, err)
	}
	if !lp.alive() {
		t.Fatalf("the proxy exited:\n%s", lp.log())
	}
}

// readRefusal reads what the proxy sends a connection it refuses: a FATAL
// ErrorResponse, then EOF.
func readRefusal(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("want a refusal and EOF, got %v (%q)", err, b)
	}
	if len(b) == 0 || b[0] != 'E' {
		t.Fatalf("want an ErrorResponse, got %q", b)
	}
	return string(b)
}

// TestOpsConnectionCaps: proxy.max_unauthenticated_per_source refuses one
// address's connections past the cap with an error saying why, while other
// addresses and logged-in clients are served; proxy.max_client_connections
// caps all connections with 53300.
func TestOpsConnectionCaps(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opscaps")
	lp := startLimitedProxy(t, 1024, fmt.Sprintf(`
proxy: {max_unauthenticated_per_source: 4, max_client_connections: 8}
tenants: [{id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 2}}]
users: [{name: u, password: pw, tenants: {shop: analyst}}]
`, db))
	url := fmt.Sprintf("postgres://u:pw@%s/shop?sslmode=disable", lp.pgAddr)
	// A logged-in client does not count against its address.
	logged := connectRetry(t, url, 5*time.Second)
	held := holdConns(t, lp.pgAddr, "127.0.0.2", 4)
	if len(held) != 4 {
		t.Fatalf("%d connections", len(held))
	}
	time.Sleep(200 * time.Millisecond)
	extra := holdConns(t, lp.pgAddr, "127.0.0.2", 1)
	if msg := readRefusal(t, extra[0]); !strings.Contains(msg, "not logged in yet") || !strings.Contains(msg, "53300") {
		t.Fatalf("refusal: %q", msg)
	}
	// Another address still gets in, and the logged-in client works.
	other := connectRetry(t, url, 5*time.Second)
	if _, err := logged.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// 1 + 4 + 1 connections: two more reach the global cap of 8.
	holdConns(t, lp.pgAddr, "127.0.0.3", 2)
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, url)
	if pgCode(err) != "53300" || !strings.Contains(err.Error(), "max_client_connections") {
		t.Fatalf("past the global cap: want 53300, got %v", err)
	}
	// Closing the unauthenticated ones frees room.
	for _, c := range held {
		_ = c.Close()
	}
	connectRetry(t, url, 5*time.Second)
	_ = other
	if !lp.alive() {
		t.Fatalf("proxy exited:\n%s", lp.log())
	}
}

// TestOpsConnectionCapsMySQL: past the cap a MySQL client gets error 1040
// in place of the handshake, as from a server past max_connections.
func TestOpsConnectionCapsMySQL(t *testing.T) {
	requireMySQL(t)
	mydb := tempMyDatabase(t, "opscapmy")
	myAddr := freeAddr(t)
	lp := startLimitedProxy(t, 1024, fmt.Sprintf(`listen: {postgres: "", mysql: %q, admin: ""}
proxy: {max_unauthenticated_per_source: 2}
tenants: [{id: shop, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}]
users: [{name: u, password: pw, tenants: {shop: analyst}}]
`, myAddr, mydb))
	held := holdConns(t, myAddr, "", 2)
	time.Sleep(200 * time.Millisecond)
	db, err := sql.Open("mysql", fmt.Sprintf("u:pw@tcp(%s)/shop?timeout=5s", myAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantMyErr(t, db.PingContext(context.Background()), 1040, "past max_unauthenticated_per_source")
	for _, c := range held {
		_ = c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("after the held connections closed: %v", err)
	}
	if !lp.alive() {
		t.Fatal("proxy exited")
	}
}
