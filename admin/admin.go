// Package admin serves tenantproxy's HTTP API: Prometheus metrics at
// /metrics and liveness/readiness at /healthz, and the /api/v1 endpoints.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// Server is the admin HTTP server.
type Server struct {
	p    *proxy.Server
	log  *slog.Logger
	http *http.Server
	prov *provisioner
	api  // the /api/v1 endpoints (api.go)

	reload func() (any, error) // POST /api/v1/admin/reload, when set
	keys   signingKeys         // token keys, when the API is enabled
}

// New returns an admin server over p exposing the metrics of gatherer.
// Without WithAPI (or with a JWT secret shorter than MinSecretLen) the
// /api/v1 endpoints answer 503.
func New(p *proxy.Server, gatherer prometheus.Gatherer, log *slog.Logger, opts ...Option) *Server {
	s := &Server{p: p, log: log.With("component", "admin")}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	s.routes(mux, gatherer)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s.consoleRoutes(mux) // console.go
	return s
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, letting requests in flight finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// healthz reports liveness: 200 while serving, 503 while draining.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	if s.p.Draining() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "tenants": len(s.p.Tenants())})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
