package admin

import (
	"net/http"

	"github.com/tenantproxy/tenantproxy/proxy"
)

// moreOperatorRoutes registers the dry-run and provisioning endpoints.
func (s *Server) moreOperatorRoutes(route func(method, path string, h http.HandlerFunc),
	authed, operator func(func(http.ResponseWriter, *http.Request, *proxy.Binding)) http.HandlerFunc) {
	route("POST", "/api/v1/tenant/policy/explain", authed(s.explainPolicy))
	// Several methods on one path: the pattern carries the method.
	route("GET", "GET /api/v1/admin/tenants", operator(s.listTenants))
	route("POST", "POST /api/v1/admin/tenants", operator(s.createTenant))
	route("PATCH", "PATCH /api/v1/admin/tenants/{id}", operator(s.patchTenant))
	route("DELETE", "DELETE /api/v1/admin/tenants/{id}", operator(s.deleteTenant))
}
