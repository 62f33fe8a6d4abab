package test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// requireTool skips (or fails under CI=true) when a client program is missing.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// runTool runs a client program with a timeout and returns its combined output.
func runTool(t testing.TB, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (rp *runningProxy) pgEnv(user, password, tenant string) []string {
	host, port, _ := net.SplitHostPort(rp.PGAddr)
	return []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=" + user, "PGPASSWORD=" + password, "PGDATABASE=" + tenant, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=5"}
}

func TestPsqlThroughProxy(t *testing.T) {
	psql := requireTool(t, "psql")
	f := newPGFixture(t, "", "")
	env := f.rp.pgEnv("alice", "alice-pw", "alpha")
	out, err := runTool(t, 30*time.Second, env, psql, "-X", "-v", "ON_ERROR_STOP=1", "-c", `\dt`, "-c", `\d items`, "-c", "SELECT name FROM items ORDER BY id")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	for _, want := range []string{"items", "table", "name", "text", "alpha-apple", "alpha-avocado", "(2 rows)"} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "beta-") {
		t.Fatalf("psql on alpha shows beta's data:\n%s", out)
	}
	// An error gives psql the SQLSTATE and message.
	out, err = runTool(t, 30*time.Second, append(env, "PGUSER=bob", "PGPASSWORD=bob-pw", "PGDATABASE=alpha"), psql, "-X", "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, `tenant "alpha" does not exist or user "bob" holds no role on it`) {
		t.Fatalf("psql as bob on alpha: %v\n%s", err, out)
	}
	// Multi-statement scripts with transactions, as psql -f sends them.
	script := "BEGIN;\nCREATE TABLE psql_t (v int);\nINSERT INTO psql_t SELECT generate_series(1, 10);\nCOMMIT;\nSELECT sum(v) FROM psql_t;\n"
	out, err = runTool(t, 30*time.Second, env, "bash", "-c", "printf '"+script+"' | "+psql+" -X -v ON_ERROR_STOP=1 -At")
	if err != nil || !strings.Contains(out, "55") {
		t.Fatalf("psql script: %v\n%s", err, out)
	}
}

var pgbenchFailed = regexp.MustCompile(`number of failed transactions: (\d+)`)
var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+)`)

// TestPgbenchThroughProxy initialises pgbench tables through the proxy, then
// runs the select-only and default scripts in every query mode with more
// clients than backend connections.
func TestPgbenchThroughProxy(t *testing.T) {
	pgbench := requireTool(t, "pgbench")
	f := newPGFixture(t, "{size: 3, timeout: 10s}", "")
	env := f.rp.pgEnv("alice", "alice-pw", "alpha")
	out, err := runTool(t, 2*time.Minute, env, pgbench, "-i", "-s", "1", "-q")
	if err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	for _, mode := range []string{"simple", "extended", "prepared"} {
		for _, script := range [][]string{{"-S"}, {}} {
			args := append([]string{"-n", "-c", "8", "-j", "2", "-t", "60", "-M", mode}, script...)
			out, err := runTool(t, 2*time.Minute, env, pgbench, args...)
			name := mode + map[bool]string{true: " select-only", false: " tpcb-like"}[len(script) > 0]
			if err != nil {
				t.Fatalf("pgbench %s: %v\n%s", name, err, out)
			}
			m := pgbenchFailed.FindStringSubmatch(out)
			if m == nil || m[1] != "0" {
				t.Fatalf("pgbench %s: failed transactions in\n%s", name, out)
			}
			if !strings.Contains(out, "number of transactions actually processed: 480/480") {
				t.Fatalf("pgbench %s did not finish every transaction:\n%s", name, out)
			}
			if tps := pgbenchTPS.FindStringSubmatch(out); tps != nil {
				t.Logf("pgbench %s: %s tps", name, tps[1])
			}
		}
	}
	st, _ := f.rp.Server.Tenants()[0].PoolStats()
	if st.Total > 3 {
		t.Fatalf("pool opened %d connections, size is 3", st.Total)
	}
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }
