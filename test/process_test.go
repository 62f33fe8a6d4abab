package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// proxyBinary builds cmd/tenantproxy once per test run.
func proxyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tenantproxy-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tenantproxy")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/tenantproxy").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proxyProcess is tenantproxy running as its own process.
type proxyProcess struct {
	cmd       *exec.Cmd
	pgAddr    string
	adminAddr string
	myAddr    string
	cfgPath   string
	listen    string // the listen line of the config file
	logs      *strings.Builder
	mu        sync.Mutex
	done      chan error
}

func startProxyProcess(t testing.TB, tenantsYAML string, withMySQL ...bool) *proxyProcess {
	t.Helper()
	bin := proxyBinary(t)
	pp := &proxyProcess{pgAddr: freeAddr(t), logs: &strings.Builder{}, done: make(chan error, 1)}
	pp.adminAddr = freeAddr(t)
	if len(withMySQL) > 0 && withMySQL[0] {
		pp.myAddr = freeAddr(t)
	}
	pp.listen = fmt.Sprintf("listen: {postgres: %q, mysql: %q, admin: %q}\n", pp.pgAddr, pp.myAddr, pp.adminAddr)
	cfg := pp.listen + tenantsYAML
	path := filepath.Join(t.TempDir(), "config.yaml")
	pp.cfgPath = path
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pp.cmd = exec.Command(bin, "--config", path)
	stderr, _ := pp.cmd.StderrPipe()
	if err := pp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			pp.mu.Lock()
			pp.logs.WriteString(sc.Text() + "\n")
			pp.mu.Unlock()
		}
		pp.done <- pp.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = pp.cmd.Process.Kill()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("tcp", pp.pgAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not start:\n%s", pp.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pp
}

func (pp *proxyProcess) log() string {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.logs.String()
}

func (pp *proxyProcess) url(user, pw, tenant string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, pw, pp.pgAddr, tenant)
}

// rssKB reads a /proc/<pid>/status field (VmRSS, VmHWM) in kB.
func rssKB(t testing.TB, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestPGLargeResultBoundedMemory streams 2,000,000 rows through the proxy
// process and checks its peak RSS grows by less than 100 MB.
func TestPGLargeResultBoundedMemory(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "mem")
	pp := startProxyProcess(t, fmt.Sprintf(`
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}]
users: [{name: alice, password: pw, tenants: {alpha: admin}}]
`, db))
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pp.url("alice", "pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	idle := rssKB(t, pp.cmd.Process.Pid, "VmRSS")
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		rows, err := c.Query(ctx, "SELECT g, repeat('x', 40) || g FROM generate_series(1, 2000000) g", mode)
		if err != nil {
			t.Fatal(err)
		}
		var n, sum int64
		for rows.Next() {
			var g int64
			var s string
			if err := rows.Scan(&g, &s); err != nil {
				t.Fatal(err)
			}
			n++
			sum += g
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if n != 2000000 || sum != 2000000*2000001/2 {
			t.Fatalf("got %d rows, sum %d", n, sum)
		}
	}
	peak := rssKB(t, pp.cmd.Process.Pid, "VmHWM")
	t.Logf("proxy RSS idle %d kB, peak %d kB (+%d kB) over two 2,000,000-row results", idle, peak, peak-idle)
	if peak-idle > 100*1024 {
		t.Fatalf("peak RSS grew by %d kB", peak-idle)
	}
}

// TestSIGTERMDrains checks that SIGTERM lets a running statement finish,
// refuses new clients and exits.
func TestSIGTERMDrains(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "drain")
	pp := startProxyProcess(t, fmt.Sprintf(`
proxy: {drain_timeout: 10s}
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}]
users: [{name: alice, password: pw, tenants: {alpha: admin}}]
`, db))
	ctx := context.Background()
	busy, err := pgx.Connect(ctx, pp.url("alice", "pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	idle, err := pgx.Connect(ctx, pp.url("alice", "pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idle.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		var n int
		res <- busy.QueryRow(ctx, "SELECT count(*) FROM (SELECT pg_sleep(0.001) FROM generate_series(1, 800)) s").Scan(&n)
	}()
	time.Sleep(300 * time.Millisecond)
	if err := pp.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("the running statement did not finish: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("running statement hung during drain")
	}
	select {
	case err := <-pp.done:
		if err != nil {
			t.Fatalf("proxy exited with %v\n%s", err, pp.log())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("proxy did not exit after SIGTERM\n%s", pp.log())
	}
	if _, err := idle.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("idle client still served after drain")
	}
	if _, err := pgx.Connect(ctx, pp.url("alice", "pw", "alpha")); err == nil {
		t.Fatal("new client accepted after drain")
	}
	if !strings.Contains(pp.log(), "msg=draining") || !strings.Contains(pp.log(), "msg=stopped") {
		t.Fatalf("drain not logged:\n%s", pp.log())
	}
}

func TestBinaryVersionAndBadConfig(t *testing.T) {
	bin := proxyBinary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "tenantproxy ") {
		t.Fatalf("--version: %v %s", err, out)
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(path, []byte("tenants: [{id: a, engine: oracle, dsn: x}]\n"), 0o600)
	out, err = exec.Command(bin, "--config", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `tenants[0].engine: unknown engine "oracle"`) {
		t.Fatalf("bad config: %v %s", err, out)
	}
	// A listen address in use fails the start, naming the key.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	good := filepath.Join(t.TempDir(), "good.yaml")
	_ = os.WriteFile(good, []byte(fmt.Sprintf(`listen: {postgres: %q, mysql: "", admin: ""}
tenants: [{id: a, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/a"}]
`, l.Addr().String())), 0o600)
	out, err = exec.Command(bin, "--config", good).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "listen.postgres: cannot listen on") {
		t.Fatalf("address in use: %v %s", err, out)
	}
	// hash-password prints a verifier the config accepts.
	cmd := exec.Command(bin, "hash-password")
	cmd.Stdin = strings.NewReader("s3cret\n")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "SCRAM-SHA-256$4096:") {
		t.Fatalf("hash-password: %v %s", err, out)
	}
}
