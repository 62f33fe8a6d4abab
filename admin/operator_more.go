package admin

import (
	"net/http"

	"github.com/tenantproxy/tenantproxy/proxy"
)

// moreOperatorRoutes registers the dry-run and provisioning endpoints.
func (s *Server) moreOperatorRoutes(route func(method, path string, h http.HandlerFunc),
	authed, operator func(func(http.ResponseWriter, *http.Request, *proxy.Binding)) http.HandlerFunc) {
	route("POST", "/api/v1/tenant/policy/explain", authed(s.explainPolicy))
}
