package proxy

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tenantproxy/tenantproxy/policy"
)

// TestProbeOnlyReads: a probe that is not one read statement never reaches
// the backend, whatever the role allows.
func TestProbeOnlyReads(t *testing.T) {
	pc, err := pgconn.ParseConfig("postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := policy.BuiltinRole("admin")
	tn := &Tenant{ID: "t", Engine: EnginePostgres, PGConfig: pc,
		Scope: policy.Scope{Tenant: "t", Isolation: policy.IsolationDatabase, Database: "none"},
		Roles: map[string]*policy.Role{"admin": &admin}}
	s, err := New(Config{Tenants: []*Tenant{tn}}, policy.NewEngine(10), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	ts, _ := s.Tenant("t")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := &tenantRun{s: s, t: ts, ctx: ctx, budget: time.Second, rep: &TenantReport{}}
	for _, sql := range []string{
		"DELETE FROM orders",
		"UPDATE orders SET amount = 0",
		"CREATE TABLE x (a int)",
		"SELECT 1; DELETE FROM orders",
		"SET search_path = other",
	} {
		res, err := r.probe(r.binding("admin"), sql, nil)
		if err == nil && (res == nil || res.refused == nil) {
			t.Errorf("%s: ran", sql)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "not a single read statement") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	if st, _ := ts.PoolStats(); st.Dials+st.DialErrors != 0 {
		t.Fatalf("a refused probe dialed the backend %d times", st.Dials+st.DialErrors)
	}
}
