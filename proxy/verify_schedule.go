package proxy

// Scheduled isolation verification: verify.interval runs Verify in the
// background; each run sets tenantproxy_isolation_check_failures per tenant,
// keeps the last report for system status, and raises a webhook alert when a
// tenant starts failing (isolation_check_failed) and when it passes again
// (isolation_check_passed).

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Isolation alert events.
const (
	AlertIsolationFailed = "isolation_check_failed" // a tenant's isolation checks failed (or an overlap was found)
	AlertIsolationPassed = "isolation_check_passed" // and they pass again
)

// VerifyConfig configures isolation verification (config key verify).
type VerifyConfig struct {
	// Interval runs the checks in the background this often (0: off, the
	// default); they always run on demand (tenantproxy verify, GET
	// /api/v1/admin/isolation).
	Interval time.Duration `mapstructure:"interval"`
	// Budget bounds each tenant's checks (default 10s).
	Budget time.Duration `mapstructure:"budget"`
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *VerifyConfig) CheckAndSetDefaults() error {
	if c.Interval < 0 {
		return fmt.Errorf("interval must not be negative, got %s", c.Interval)
	}
	if c.Interval > 0 && c.Interval < time.Second {
		return fmt.Errorf("interval must be at least 1s, got %s", c.Interval)
	}
	if c.Budget == 0 {
		c.Budget = DefaultVerifyBudget
	}
	if c.Budget < 0 {
		return fmt.Errorf("budget must be positive, got %s", c.Budget)
	}
	return nil
}

// Verifier runs isolation verification on demand and on schedule and
// keeps its outcome.
type Verifier struct {
	s        *Server
	cfg      VerifyConfig
	log      *slog.Logger
	failures *prometheus.GaugeVec

	runMu   sync.Mutex // one run at a time
	mu      sync.Mutex
	last    *Report
	failing map[string]bool

	cancel context.CancelFunc
	done   chan struct{}
}

// NewVerifier returns a Verifier of s; its gauge goes to reg (nil: none).
func NewVerifier(s *Server, cfg VerifyConfig, reg prometheus.Registerer) (*Verifier, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	v := &Verifier{s: s, cfg: cfg, log: s.log, failing: map[string]bool{},
		failures: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tenantproxy_isolation_check_failures",
			Help: "Isolation checks that failed in the last verification of the tenant (0: all passed).",
		}, []string{"tenant"}),
	}
	v.failures = register(reg, v.failures)
	return v, nil
}

// Run verifies (one tenant or all), records the outcome and returns the
// report.
func (v *Verifier) Run(ctx context.Context, tenant string) (*Report, error) {
	v.runMu.Lock()
	defer v.runMu.Unlock()
	rep, err := v.s.Verify(ctx, VerifyOptions{Tenant: tenant, Budget: v.cfg.Budget})
	if err != nil {
		return nil, err
	}
	v.record(rep, tenant == "")
	return rep, nil
}

func (v *Verifier) record(rep *Report, whole bool) {
	v.mu.Lock()
	if whole || v.last == nil {
		v.last = rep
	} else {
		merged := *v.last
		merged.Tenants = append([]TenantReport(nil), v.last.Tenants...)
		for _, tr := range rep.Tenants {
			replaced := false
			for i := range merged.Tenants {
				if merged.Tenants[i].Tenant == tr.Tenant {
					merged.Tenants[i], replaced = tr, true
				}
			}
			if !replaced {
				merged.Tenants = append(merged.Tenants, tr)
			}
		}
		merged.Time, merged.Passed, merged.Failures = rep.Time, true, 0
		for _, tr := range merged.Tenants {
			merged.Failures += tr.ChecksFailed
			merged.Passed = merged.Passed && tr.ChecksFailed == 0
		}
		v.last = &merged
	}
	var alerts []Alert
	for _, tr := range rep.Tenants {
		v.failures.WithLabelValues(tr.Tenant).Set(float64(tr.ChecksFailed))
		was := v.failing[tr.Tenant]
		now := tr.ChecksFailed > 0
		v.failing[tr.Tenant] = now
		switch {
		case now && !was:
			alerts = append(alerts, Alert{Event: AlertIsolationFailed, Tenant: tr.Tenant, Message: failureSummary(tr)})
		case !now && was:
			alerts = append(alerts, Alert{Event: AlertIsolationPassed, Tenant: tr.Tenant,
				Message: fmt.Sprintf("tenant %q: all %d isolation checks pass again", tr.Tenant, tr.ChecksRun)})
		}
	}
	v.mu.Unlock()
	for _, tr := range rep.Tenants {
		if tr.ChecksFailed > 0 {
			v.log.Error("isolation_check_failed", "tenant", tr.Tenant, "failed", tr.ChecksFailed, "cross_contamination", tr.CrossContamination)
		}
	}
	if a := v.s.alerts.Load(); a != nil {
		for _, al := range alerts {
			a.send(al)
		}
	}
}

// failureSummary says in one line what failed for a tenant.
func failureSummary(tr TenantReport) string {
	var reasons []string
	for _, c := range tr.Checks {
		if !c.Passed && len(reasons) < 3 {
			reasons = append(reasons, c.Kind+": "+c.Reason)
		}
	}
	msg := fmt.Sprintf("tenant %q: %d of %d isolation checks failed (cross_contamination %t): %s",
		tr.Tenant, tr.ChecksFailed, tr.ChecksRun, tr.CrossContamination, strings.Join(reasons, "; "))
	return msg
}

// Last returns the last report (nil before the first run).
func (v *Verifier) Last() *Report {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.last
}

// VerifyStatus is the verifier's part of system status.
type VerifyStatus struct {
	Interval string `json:"interval"` // "off" or a duration
	// LastRun, Passed, Failures and Failing describe the last report.
	LastRun  *time.Time `json:"last_run,omitempty"`
	Passed   *bool      `json:"passed,omitempty"`
	Failures int        `json:"failures"`
	Failing  []string   `json:"failing_tenants"`
}

// Status returns what system status shows of isolation verification.
func (v *Verifier) Status() VerifyStatus {
	st := VerifyStatus{Interval: "off", Failing: []string{}}
	if v.cfg.Interval > 0 {
		st.Interval = v.cfg.Interval.String()
	}
	if rep := v.Last(); rep != nil {
		t, p := rep.Time, rep.Passed
		st.LastRun, st.Passed, st.Failures = &t, &p, rep.Failures
		for _, tr := range rep.Tenants {
			if tr.ChecksFailed > 0 {
				st.Failing = append(st.Failing, tr.Tenant)
			}
		}
	}
	return st
}

// Start runs the checks every Interval until Close (nothing when the
// interval is 0).
func (v *Verifier) Start() {
	if v.cfg.Interval <= 0 || v.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel, v.done = cancel, make(chan struct{})
	go func() {
		defer close(v.done)
		t := time.NewTicker(v.cfg.Interval)
		defer t.Stop()
		for {
			if _, err := v.Run(ctx, ""); err != nil && ctx.Err() == nil {
				v.log.Warn("isolation_verify_failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the background runs.
func (v *Verifier) Close() {
	if v == nil || v.cancel == nil {
		return
	}
	v.cancel()
	<-v.done
}
