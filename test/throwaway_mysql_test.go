package test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// throwawayMaria is a MariaDB instance of the test's own, in a temporary
// directory on a free port.
type throwawayMaria struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

func startThrowawayMaria(t testing.TB) *throwawayMaria {
	t.Helper()
	if _, err := exec.LookPath("mariadb-install-db"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mariadb-install-db is not installed")
		}
		t.Skip("mariadb-install-db is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "tp-my-")
	if err != nil {
		t.Fatal(err)
	}
	m := &throwawayMaria{dir: dir, port: port}
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		_ = exec.Command("chown", "mysql", dir).Run()
		args = append(args, "--user=mysql")
	}
	if out, err := exec.Command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		m.signal(syscall.SIGCONT)
		m.kill()
		os.RemoveAll(dir)
	})
	m.start(t)
	return m
}

func (m *throwawayMaria) start(t testing.TB) {
	t.Helper()
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(m.dir, "data"), "--port=" + strconv.Itoa(m.port),
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(m.dir, "sock"), "--pid-file=" + filepath.Join(m.dir, "pid"), "--skip-log-bin"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=mysql")
	}
	m.cmd = exec.Command("/usr/sbin/mariadbd", args...)
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func(c *exec.Cmd) { _ = c.Wait() }(m.cmd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		db, _ := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/?timeout=1s", m.port))
		err := db.Ping()
		db.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("throwaway MariaDB did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill stops the server at once, as a crash would.
func (m *throwawayMaria) kill() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), 100*time.Millisecond); err != nil {
				return
			} else {
				c.Close()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (m *throwawayMaria) signal(sig syscall.Signal) {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Signal(sig)
		if sig == syscall.SIGSTOP {
			waitStopped(m.cmd.Process.Pid)
		}
	}
}

// waitStopped waits (a little) until process pid is stopped, as signal
// delivery is asynchronous.
func waitStopped(pid int) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *throwawayMaria) exec(t testing.TB, sqls ...string) {
	t.Helper()
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/?timeout=2s&multiStatements=true", m.port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range sqls {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestMySQLBackendKillPauseRestart kills, restarts and pauses a tenant's own
// MariaDB while another MySQL tenant runs a steady load.
func TestMySQLBackendKillPauseRestart(t *testing.T) {
	requireMySQL(t)
	m := startThrowawayMaria(t)
	m.exec(t, "CREATE DATABASE fragile", "CREATE TABLE fragile.t (v int)", "INSERT INTO fragile.t VALUES (1)")
	steadyDB := tempMyDatabase(t, "mysteady")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: fragile, engine: mysql, dsn: "root@tcp(127.0.0.1:%d)/fragile?timeout=1s", pool: {size: 4, timeout: 1s},
     breaker: {threshold: 3, timeout: 1s}, limits: {statement_timeout: 1s}}
  - {id: steady, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 4}}
users:
  - {name: u, password: pw, tenants: {fragile: admin, steady: admin}}
