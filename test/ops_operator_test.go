package test

import (
	"net/http"
	"strings"
	"testing"
)

// TestOpsOperatorIdentity: operating the proxy needs users[].operator, never
// a tenant role; a tenant's admin sees its own tenant alone.
func TestOpsOperatorIdentity(t *testing.T) {
	requirePostgres(t)
	a := startAPI(t, `
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}
  - {id: beta_secret_corp, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}
users:
  - {name: tadmin, password: tadmin-pw, tenants: {alpha: admin}}
  - {name: op, password: op-pw, tenants: {alpha: viewer}, operator: true}
  - {name: vic, password: vic-pw, tenants: {alpha: viewer}}
`)
	tadmin := a.login(t, "tadmin", "tadmin-pw", "alpha")
	op := a.login(t, "op", "op-pw", "alpha")
	vic := a.login(t, "vic", "vic-pw", "alpha")

	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/admin/reload"},
		{"GET", "/api/v1/admin/status"},
	} {
		for name, tok := range map[string]string{"tenant admin": tadmin, "viewer": vic} {
			r := a.call(t, c.method, c.path, tok, nil)
			if r.Status != http.StatusForbidden || r.ErrCode(t) != "forbidden" {
				t.Fatalf("%s %s as %s: HTTP %d %s", c.method, c.path, name, r.Status, r.Body)
			}
			if strings.Contains(string(r.Body), "beta_secret_corp") {
				t.Fatalf("%s %s as %s names another tenant: %s", c.method, c.path, name, r.Body)
			}
		}
	}

	// The tenant admin's status shows its tenant alone.
	r := a.call(t, "GET", "/api/v1/tenant/system/status", tadmin, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"alpha"`) {
		t.Fatalf("tenant status: HTTP %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "beta_secret_corp") || strings.Contains(string(r.Body), "memory_entries") {
		t.Fatalf("a tenant admin's status shows the proxy's other tenants or global cache: %s", r.Body)
	}
	if r := a.call(t, "GET", "/api/v1/tenant/system/status", vic, nil); r.Status != http.StatusForbidden {
		t.Fatalf("viewer's system status: HTTP %d %s", r.Status, r.Body)
	}

	// An operator (a viewer on its tenant) operates the proxy.
	r = a.call(t, "GET", "/api/v1/admin/status", op, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "beta_secret_corp") || !strings.Contains(string(r.Body), `"alpha"`) {
		t.Fatalf("operator status: HTTP %d %s", r.Status, r.Body)
	}
	// This server has no config file to reload: the operator passes the
	// gate and gets 501, not 403.
	if r := a.call(t, "POST", "/api/v1/admin/reload", op, nil); r.Status != http.StatusNotImplemented {
		t.Fatalf("operator reload: HTTP %d %s", r.Status, r.Body)
	}
	// Even an operator's /tenant/* answers show its own tenant alone.
	r = a.call(t, "GET", "/api/v1/tenant/system/status", op, nil)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), "beta_secret_corp") {
		t.Fatalf("operator's tenant status: HTTP %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/api/v1/tenant/metrics", "/api/v1/tenant/health", "/api/v1/tenant/current"} {
		if r := a.call(t, "GET", p, tadmin, nil); strings.Contains(string(r.Body), "beta_secret_corp") {
			t.Fatalf("%s names another tenant: %s", p, r.Body)
		}
	}
}
