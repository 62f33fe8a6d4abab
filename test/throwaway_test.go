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
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// throwawayPG is a PostgreSQL instance of the test's own, in a temporary
// directory on a free port, that the test may kill, pause and restart.
type throwawayPG struct {
	bin  string
	dir  string
	port int
}

// startThrowawayPG runs initdb and starts the instance (as the postgres
// user when the test runs as root).
func startThrowawayPG(t testing.TB) *throwawayPG {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("initdb is not installed")
		}
		t.Skip("initdb is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "tp-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg := &throwawayPG{bin: filepath.Dir(bins[0]), dir: dir, port: port}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	pg.run(t, "initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	t.Cleanup(func() {
		pg.signal(syscall.SIGCONT)
		_ = pg.cmd("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	pg.start(t)
	return pg
}

func (pg *throwawayPG) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(pg.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (pg *throwawayPG) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := pg.cmd(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (pg *throwawayPG) start(t testing.TB) {
	t.Helper()
	pg.run(t, "pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-w", "-l", filepath.Join(pg.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, pg.dir), "start")
}

// kill stops the instance at once, as a crash would.
func (pg *throwawayPG) kill(t testing.TB) {
	t.Helper()
	pg.run(t, "pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-m", "immediate", "stop")
}

// signal sends sig to every process of the instance.
func (pg *throwawayPG) signal(sig syscall.Signal) {
	b, err := os.ReadFile(filepath.Join(pg.dir, "data", "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return
	}
	_ = syscall.Kill(pid, sig)
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
	var children []int
	for _, f := range strings.Fields(string(out)) {
		if c, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(c, sig)
			children = append(children, c)
		}
	}
	if sig == syscall.SIGSTOP {
		waitStopped(pid)
		for _, c := range children {
			waitStopped(c)
		}
	}
}

func (pg *throwawayPG) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=1", pg.port)
}

// TestPGBackendKillPauseRestart kills, restarts and pauses a tenant's own
// Postgres while another tenant runs a steady load, and reports the times a
// closing note needs: backend death to fast failures, recovery to first
// success, and the other tenant's p99 against its baseline.
func TestPGBackendKillPauseRestart(t *testing.T) {
	requirePostgres(t)
	pg := startThrowawayPG(t)
	steadyDB := tempPGDatabase(t, "steady2")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: fragile, engine: postgres, dsn: %q, pool: {size: 4, timeout: 1s},
     breaker: {threshold: 3, timeout: 1s}, limits: {statement_timeout: 1s}}
  - {id: steady, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 4}}
users:
  - {name: u, password: pw, tenants: {fragile: admin, steady: admin}}
`, pg.dsn(), steadyDB))
	ctx := context.Background()
	load := startSteadyLoad(t, rp.pgURL("u", "pw", "steady"), 3)
	time.Sleep(time.Second)
	baseline := load.p99()

	query := func() (time.Duration, error) {
		start := time.Now()
		c, err := pgx.Connect(ctx, rp.pgURL("u", "pw", "fragile"))
		if err != nil {
			return time.Since(start), err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "SELECT 1")
		return time.Since(start), err
	}
	if _, err := query(); err != nil {
		t.Fatalf("before the faults: %v", err)
	}
	fastFailure := func(what string, since time.Time) {
		t.Helper()
		for time.Since(since) < 15*time.Second {
			d, err := query()
			if err == nil {
				continue
			}
			if sqlstate(err) == "57P03" && strings.Contains(err.Error(), "consecutive failures") && d < 100*time.Millisecond {
				t.Logf("%s: failures fast (%s) %s after the fault", what, d.Round(time.Millisecond), time.Since(since).Round(time.Millisecond))
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

	// Kill.
	load.reset()
	killed := time.Now()
	pg.kill(t)
	fastFailure("kill", killed)
	pg.start(t)
	recovery("kill", time.Now())

	// Pause: a statement in flight is cancelled by the statement timeout
	// and, the backend not answering, its connection is broken.
	c, err := pgx.Connect(ctx, rp.pgURL("u", "pw", "fragile"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	pg.signal(syscall.SIGSTOP)
	paused := time.Now()
	_, err = c.Exec(ctx, "SELECT 1")
	if err == nil || time.Since(paused) > 6*time.Second {
		t.Fatalf("statement on a paused backend: %v after %s", err, time.Since(paused))
	}
	t.Logf("pause: a statement in flight ended after %s: %v", time.Since(paused).Round(time.Millisecond), err)
	fastFailure("pause", paused)
	pg.signal(syscall.SIGCONT)
	recovery("pause", time.Now())

	p99, errs, n := load.stop()
	t.Logf("other tenant: %d queries, %d errors, p99 %s during the faults (baseline %s)", n, errs, p99.Round(time.Microsecond), baseline.Round(time.Microsecond))
	if errs != 0 {
		t.Fatalf("the other tenant saw %d errors", errs)
	}
}
