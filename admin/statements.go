package admin

// Statement digests over HTTP: GET /api/v1/tenant/statements (the caller's
// tenant) and GET /api/v1/admin/statements (every tenant, operators only),
// each with a reset.

import (
	"net/http"
	"strconv"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// isOperator reports whether b's user may operate the proxy (every
// tenant's statements, provisioning, fleet status): users[].operator, never
// a tenant role.
func isOperator(b *proxy.Binding) bool { return b.User.Operator }

// operatorRoutes registers the operator's view: statement digests, policy
// dry-run, tenant provisioning.
func (s *Server) operatorRoutes(route func(method, path string, h http.HandlerFunc),
	authed func(func(http.ResponseWriter, *http.Request, *proxy.Binding)) http.HandlerFunc) {
	operator := func(h func(http.ResponseWriter, *http.Request, *proxy.Binding)) http.HandlerFunc {
		return authed(func(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
			if !isOperator(b) {
				writeErr(w, errf(http.StatusForbidden, "forbidden", "%s needs an operator; you are %s on %s", r.URL.Path, b.Role.Name, b.Tenant.ID))
				return
			}
			h(w, r, b)
		})
	}
	route("GET", "/api/v1/tenant/statements", authed(s.tenantStatements))
	route("POST", "/api/v1/tenant/statements/reset", authed(s.resetTenantStatements))
	route("GET", "/api/v1/admin/statements", operator(s.adminStatements))
	route("POST", "/api/v1/admin/statements/reset", operator(s.resetAdminStatements))
	route("POST", "/api/v1/tenant/policy/explain", authed(s.explainPolicy)) // explain.go
	// tenants.go; several methods on one path: the pattern carries the method.
	route("GET", "GET /api/v1/admin/tenants", operator(s.listTenants))
	route("POST", "POST /api/v1/admin/tenants", operator(s.createTenant))
	route("PATCH", "PATCH /api/v1/admin/tenants/{id}", operator(s.patchTenant))
	route("DELETE", "DELETE /api/v1/admin/tenants/{id}", operator(s.deleteTenant))
}

func (s *Server) tenantStatements(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	s.listStatements(w, r, b.Tenant.ID)
}

func (s *Server) adminStatements(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	s.listStatements(w, r, r.URL.Query().Get("tenant"))
}

func (s *Server) listStatements(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErr(w, errf(http.StatusBadRequest, "invalid_request", "limit: want a non-negative integer, got %q", v))
			return
		}
		limit = n
	}
	ds := s.p.Digests()
	rows, err := ds.Statements(tenant, q.Get("sort"), limit)
	if err != nil {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "%v", err))
		return
	}
	if rows == nil {
		rows = []proxy.DigestRow{}
	}
	cfg := ds.Config()
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "total_time"
	}
	out := map[string]any{"statements": rows, "sort": sortBy, "top": cfg.Top, "recent": cfg.Recent}
	if tenant != "" {
		out["tenant_id"] = tenant
		out["totals"] = ds.Totals(tenant)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) resetTenantStatements(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	if b.Role.Access != policy.AccessAdmin && !isOperator(b) {
		writeErr(w, errf(http.StatusForbidden, "forbidden", "resetting statement digests needs the admin role (you are %s on %s)", b.Role.Name, b.Tenant.ID))
		return
	}
	s.p.Digests().Reset(b.Tenant.ID)
	writeJSON(w, http.StatusOK, map[string]any{"status": "reset", "tenant_id": b.Tenant.ID})
}

func (s *Server) resetAdminStatements(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	t := r.URL.Query().Get("tenant")
	s.p.Digests().Reset(t)
	writeJSON(w, http.StatusOK, map[string]any{"status": "reset", "tenant_id": t})
}
