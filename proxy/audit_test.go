package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

func TestFingerprint(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    policy.Dialect
		in   string
		want string
	}{
		{"numbers and strings", policy.Postgres, "SELECT * FROM t WHERE id = 42 AND name = 'bob''s'", "SELECT * FROM t WHERE id = ? AND name = ?"},
		{"floats and exponents", policy.Postgres, "select 1.5, .5, 1e-5, 0x1F", "select ?, ?, ?, ?"},
		{"identifiers with digits", policy.Postgres, `SELECT t1.c2 FROM "Tab 3" t1`, `SELECT t1.c2 FROM "Tab 3" t1`},
		{"params kept", policy.Postgres, "SELECT $1, $2::int", "SELECT $1, $2::int"},
		{"dollar quotes", policy.Postgres, "DO $body$ secret 'x' $body$; SELECT $$also$$", "DO ?; SELECT ?"},
		{"escape strings", policy.Postgres, `SELECT E'a\'b', 'c'`, "SELECT ?, ?"},
		{"typed strings", policy.Postgres, "SELECT B'101', X'ff', N'nat', U&'d\\0061t'", "SELECT ?, ?, ?, ?"},
		{"comments dropped", policy.Postgres, "SELECT /* secret 1 /* nested */ */ a -- card 4111\nFROM t", "SELECT a FROM t"},
		{"white space collapsed", policy.Postgres, "SELECT\n\ta ,  b\n FROM   t", "SELECT a, b FROM t"},
		{"in list", policy.Postgres, "SELECT * FROM t WHERE x IN (1, 2, 3)", "SELECT * FROM t WHERE x IN (?, ?, ?)"},
		{"unterminated string", policy.Postgres, "SELECT 'never closed secret", "SELECT ?"},
		{"unterminated dollar", policy.Postgres, "SELECT $q$ secret", "SELECT ?"},
		{"mysql double quotes are strings", policy.MySQL, `SELECT "secret", 'x' FROM t`, "SELECT ?, ? FROM t"},
		{"mysql backslash escapes", policy.MySQL, `SELECT 'it\'s secret', a FROM t`, "SELECT ?, a FROM t"},
		{"mysql hash comment", policy.MySQL, "SELECT a # secret 42\nFROM t", "SELECT a FROM t"},
		{"mysql backticks", policy.MySQL, "SELECT `col 1` FROM `t`", "SELECT `col 1` FROM `t`"},
		{"mysql introducer", policy.MySQL, "SELECT _utf8mb4'secret'", "SELECT ?"},
		{"mysql placeholders", policy.MySQL, "INSERT INTO t VALUES (?, ?)", "INSERT INTO t VALUES (?, ?)"},
		{"negative number", policy.MySQL, "SELECT -5", "SELECT -?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Fingerprint(tc.d, tc.in); got != tc.want {
				t.Fatalf("Fingerprint(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzFingerprint checks that no string literal survives: the output never
// holds a quote that opens one ('...', and "..." in MySQL), and a marker in
// a literal after any complete statement is gone.
func FuzzFingerprint(f *testing.F) {
	for _, s := range []string{"SELECT 'a'", "SELECT a FROM t WHERE b = 'x''y'", "/* x */ SELECT E'\\''", "SELECT $q$ a $q$",
		"SELECT \"a\"", "SELECT `a`, 'b'", "SELECT 'it\\'s'", "-- c\nSELECT 1"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, sql string, my bool) {
		d := policy.Postgres
		if my {
			d = policy.MySQL
		}
		out := Fingerprint(d, sql)
		// (A quoted identifier may hold a quote: those outputs are skipped.)
		idents := strings.ContainsAny(out, "`") || (!my && strings.Contains(out, "\""))
		if !idents && (strings.Contains(out, "'") || (my && strings.Contains(out, "\""))) {
			t.Fatalf("a string literal leaked: %q -> %q", sql, out)
		}
		if len(out) > len(sql)+len(sql)/2+1 {
			t.Fatalf("fingerprint longer than its text: %q -> %q", sql, out)
		}
	})
}

func TestTagRows(t *testing.T) {
	for tag, want := range map[string]int64{
		"SELECT 5\x00": 5, "INSERT 0 12": 12, "UPDATE 3": 3, "DELETE 0": 0, "CREATE TABLE": 0,
		"COPY 1000": 1000, "MERGE 2": 2, "FETCH 7": 7, "": 0, "SET": 0, "BEGIN": 0,
		"SELECT 123456789012345678": 123456789012345678, "SELECT 9223372036854775807": 9223372036854775807,
		"SELECT 99999999999999999999": 0, "SELECT 007": 7, "SELECT5": 0,
	} {
		if got := TagRows([]byte(tag)); got != want {
			t.Errorf("TagRows(%q) = %d, want %d", tag, got, want)
		}
	}
}

// testBinding is a binding good enough for Record.
func testBinding(tenant, engine string) *Binding {
	role := &policy.Role{Name: "analyst", Access: policy.AccessRead}
	return &Binding{
		User:   &User{Name: "alice"},
		Tenant: &TenantState{Tenant: &Tenant{ID: tenant, Engine: engine}},
		Role:   role,
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestServer(t *testing.T, reg prometheus.Registerer) *Server {
	t.Helper()
	s, err := New(Config{}, policy.NewEngine(100), NewMetrics(reg), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRecordWritesAuditLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	for _, mode := range []string{"none", "fingerprint", "literals"} {
		t.Run(mode, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := newTestServer(t, reg)
			_ = os.Remove(path)
			cfg := AuditConfig{Path: path, Fingerprint: mode == "fingerprint", LogLiterals: mode == "literals"}
			a, err := NewAuditLog(cfg, nil, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			s.SetAudit(a)
			b := testBinding("alpha", EnginePostgres)
			var st Statement
			st.Begin(ProtocolPostgres, "127.0.0.1:5555", b)
			sql := "SELECT name FROM customers WHERE email = 'bob@example.com'"
			st.AddSQL(sql)
			st.Add(&policy.Decision{Stmts: []policy.Stmt{{Class: policy.ClassRead, Kind: "SELECT"}}, Rewritten: true}, "")
			st.Rows = 3
			s.Record(&st)
			// A refusal: no decision, an error.
			st.Begin(ProtocolMySQL, "127.0.0.1:6666", testBinding("beta", EngineMySQL))
			st.AddSQL("DROP TABLE secret_table_7")
			st.Fail(sqlerr.New(sqlerr.Permission, "denied"), "")
			s.Record(&st)
			// Nothing happened: nothing recorded.
			st.Begin(ProtocolPostgres, "x", b)
			s.Record(&st)
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			lines := readLines(t, path)
			if len(lines) != 2 {
				t.Fatalf("%d lines, want 2: %v", len(lines), lines)
			}
			l := lines[0]
			for k, want := range map[string]any{
				"protocol": "postgres", "user": "alice", "tenant": "alpha", "role": "analyst", "client": "127.0.0.1:5555",
				"kind": "SELECT", "class": "read", "rewritten": true, "rows": 3.0, "error": "",
			} {
				if l[k] != want {
					t.Errorf("line 1: %s = %v, want %v (%v)", k, l[k], want, l)
				}
			}
			if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
				t.Errorf("time: %v", err)
			}
			if _, ok := l["duration_ms"].(float64); !ok {
				t.Errorf("duration_ms missing: %v", l)
			}
			r := lines[1]
			if r["error"] != "1142" || r["error_category"] != "policy" || r["kind"] != "DROP" || r["class"] != "" {
				t.Errorf("refusal line: %v", r)
			}
			raw, _ := os.ReadFile(path)
			switch mode {
			case "none":
				if bytes.Contains(raw, []byte("customers")) || bytes.Contains(raw, []byte("secret_table_7")) {
					t.Errorf("SQL text logged without log_literals: %s", raw)
				}
			case "fingerprint":
				if l["fingerprint"] != "SELECT name FROM customers WHERE email = ?" || bytes.Contains(raw, []byte("bob@")) {
					t.Errorf("fingerprint: %v", l)
				}
				if _, ok := l["sql"]; ok {
					t.Error("sql logged in fingerprint mode")
				}
			case "literals":
				if l["sql"] != sql {
					t.Errorf("sql = %v", l["sql"])
				}
			}
			if n := counterValue(t, s.Metrics.Statements.WithLabelValues("alpha", "read")); n != 1 {
				t.Errorf("statements_total{alpha,read} = %v", n)
			}
			if n := counterValue(t, a.records); n != 2 {
				t.Errorf("audit records = %v", n)
			}
		})
	}
}

func TestAuditReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	reg := prometheus.NewRegistry()
	s := newTestServer(t, reg)
	a, err := NewAuditLog(AuditConfig{Path: path}, nil, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s.SetAudit(a)
	rec := func(kind string) {
		var st Statement
		st.Begin(ProtocolPostgres, "c", testBinding("alpha", EnginePostgres))
		st.Add(&policy.Decision{Stmts: []policy.Stmt{{Class: policy.ClassRead, Kind: kind}}}, "")
		s.Record(&st)
	}
	rec("ONE")
	waitFor(t, "first line", func() bool { return len(readLines(t, path)) == 1 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	rec("TWO") // still goes to the renamed file
	waitFor(t, "second line in the old file", func() bool { return len(readLines(t, path+".1")) == 2 })
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	rec("THREE")
	waitFor(t, "line in the new file", func() bool { _, err := os.Stat(path); return err == nil && len(readLines(t, path)) == 1 })
	if k := readLines(t, path)[0]["kind"]; k != "THREE" {
		t.Fatalf("new file holds %v", k)
	}
}

// blockingWriter stands for a stuck disk.
type blockingWriter struct {
	mu      sync.Mutex
	release chan struct{}
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestAuditDropsWhenTheWriterIsStuck(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newTestServer(t, reg)
	w := &blockingWriter{release: make(chan struct{})}
	a, err := NewAuditLog(AuditConfig{Path: "-", Buffer: 4}, w, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.SetAudit(a)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			var st Statement
			st.Begin(ProtocolPostgres, "c", testBinding("alpha", EnginePostgres))
			st.Add(&policy.Decision{Stmts: []policy.Stmt{{Class: policy.ClassRead, Kind: "SELECT"}}}, "")
			s.Record(&st)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked on a stuck audit writer")
	}
	dropped := counterValue(t, a.dropped)
	if dropped < 90 {
		t.Fatalf("dropped = %v, want most of 100 with a buffer of 4", dropped)
	}
	close(w.release)
	_ = a.Close()
	w.mu.Lock()
	n := strings.Count(w.buf.String(), "\n")
	w.mu.Unlock()
	if n+int(dropped) != 100 {
		t.Fatalf("written %d + dropped %v != 100", n, dropped)
	}
}

func TestAuditConfig(t *testing.T) {
	if a, err := NewAuditLog(AuditConfig{}, nil, nil, nil); a != nil || err != nil {
		t.Fatalf("empty path: %v %v", a, err)
	}
	var nilLog *AuditLog
	if err := nilLog.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := nilLog.Close(); err != nil {
		t.Fatal(err)
	}
	c := AuditConfig{LogLiterals: true}
	if err := c.CheckAndSetDefaults(); err == nil {
		t.Fatal("log_literals without a path accepted")
	}
	if _, err := NewAuditLog(AuditConfig{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "a.log")}, nil, nil, nil); err == nil {
		t.Fatal("unwritable path accepted")
	}
}

func TestErrorCategoryCoversEveryKind(t *testing.T) {
	for k := sqlerr.Kind(0); k <= sqlerr.ShuttingDown; k++ {
		cat := ErrorCategory("", &sqlerr.Error{Kind: k})
		if !slices.Contains(ErrorCategories, cat) {
			t.Errorf("kind %d: category %q is not one of %v", k, cat, ErrorCategories)
		}
		if cat == "internal" && k != sqlerr.Internal {
			t.Errorf("kind %d falls through to internal", k)
		}
	}
	for state, want := range map[string]string{"42P01": "backend", "23505": "backend", "57014": "canceled",
		"08006": "backend_unavailable", "57P01": "backend_unavailable", "70100": "canceled", "42000": "backend"} {
		if got := ErrorCategory(state, nil); got != want {
			t.Errorf("backend %s: %s, want %s", state, got, want)
		}
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