`, m.port, steadyDB))
	ctx := context.Background()

	// Steady load on the other tenant.
	steady := rp.myOpen(t, "u", "pw", "steady", "")
	steady.SetMaxOpenConns(3)
	var errs, ok atomic.Int64
	var lat []time.Duration
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				var one int
				if err := steady.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
					errs.Add(1)
				} else {
					ok.Add(1)
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}

	query := func() (time.Duration, error) {
		start := time.Now()
		db, err := sql.Open("mysql", rp.myDSN("u", "pw", "fragile", ""))
		if err != nil {
			return 0, err
		}
		defer db.Close()
		var v int
		err = db.QueryRowContext(ctx, "SELECT v FROM t").Scan(&v)
		return time.Since(start), err
	}
	if _, err := query(); err != nil {
		t.Fatalf("before the faults: %v", err)
	}
	fast := func(what string, since time.Time) {
		t.Helper()
		for time.Since(since) < 15*time.Second {
			d, err := query()
			if err != nil && strings.Contains(err.Error(), "consecutive failures") && d < 200*time.Millisecond {
				code, state := myErr(t, err)
				t.Logf("%s: failures fast (%s, %d/%s) %s after the fault", what, d.Round(time.Millisecond), code, state, time.Since(since).Round(time.Millisecond))
				return
			}
		}
		t.Fatalf("%s: failures never became fast", what)
	}
	recovery := func(what string, since time.Time) {
		t.Helper()
		for time.Since(since) < 15*time.Second {
			if _, err := query(); err == nil {
				t.Logf("%s: first success %s after the backend came back", what, time.Since(since).Round(time.Millisecond))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: no success after the backend came back", what)
	}
	killed := time.Now()
	m.kill()
	fast("kill", killed)
	m.start(t)
	recovery("kill", time.Now())

	held, err := sql.Open("mysql", rp.myDSN("u", "pw", "fragile", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.SetMaxOpenConns(1)
	if err := held.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	m.signal(syscall.SIGSTOP)
	paused := time.Now()
	var v int
	err = held.QueryRowContext(ctx, "SELECT v FROM t").Scan(&v)
	if err == nil || time.Since(paused) > 8*time.Second {
		t.Fatalf("statement on a paused backend: %v after %s", err, time.Since(paused))
	}
	t.Logf("pause: a statement in flight ended after %s: %v", time.Since(paused).Round(time.Millisecond), err)
	fast("pause", paused)
	m.signal(syscall.SIGCONT)
	recovery("pause", time.Now())

	close(stop)
	wg.Wait()
	if errs.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("the other tenant saw %d errors (%d ok)", errs.Load(), ok.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	sortDurations(lat)
	t.Logf("other tenant: %d queries, 0 errors, p99 %s during the faults", len(lat), lat[len(lat)*99/100].Round(time.Microsecond))
}

// TestMySQLReadReplicaRouting routes reads outside transactions to a
// replica (a MariaDB of the test's own holding the same database) and
// everything else to the primary.
func TestMySQLReadReplicaRouting(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "myrr")
	myExec(t, db, "CREATE TABLE t (v int)")
	m := startThrowawayMaria(t)
	m.exec(t, "CREATE DATABASE "+db, "CREATE TABLE "+db+".t (v int)")
	rp := startProxy(t, fmt.Sprintf(`
health: {interval: 200ms}
tenants:
  - {id: rr, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", replicas: ["root@tcp(127.0.0.1:%d)/%s?timeout=1s"],
     read_after_write: 500ms, pool: {size: 4, timeout: 1s}, breaker: {threshold: 2, timeout: 1s}}
users:
  - {name: u, password: pw, tenants: {rr: editor}}
`, db, m.port, db))
	ctx := context.Background()
	for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
		c := rp.myOpen(t, "u", "pw", "rr", params)
		c.SetMaxOpenConns(1)
		port := func(q sqlQuerier) int {
			t.Helper()
			var p int
			if err := q.QueryRowContext(ctx, "SELECT @@port + ?", 0).Scan(&p); err != nil {
				t.Fatalf("%s: %v", params, err)
			}
			return p
		}
		if p := port(c); p != m.port {
			t.Fatalf("%s: a read outside a transaction ran on port %d", params, p)
		}
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := port(tx); p != 3306 {
			t.Fatalf("%s: a read inside a transaction ran on port %d", params, p)
		}
		_ = tx.Rollback()
		if _, err := c.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if p := port(c); p != 3306 {
			t.Fatalf("%s: a read right after a write ran on port %d", params, p)
		}
		time.Sleep(600 * time.Millisecond)
		if p := port(c); p != m.port {
			t.Fatalf("%s: reads did not go back to the replica: port %d", params, p)
		}
	}
	// The replica dies: reads fall back to the primary.
	m.kill()
	c := rp.myOpen(t, "u", "pw", "rr", "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var p int
		err := c.QueryRowContext(ctx, "SELECT @@port").Scan(&p)
		if err == nil && p == 3306 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reads never fell back to the primary: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sqlQuerier is a *sql.DB or *sql.Tx.
type sqlQuerier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}
