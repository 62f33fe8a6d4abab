package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy"
)

// TestVerifyScheduledAndAPI runs the proxy process with verify.interval on
// a setup with a row of no tenant: the webhook hears isolation_check_failed,
// /metrics and system status show the failure, GET /api/v1/admin/isolation
// reports it (and refuses a viewer); once the row is gone the webhook hears
// isolation_check_passed and the gauge is back to 0.
func TestVerifyScheduledAndAPI(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "vsched")
	pgExec(t, db,
		"CREATE TABLE orders (tenant_id text, id int, PRIMARY KEY (tenant_id, id))",
		"INSERT INTO orders VALUES ('a', 1), ('b', 1), ('ghost', 1)")
	sink := newAlertSink(t)
	pp := startProxyProcess(t, fmt.Sprintf(`
auth: {jwt_secret: %q}
verify: {interval: 1s, budget: 10s}
alerts: {webhook_url: %q, backoff: 100ms}
tenants:
  - {id: ra, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: a, tenant_tables: [orders]}
  - {id: rb, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: b, tenant_tables: [orders]}
users:
  - {name: ops, password: pw, operator: true, tenants: {ra: admin, rb: admin}}
  - {name: vic, password: pw, tenants: {ra: viewer}}
`, testSecret, sink.URL, pgDSN("127.0.0.1", db), pgDSN("localhost", db)))
	al := sink.wait(t, proxy.AlertIsolationFailed, "ra")
	if !strings.Contains(al.Message, "orphan_rows") || !strings.Contains(al.Message, "orders") {
		t.Errorf("alert message: %q", al.Message)
	}
	base := "http://" + pp.adminAddr
	metric := func(tenant string) string {
		for _, line := range strings.Split(scrape(t, base), "\n") {
			if strings.HasPrefix(line, `tenantproxy_isolation_check_failures{tenant="`+tenant+`"}`) {
				return strings.Fields(line)[1]
			}
		}
		return ""
	}
	if v := metric("ra"); v != "1" {
		t.Fatalf("tenantproxy_isolation_check_failures{ra} = %q\n%s", v, scrape(t, base))
	}

	get := func(path, tok string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	ops := adminLogin(t, pp.adminAddr, "ops", "pw", "ra")
	code, st := get("/api/v1/admin/status", ops)
	iso, _ := st["isolation"].(map[string]any)
	if code != 200 || iso["interval"] != "1s" || iso["passed"] != false || fmt.Sprint(iso["failing_tenants"]) != "[ra rb]" {
		t.Fatalf("system status: %d %v", code, st["isolation"])
	}
	code, rep := get("/api/v1/admin/isolation?tenant=rb", ops)
	if code != 200 || rep["passed"] != false {
		t.Fatalf("isolation report: %d %v", code, rep)
	}
	trs := rep["tenants"].([]any)
	tr := trs[0].(map[string]any)
	if len(trs) != 1 || tr["tenant"] != "rb" || tr["checks_failed"] != float64(1) || tr["cross_contamination"] != false {
		t.Fatalf("rb's report: %v", tr)
	}
	vic := adminLogin(t, pp.adminAddr, "vic", "pw", "ra")
	if code, out := get("/api/v1/admin/isolation", vic); code != http.StatusForbidden {
		t.Fatalf("a viewer got the isolation report: %d %v", code, out)
	}

	pgExec(t, db, "DELETE FROM orders WHERE tenant_id = 'ghost'")
	sink.wait(t, proxy.AlertIsolationPassed, "ra")
	deadline := time.Now().Add(10 * time.Second)
	for metric("ra") != "0" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if v := metric("ra"); v != "0" {
		t.Fatalf("after the fix: tenantproxy_isolation_check_failures{ra} = %q", v)
	}
	code, rep = get("/api/v1/admin/isolation", ops)
	if code != 200 || rep["passed"] != true || rep["failures"] != float64(0) {
		t.Fatalf("after the fix: %d %v", code, rep)
	}
	if sink.count(proxy.AlertIsolationFailed, "ra") != 1 {
		t.Errorf("isolation_check_failed sent %d times for one failure", sink.count(proxy.AlertIsolationFailed, "ra"))
	}
}

// TestVerifyAPIWithoutSchedule: the endpoint works without a configured
// verifier, for one tenant or all, and answers 404 for an unknown tenant.
func TestVerifyAPIWithoutSchedule(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "vapi")
	db2 := tempPGDatabase(t, "vapi2")
	pgExec(t, db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	a := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: one, engine: postgres, dsn: %q}
  - {id: two, engine: postgres, dsn: %q}
users:
  - {name: ops, password: pw, operator: true, tenants: {one: admin, two: analyst}}
  - {name: adm, password: pw, tenants: {one: admin}}
`, pgDSN("127.0.0.1", db), pgDSN("127.0.0.1", db2)))
	tok := a.login(t, "ops", "pw", "one")
	r := a.call(t, "GET", "/api/v1/admin/isolation", tok, nil)
	rep := r.JSON(t)
	if r.Status != 200 || rep["passed"] != true || len(rep["tenants"].([]any)) != 2 {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "GET", "/api/v1/admin/isolation?tenant=nobody", tok, nil); r.Status != 404 || r.ErrCode(t) != "unknown_tenant" {
		t.Fatalf("unknown tenant: HTTP %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "POST", "/api/v1/admin/isolation", tok, nil); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("POST: HTTP %d", r.Status)
	}
	// A tenant's admin is no operator.
	tok2 := a.login(t, "adm", "pw", "one")
	if r := a.call(t, "GET", "/api/v1/admin/isolation", tok2, nil); r.Status != http.StatusForbidden || r.ErrCode(t) != "forbidden" {
		t.Fatalf("tenant admin: HTTP %d %s", r.Status, r.Body)
	}
	st := a.call(t, "GET", "/api/v1/admin/status", tok, nil).JSON(t)
	iso := st["isolation"].(map[string]any)
	if iso["interval"] != "off" || iso["passed"] != true {
		t.Fatalf("system status isolation: %v", iso)
	}
}
