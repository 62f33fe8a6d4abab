// Package admin serves tenantproxy's HTTP API: Prometheus metrics at
// /metrics and liveness/readiness at /healthz, and the /api/v1 endpoints.
package admin

import (
	"context"
	"crypto/subtle"
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

	iso           isoState     // isolation verification (isolation.go)
	promHandler   http.Handler // /metrics, behind the scrape token when set
	metricsApart  bool         // /metrics is served on its own listener only
	metricsToken  string
	metricsServer *http.Server
}

// WithMetrics configures /metrics: apart serves it on its own listener
// (ServeMetrics, config key listen.metrics) instead of the admin port;
// token, when set, is the bearer token a scrape must send
// (auth.metrics_token).
func WithMetrics(apart bool, token string) Option {
	return func(s *Server) { s.metricsApart, s.metricsToken = apart, token }
}

// New returns an admin server over p exposing the metrics of gatherer.
// Without WithAPI (or with a JWT secret shorter than MinSecretLen) the
// /api/v1 endpoints answer 503.
func New(p *proxy.Server, gatherer prometheus.Gatherer, log *slog.Logger, opts ...Option) *Server {
	s := &Server{p: p, log: log.With("component", "admin")}
	for _, o := range opts {
		o(s)
	}
	s.promHandler = s.scrapeAuth(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux := http.NewServeMux()
	if !s.metricsApart {
		mux.Handle("GET /metrics", s.promHandler)
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
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

// ServeMetrics serves /metrics and /healthz on ln (listen.metrics) until
// Shutdown.
func (s *Server) ServeMetrics(ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.promHandler)
	mux.HandleFunc("GET /healthz", s.healthz)
	s.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	if err := s.metricsServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, letting requests in flight finish.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.metricsServer != nil {
		_ = s.metricsServer.Shutdown(ctx)
	}
	return s.http.Shutdown(ctx)
}

// scrapeAuth requires the scrape token, when one is configured.
func (s *Server) scrapeAuth(h http.Handler) http.Handler {
	if s.metricsToken == "" {
		return h
	}
	want := []byte("Bearer " + s.metricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the scrape token (auth.metrics_token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// healthz reports liveness: 200 while serving, 503 while draining.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	if s.p.Draining() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	out := map[string]any{"status": status, "tenants": len(s.p.Tenants())}
	if f := s.p.Fleet(); f.Enabled {
		// A fleet member without Redis keeps serving on local limits.
		out["fleet"] = map[string]any{"member": f.ID, "node": f.Node, "redis": f.Redis, "members": len(f.Members)}
	}
	writeJSON(w, code, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
