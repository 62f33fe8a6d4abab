package admin

import (
	"context"
	"net/http"
	"sync"

	"github.com/tenantproxy/tenantproxy/proxy"
)

// WithVerifier has GET /api/v1/admin/isolation run v (and system status
// show its last report). Without it the endpoint runs a verifier of its
// own with the default budget.
func WithVerifier(v *proxy.Verifier) Option {
	return func(s *Server) { s.iso.v = v }
}

// isoState is the admin server's isolation verifier.
type isoState struct {
	once sync.Once
	v    *proxy.Verifier
}

func (s *Server) verifier() *proxy.Verifier {
	s.iso.once.Do(func() {
		if s.iso.v == nil {
			s.iso.v, _ = proxy.NewVerifier(s.p, proxy.VerifyConfig{}, nil)
		}
	})
	return s.iso.v
}

// isolation runs isolation verification (routed for operators only):
// every tenant, or the one named by ?tenant=. 200 with "passed": true when
// every check passed, else 200 with the failures in the report.
func (s *Server) isolation(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	// The checks are bounded by their budget per tenant and run to the
	// end even when the caller goes away: a half-run report would read as
	// failures (and alert).
	rep, err := s.verifier().Run(context.WithoutCancel(r.Context()), r.URL.Query().Get("tenant"))
	if err != nil {
		writeErr(w, errf(http.StatusNotFound, "unknown_tenant", "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// isolationStatus is system status's view of the last verification.
func (s *Server) isolationStatus() proxy.VerifyStatus { return s.verifier().Status() }
