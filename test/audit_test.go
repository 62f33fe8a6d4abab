package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// withAudit gives a running proxy an audit log at path (as cmd/tenantproxy
// wires one from the config key audit) and returns it.
func withAudit(t *testing.T, p *proxy.Server, reg prometheus.Registerer, cfg proxy.AuditConfig) *proxy.AuditLog {
	t.Helper()
	a, err := proxy.NewAuditLog(cfg, io.Discard, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p.SetAudit(a)
	t.Cleanup(func() {
		p.SetAudit(nil)
		_ = a.Close()
	})
	return a
}

// auditLines reads the JSON lines of an audit file.
func auditLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// waitLines waits until the audit file holds at least n lines.
func waitLines(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := auditLines(t, path)
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log has %d lines, want %d: %v", len(lines), n, lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findLine returns the first line whose fields match want.
func findLine(t *testing.T, lines []map[string]any, want map[string]any) map[string]any {
	t.Helper()
next:
	for _, l := range lines {
		for k, v := range want {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		return l
	}
	t.Fatalf("no audit line with %v in:\n%s", want, dumpLines(lines))
	return nil
}

func dumpLines(lines []map[string]any) string {
	var b strings.Builder
	for _, l := range lines {
		raw, _ := json.Marshal(l)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// errorsTotal reads tenantproxy_errors_total{tenant,sqlstate,category}.
func errorsTotal(t *testing.T, p *proxy.Server, tenant, sqlstate, category string) float64 {
	t.Helper()
	var m dto.Metric
	if err := p.Metrics.Errors.WithLabelValues(tenant, sqlstate, category).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestAuditPostgres(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "audit")
	pgExec(t, db, "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)",
		"INSERT INTO items (name) VALUES ('apple'), ('avocado'), ('banana')")
	path := filepath.Join(t.TempDir(), "audit.log")
	// The config keys load (the harness does not wire the log: withAudit does).
	rp := startProxy(t, fmt.Sprintf(`
audit: {path: %q, log_literals: false}
alerts: {webhook_url: "", error_rate_threshold: 0}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 2},
     roles: {viewer: {max_rows: 2}}}
users:
  - {name: ed, password: ed-pw, tenants: {alpha: editor}}
  - {name: ann, password: ann-pw, tenants: {alpha: analyst}}
  - {name: vic, password: vic-pw, tenants: {alpha: viewer}}
`, path, db))
	a := withAudit(t, rp.Server, nil, proxy.AuditConfig{Path: path})
	ctx := context.Background()

	ed := rp.connect(t, "ed", "ed-pw", "alpha")
	// Simple protocol: a statement carrying a literal.
	if _, err := ed.Exec(ctx, "INSERT INTO items (name) VALUES ('literal-secret-1'), ('literal-secret-2')", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	// Extended protocol with a bound parameter: one line for the batch.
	tag, err := ed.Exec(ctx, "UPDATE items SET name = name || '!' WHERE name LIKE $1", "a%")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("update: %v %v", tag, err)
	}
	// A backend error.
	if _, err := ed.Exec(ctx, "SELECT 1/0", pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("1/0 succeeded")
	}
	ann := rp.connect(t, "ann", "ann-pw", "alpha")
	// A refusal by policy.
	if _, err := ann.Exec(ctx, "DELETE FROM items WHERE name = 'literal-secret-3'", pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("analyst DELETE succeeded")
	}
	// A rewritten read (viewer: LIMIT injected), rows counted.
	vic := rp.connect(t, "vic", "vic-pw", "alpha")
	rows, err := vic.Query(ctx, "SELECT name FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 2 {
		t.Fatalf("viewer got %d rows", n)
	}

	lines := waitLines(t, path, 5)
	ins := findLine(t, lines, map[string]any{"user": "ed", "kind": "INSERT"})
	for k, want := range map[string]any{"protocol": "postgres", "tenant": "alpha", "role": "editor", "class": "write",
		"rows": 2, "error": "", "rewritten": false} {
		if fmt.Sprint(ins[k]) != fmt.Sprint(want) {
			t.Errorf("insert line: %s = %v, want %v", k, ins[k], want)
		}
	}
	if c, _ := ins["client"].(string); !strings.HasPrefix(c, "127.0.0.1:") {
		t.Errorf("client = %v", ins["client"])
	}
	if d, ok := ins["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("duration_ms = %v", ins["duration_ms"])
	}
	findLine(t, lines, map[string]any{"user": "ed", "kind": "UPDATE", "rows": 2, "class": "write"})
	findLine(t, lines, map[string]any{"user": "ed", "kind": "SELECT", "error": "22012", "error_category": "backend"})
	findLine(t, lines, map[string]any{"user": "ann", "role": "analyst", "kind": "DELETE", "error": "42501", "error_category": "policy"})
	findLine(t, lines, map[string]any{"user": "vic", "role": "viewer", "kind": "SELECT", "rows": 2, "rewritten": true, "class": "read"})
	raw, _ := os.ReadFile(path)
	for _, secret := range []string{"literal-secret", "items", "1/0", "a%"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the audit log holds SQL text %q without log_literals:\n%s", secret, raw)
		}
	}

	// Rotation: rename the file, reopen (what SIGHUP does), new lines go
	// to a new file at the configured path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := ed.Exec(ctx, "SELECT count(*) FROM items"); err != nil {
		t.Fatal(err)
	}
	fresh := waitLines(t, path, 1)
	if len(fresh) != 1 || fresh[0]["kind"] != "SELECT" || fmt.Sprint(fresh[0]["rows"]) != "1" {
		t.Fatalf("after reopen: %s", dumpLines(fresh))
	}
	if old := auditLines(t, path+".1"); len(old) != len(lines) {
		t.Fatalf("the rotated file changed: %d lines, had %d", len(old), len(lines))
	}
}

func TestAuditMySQL(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "audit")
	myExec(t, db, "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL)",
		"INSERT INTO items (name) VALUES ('apple'), ('avocado'), ('banana')")
	path := filepath.Join(t.TempDir(), "audit.log")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2}}
users:
  - {name: ed, password: ed-pw, tenants: {beta: editor}}
  - {name: ann, password: ann-pw, tenants: {beta: analyst}}
`, db))
	withAudit(t, rp.Server, nil, proxy.AuditConfig{Path: path, Fingerprint: true})
	ctx := context.Background()

	ed := rp.myOpen(t, "ed", "ed-pw", "beta", "")
	// Text protocol: affected rows.
	res, err := ed.ExecContext(ctx, "INSERT INTO items (name) VALUES ('literal-secret-1'), ('literal-secret-2')")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("affected %d", n)
	}
	// Binary protocol (server-side prepared statement): rows sent.
	if got := queryStrings(t, ed, "SELECT name FROM items WHERE name LIKE ?", "a%"); len(got) != 2 {
		t.Fatalf("prepared select: %v", got)
	}
	// Backend error.
	_, err = ed.ExecContext(ctx, "SELECT * FROM no_such_table")
	wantMyErr(t, err, 1146, "missing table")
	// Refusals: by policy, on the text and the prepared path.
	ann := rp.myOpen(t, "ann", "ann-pw", "beta", "")
	_, err = ann.ExecContext(ctx, "DELETE FROM items WHERE name = 'literal-secret-3'")
	wantMyErr(t, err, 1142, "analyst delete")
	_, err = ann.ExecContext(ctx, "UPDATE items SET name = ? WHERE id = 1", "literal-secret-4")
	wantMyErr(t, err, 1142, "analyst prepared update")

	lines := waitLines(t, path, 5)
	ins := findLine(t, lines, map[string]any{"user": "ed", "kind": "INSERT"})
	for k, want := range map[string]any{"protocol": "mysql", "tenant": "beta", "role": "editor", "class": "write",
		"rows": 2, "error": "", "fingerprint": "INSERT INTO items (name) VALUES (?), (?)"} {
		if fmt.Sprint(ins[k]) != fmt.Sprint(want) {
			t.Errorf("insert line: %s = %v, want %v", k, ins[k], want)
		}
	}
	findLine(t, lines, map[string]any{"user": "ed", "kind": "SELECT", "rows": 2, "class": "read",
		"fingerprint": "SELECT name FROM items WHERE name LIKE ?"})
	findLine(t, lines, map[string]any{"user": "ed", "kind": "SELECT", "error": "1146", "error_category": "backend"})
	findLine(t, lines, map[string]any{"user": "ann", "kind": "DELETE", "error": "1142", "error_category": "policy",
		"fingerprint": "DELETE FROM items WHERE name = ?"})
	findLine(t, lines, map[string]any{"user": "ann", "kind": "UPDATE", "error": "1142", "error_category": "policy"})
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "literal-secret") || strings.Contains(string(raw), `"sql"`) {
		t.Errorf("literals in the audit log with fingerprint only:\n%s", raw)
	}
}

// TestAuditAPI checks that statements the admin API runs are audited like
// a wire client's, with protocol http and the caller's address.
func TestAuditAPI(t *testing.T) {
	a := startShops(t, "")
	path := filepath.Join(t.TempDir(), "audit.log")
	withAudit(t, a.Proxy, prometheus.NewRegistry(), proxy.AuditConfig{Path: path})
	tok := a.login(t, "alice", "alice-secret", "alpha")
	if r := a.ask(t, tok, "how many customers"); r.Status != 200 {
		t.Fatalf("question: %d %s", r.Status, r.Body)
	}
	r := a.call(t, "POST", "/api/v1/tenant/query/export?export_format=csv", tok, map[string]any{"sql": "DELETE FROM customer"})
	if r.Status < 400 {
		t.Fatalf("a write through the export API: %d", r.Status)
	}
	lines := waitLines(t, path, 2)
	ok := findLine(t, lines, map[string]any{"protocol": "http", "tenant": "alpha", "user": "alice", "class": "read"})
	if !strings.HasPrefix(fmt.Sprint(ok["client"]), "127.0.0.1:") || fmt.Sprint(ok["error"]) != "" && ok["error"] != nil {
		t.Fatalf("API statement line: %v", ok)
	}
	if _, has := ok["sql"]; has {
		t.Fatalf("SQL text logged by default: %v", ok)
	}
	findLine(t, lines, map[string]any{"protocol": "http", "error": "42501"})
}
