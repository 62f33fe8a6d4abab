package test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// alertSink is an httptest server standing in for the alert webhook.
type alertSink struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []proxy.Alert
}

func newAlertSink(t *testing.T) *alertSink {
	t.Helper()
	s := &alertSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a proxy.Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Errorf("alert body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.alerts = append(s.alerts, a)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// wait returns the first alert of event for tenant, waiting up to 10s.
func (s *alertSink) wait(t *testing.T, event, tenant string) proxy.Alert {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, a := range s.alerts {
			if a.Event == event && a.Tenant == tenant {
				s.mu.Unlock()
				return a
			}
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("no %s alert for %s; got %+v", event, tenant, s.alerts)
	return proxy.Alert{}
}

func (s *alertSink) count(event, tenant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.alerts {
		if a.Event == event && a.Tenant == tenant {
			n++
		}
	}
	return n
}

// withAlerts gives a running proxy an alerter posting to url.
func withAlerts(t *testing.T, p *proxy.Server, cfg proxy.AlertConfig) *proxy.Alerter {
	t.Helper()
	a, err := proxy.NewAlerter(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p.SetAlerts(a)
	t.Cleanup(func() {
		p.SetAlerts(nil)
		a.Close()
	})
	return a
}

// scrape returns the /metrics text of an admin server.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// TestAlertWebhookOnBreakerOpen takes a tenant's backend down behind a fault
// relay: its breaker opens, the webhook hears of it, /metrics, the system
// status and the tenant's health show it; when the backend is back the
// breaker closes and the webhook hears that too.
func TestAlertWebhookOnBreakerOpen(t *testing.T) {
	requirePostgres(t)
	flakyDB := tempPGDatabase(t, "alflaky")
	steadyDB := tempPGDatabase(t, "alsteady")
	relay := newFaultRelay(t, "127.0.0.1:5432")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: flaky, engine: postgres, dsn: "postgres://postgres@%s/%s?sslmode=disable&connect_timeout=2",
     pool: {size: 2, timeout: 2s}, breaker: {threshold: 2, timeout: 1s}}
  - {id: steady, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 2}}
users:
  - {name: ops, password: ops-pw, tenants: {flaky: admin, steady: admin}, operator: true}
`, relay.addr, flakyDB, steadyDB))
	sink := newAlertSink(t)
	withAlerts(t, api.Proxy, proxy.AlertConfig{WebhookURL: sink.URL, Backoff: 50 * time.Millisecond})
	ctx := context.Background()
	host, port := strings.Split(api.PGAddr, ":")[0], strings.Split(api.PGAddr, ":")[1]
	url := func(tenant string) string {
		return fmt.Sprintf("postgres://ops:ops-pw@%s:%s/%s?sslmode=disable", host, port, tenant)
	}
	c, err := pgx.Connect(ctx, url("flaky")) // learns the backend's parameters
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	metrics := scrape(t, api.URL)
	for _, want := range []string{`tenantproxy_breaker_state{tenant="flaky"} 0`, `tenantproxy_backend_health{state="up",tenant="flaky"} 1`,
		`tenantproxy_backend_health{state="down",tenant="flaky"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	relay.down()
	before := errorsTotal(t, api.Proxy, "flaky", "57P03", "backend_unavailable")
	var failures int
	for i := 0; i < 5; i++ {
		c2, err := pgx.Connect(ctx, url("flaky"))
		if err == nil {
			_, err = c2.Exec(ctx, "SELECT 1")
			_ = c2.Close(ctx)
		}
		if err != nil {
			failures++
		}
	}
	if failures != 5 {
		t.Fatalf("%d of 5 statements failed with the backend down", failures)
	}
	open := sink.wait(t, proxy.AlertBreakerOpen, "flaky")
	if open.From != "closed" || open.To != "open" || open.Health == nil || open.Health.State != "down" || open.Health.Breaker != "open" || open.Message == "" {
		t.Fatalf("breaker_open alert: %+v", open)
	}
	if got := errorsTotal(t, api.Proxy, "flaky", "57P03", "backend_unavailable") - before; got != 5 {
		t.Errorf("errors_total{flaky,57P03,backend_unavailable} grew by %v, want 5", got)
	}
	metrics = scrape(t, api.URL)
	for _, want := range []string{`tenantproxy_breaker_state{tenant="flaky"} 2`, `tenantproxy_backend_health{state="down",tenant="flaky"} 1`,
		`tenantproxy_backend_health{state="up",tenant="flaky"} 0`, `tenantproxy_breaker_state{tenant="steady"} 0`,
		`tenantproxy_breaker_transitions_total{tenant="flaky",to="open"} 1`,
		`tenantproxy_errors_total{category="backend_unavailable",sqlstate="57P03",tenant="flaky"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The status of every tenant (operators) and the tenant's health.
	tok := api.login(t, "ops", "ops-pw", "steady")
	r := api.call(t, "GET", "/api/v1/admin/status", tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("system status: %d %s", r.Status, r.Body)
	}
	var status struct {
		Tenants []struct {
			ID     string         `json:"tenant_id"`
			Pool   map[string]any `json:"pool"`
			Health struct {
				State, Reason, Breaker string
				Since                  time.Time
			} `json:"health"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal(r.Body, &status); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, ts := range status.Tenants {
		switch ts.ID {
		case "flaky":
			seen++
			if ts.Health.State != "down" || ts.Health.Breaker != "open" || ts.Health.Reason == "" || ts.Health.Since.IsZero() || ts.Pool == nil {
				t.Errorf("flaky in the status: %+v", ts)
			}
		case "steady":
			seen++
			if ts.Health.State != "up" || ts.Health.Breaker != "closed" {
				t.Errorf("steady in the status: %+v", ts)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("status: %s", r.Body)
	}
	ftok := api.login(t, "ops", "ops-pw", "flaky")
	h := api.call(t, "GET", "/api/v1/tenant/health", ftok, nil)
	hb := h.JSON(t)
	backend, _ := hb["backend"].(map[string]any)
	if h.Status != http.StatusServiceUnavailable || hb["status"] != "unhealthy" || backend["breaker"] != "open" || backend["state"] != "down" {
		t.Fatalf("flaky health: %d %s", h.Status, h.Body)
	}
	if h := api.call(t, "GET", "/api/v1/tenant/health", tok, nil); h.Status != http.StatusOK || !strings.Contains(string(h.Body), `"breaker":"closed"`) {
		t.Fatalf("steady health: %d %s", h.Status, h.Body)
	}

	// Back up: after the breaker's timeout a probe succeeds and closes it.
	relay.up(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c2, err := pgx.Connect(ctx, url("flaky"))
		if err == nil {
			_, err = c2.Exec(ctx, "SELECT 1")
			_ = c2.Close(ctx)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flaky never recovered: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	closed := sink.wait(t, proxy.AlertBreakerClosed, "flaky")
	if closed.To != "closed" || closed.Health == nil || closed.Health.Breaker != "closed" {
		t.Fatalf("breaker_closed alert: %+v", closed)
	}
	if n := sink.count(proxy.AlertBreakerOpen, "flaky"); n != 1 {
		t.Errorf("%d breaker_open alerts for one outage", n)
	}
	if !strings.Contains(scrape(t, api.URL), `tenantproxy_breaker_state{tenant="flaky"} 0`) {
		t.Error("breaker_state did not go back to 0")
	}
	if n := sink.count(proxy.AlertBreakerOpen, "steady"); n != 0 {
		t.Errorf("steady alerted")
	}
}

// TestErrorCategories sends errors of each category through both front
// ends and the admin API: each is counted once, under its tenant, SQLSTATE
// and category; the error rate crosses its threshold and alerts once.
func TestErrorCategories(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	pgDB := tempPGDatabase(t, "errcat")
	pgExec(t, pgDB, "CREATE TABLE items (id serial PRIMARY KEY, name text)", "INSERT INTO items (name) VALUES ('a')")
	myDB := tempMyDatabase(t, "errcat")
	myExec(t, myDB, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT)")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", pool: {size: 2},
     limits: {statement_timeout: 300ms}}
  - {id: lim, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%[1]s?sslmode=disable", pool: {size: 2},
     limits: {max_client_connections: 1}}
  - {id: gone, engine: postgres, dsn: "postgres://postgres@127.0.0.1:1/%[1]s?sslmode=disable&connect_timeout=1", pool: {size: 1, timeout: 1s}}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[2]s", pool: {size: 2}}
users:
  - {name: ann, password: ann-pw, tenants: {alpha: analyst, lim: analyst, gone: analyst, beta: analyst}}
  - {name: root, password: root-pw, tenants: {alpha: admin}}
`, pgDB, myDB))
	sink := newAlertSink(t)
	withAlerts(t, api.Proxy, proxy.AlertConfig{WebhookURL: sink.URL, ErrorRateThreshold: 0.05}) // 3 errors a minute
	ctx := context.Background()
	p := api.Proxy
	host, port := strings.Split(api.PGAddr, ":")[0], strings.Split(api.PGAddr, ":")[1]
	pgURL := func(user, pw, tenant string) string {
		return fmt.Sprintf("postgres://%s:%s@%s:%s/%s?sslmode=disable", user, pw, host, port, tenant)
	}
	pgConn := func(user, pw, tenant string) *pgx.Conn {
		c, err := pgx.Connect(ctx, pgURL(user, pw, tenant))
		if err != nil {
			t.Fatalf("connect %s: %v", tenant, err)
		}
		t.Cleanup(func() { _ = c.Close(ctx) })
		return c
	}
	expect := func(tenant, state, category string, n float64, do func()) {
		t.Helper()
		before := errorsTotal(t, p, tenant, state, category)
		do()
		if got := errorsTotal(t, p, tenant, state, category); got != before+n {
			t.Errorf("errors_total{tenant=%q,sqlstate=%q,category=%q} grew by %v, want %v", tenant, state, category, got-before, n)
		}
	}
	simple := pgx.QueryExecModeSimpleProtocol

	// Postgres front end.
	expect("", "28P01", "auth", 1, func() {
		if _, err := pgx.Connect(ctx, pgURL("ann", "wrong", "alpha")); err == nil {
			t.Fatal("wrong password accepted")
		}
	})
	ann := pgConn("ann", "ann-pw", "alpha")
	expect("alpha", "42501", "policy", 2, func() {
		_, _ = ann.Exec(ctx, "DELETE FROM items", simple)
		_, _ = ann.Exec(ctx, "DELETE FROM items WHERE id = $1", 1) // extended protocol
	})
	expect("alpha", "42601", "client_protocol", 1, func() { _, _ = ann.Exec(ctx, "SELEC 1", simple) })
	expect("alpha", "22012", "backend", 1, func() { _, _ = ann.Exec(ctx, "SELECT 1/0", simple) })
	root := pgConn("root", "root-pw", "alpha")
	expect("alpha", "57014", "timeout", 1, func() { _, _ = root.Exec(ctx, "SELECT pg_sleep(3)", simple) })
	_ = pgConn("ann", "ann-pw", "lim")
	expect("lim", "53300", "limit", 1, func() {
		if _, err := pgx.Connect(ctx, pgURL("ann", "ann-pw", "lim")); err == nil {
			t.Fatal("max_client_connections not enforced")
		}
	})
	expect("gone", "57P03", "backend_unavailable", 1, func() {
		if _, err := pgx.Connect(ctx, pgURL("ann", "ann-pw", "gone")); err == nil {
			t.Fatal("connected to a tenant without a backend")
		}
	})

	// MySQL front end.
	my, err := sql.Open("mysql", fmt.Sprintf("ann:ann-pw@tcp(%s)/beta?timeout=5s", api.MySQLAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	expect("beta", "42000", "policy", 1, func() { _, _ = my.ExecContext(ctx, "DELETE FROM items") })
	expect("beta", "42S02", "backend", 1, func() { _, _ = my.ExecContext(ctx, "SELECT * FROM no_such_table") })

	// Admin API: a statement error counted once (by the proxy core), and
	// errors of the API itself.
	tok := api.login(t, "ann", "ann-pw", "alpha")
	expect("alpha", "42501", "policy", 1, func() {
		if r := api.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"sql": "DELETE FROM items"}); r.Status != http.StatusForbidden {
			t.Fatalf("API delete: %d %s", r.Status, r.Body)
		}
	})
	expect("alpha", "", "client_protocol", 1, func() {
		if r := api.call(t, "POST", "/api/v1/tenant/query", tok, "{not json"); r.Status != http.StatusBadRequest {
			t.Fatalf("API bad body: %d %s", r.Status, r.Body)
		}
	})
	expect("", "", "auth", 2, func() {
		api.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "ann", "password": "wrong", "tenant_id": "alpha"})
		api.call(t, "GET", "/api/v1/tenant/current", "not-a-token", nil)
	})

	text := scrape(t, api.URL)
	if t.Failed() {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "tenantproxy_errors_total{") {
				t.Log(l)
			}
		}
	}
	if !strings.Contains(text, `tenantproxy_errors_total{category="policy",sqlstate="42501",tenant="alpha"}`) {
		t.Error("/metrics lacks tenantproxy_errors_total{category,sqlstate,tenant}")
	}

	// alpha had well over 3 errors in a minute: one error_rate_high alert.
	high := sink.wait(t, proxy.AlertErrorRateHigh, "alpha")
	if high.Threshold != 0.05 || high.ErrorRate < 0.05 || high.Errors["policy"] < 2 {
		t.Fatalf("error_rate_high: %+v", high)
	}
	time.Sleep(100 * time.Millisecond)
	if n := sink.count(proxy.AlertErrorRateHigh, "alpha"); n != 1 {
		t.Fatalf("%d error_rate_high alerts for one crossing", n)
	}
}
