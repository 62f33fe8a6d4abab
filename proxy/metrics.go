package proxy

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Metrics are the proxy's Prometheus metrics, registered on the Registerer
// passed to NewMetrics (never the global one).
type Metrics struct {
	Clients    *prometheus.GaugeVec
	Statements *prometheus.CounterVec
	Errors     *prometheus.CounterVec
	Latency    *prometheus.HistogramVec
	Capped     *prometheus.CounterVec
	// BreakerTransitions counts circuit breaker state changes per tenant.
	BreakerTransitions *prometheus.CounterVec
	// AcceptErrors counts failed accepts (EMFILE and the like) by front
	// end; Refused counts connections refused before login, by front end
	// and reason; LoginFailures and LoginLockouts count failed logins and
	// the logins refused while locked, by front end (postgres, mysql, api).
	AcceptErrors  *prometheus.CounterVec
	Refused       *prometheus.CounterVec
	LoginFailures *prometheus.CounterVec
	LoginLockouts *prometheus.CounterVec
	reg           prometheus.Registerer
	alerts        atomic.Pointer[Alerter] // told of every error, for error-rate alerts

	// stmt holds the children of Statements and Latency already resolved
	// for a tenant (and class): every statement counts in them, and a
	// label lookup (hashing the values, a lock) per statement cost more
	// than the rest of recording it. Copied on write, read without a lock.
	stmt   atomic.Pointer[map[string]*stmtChildren]
	stmtMu sync.Mutex // serialises the writers of stmt
}

// stmtChildren are one tenant's children of Statements and Latency.
type stmtChildren struct {
	latency prometheus.Observer
	classes atomic.Pointer[[]classCounter] // copied on write under Metrics.stmtMu
}

// classCounter is the child of Statements for one class.
type classCounter struct {
	class string
	c     prometheus.Counter
}

// NewMetrics creates and registers the metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tenantproxy_client_connections",
			Help: "Client connections bound to a tenant, by front end.",
		}, []string{"tenant", "protocol"}),
		Statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_statements_total",
			Help: "Statements run, by tenant and statement class.",
		}, []string{"tenant", "class"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_errors_total",
			Help: "Errors returned to clients (wire and admin API), by tenant (\"\" before a tenant is bound), SQLSTATE and category: " + strings.Join(ErrorCategories, ", ") + ".",
		}, []string{"tenant", "sqlstate", "category"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantproxy_statement_duration_seconds",
			Help:    "Time from a statement's arrival to its last response byte.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"tenant"}),
		Capped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_policy_capped_total",
			Help: "Statements whose rows were capped by the role's max_rows.",
		}, []string{"tenant"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_breaker_transitions_total",
			Help: "Circuit breaker state changes, by tenant and new state (closed, half-open, open).",
		}, []string{"tenant", "to"}),
		AcceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_accept_errors_total",
			Help: "Failed accepts of client connections (such as EMFILE), by front end; the proxy backs off and goes on.",
		}, []string{"frontend"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_connections_refused_total",
			Help: "Client connections refused before login, by front end and reason (max_client_connections, max_unauthenticated_per_source).",
		}, []string{"frontend", "reason"}),
		LoginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_login_failures_total",
			Help: "Failed logins (wrong password or unknown user), by front end (postgres, mysql, api).",
		}, []string{"frontend"}),
		LoginLockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_login_lockouts_total",
			Help: "Logins refused because the user or the source address is locked out after failed logins, by front end.",
		}, []string{"frontend"}),
		reg: reg,
	}
	reg.MustRegister(m.Clients, m.Statements, m.Errors, m.Latency, m.Capped, m.BreakerTransitions,
		m.AcceptErrors, m.Refused, m.LoginFailures, m.LoginLockouts)
	return m
}

// watch registers the pool collector of s.
func (m *Metrics) watch(s *Server) {
	m.reg.MustRegister(&poolCollector{s: s})
	m.reg.MustRegister(&digestCollector{s: s}) // digest.go
}

// Statement records one statement (or protocol batch) of tenant.
func (m *Metrics) Statement(tenant, class string, d time.Duration) {
	if m == nil {
		return
	}
	tc := m.stmtTenant(tenant)
	tc.counter(m, tenant, class).Inc()
	tc.latency.Observe(d.Seconds())
}

// stmtTenant returns the resolved children of tenant, resolving them on
// first use.
func (m *Metrics) stmtTenant(tenant string) *stmtChildren {
	if cur := m.stmt.Load(); cur != nil {
		if tc := (*cur)[tenant]; tc != nil {
			return tc
		}
	}
	m.stmtMu.Lock()
	defer m.stmtMu.Unlock()
	var old map[string]*stmtChildren
	if cur := m.stmt.Load(); cur != nil {
		old = *cur
	}
	if tc := old[tenant]; tc != nil {
		return tc
	}
	next := make(map[string]*stmtChildren, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	tc := &stmtChildren{latency: m.Latency.WithLabelValues(tenant)}
	next[tenant] = tc
	m.stmt.Store(&next)
	return tc
}

// counter returns the child of Statements for (tenant, class).
func (tc *stmtChildren) counter(m *Metrics, tenant, class string) prometheus.Counter {
	if cur := tc.classes.Load(); cur != nil {
		for _, cc := range *cur {
			if cc.class == class {
				return cc.c
			}
		}
	}
	m.stmtMu.Lock()
	defer m.stmtMu.Unlock()
	var old []classCounter
	if cur := tc.classes.Load(); cur != nil {
		old = *cur
	}
	for _, cc := range old {
		if cc.class == class {
			return cc.c
		}
	}
	c := m.Statements.WithLabelValues(tenant, class)
	next := append(append(make([]classCounter, 0, len(old)+1), old...), classCounter{class: class, c: c})
	tc.classes.Store(&next)
	return c
}

// Error records an error sent to a client of tenant ("" before binding):
// err is the proxy's error, or nil for an error the backend reported with
// sqlstate. Call it once per error, where the error is sent.
func (m *Metrics) Error(tenant, sqlstate string, err error) {
	m.CountError(tenant, sqlstate, ErrorCategory(sqlstate, err))
}

// CountError records an error of a known category (see ErrorCategories)
// sent to a client of tenant.
func (m *Metrics) CountError(tenant, sqlstate, category string) {
	if m == nil {
		return
	}
	m.Errors.WithLabelValues(tenant, sqlstate, category).Inc()
	if a := m.alerts.Load(); a != nil {
		a.Error(tenant, category)
	}
}

// ErrorCategories are the values of the category label of
// tenantproxy_errors_total:
//
//   - auth: authentication failed, or the user may not use the tenant
//   - policy: the role's policy refused the statement (or a feature the
//     proxy does not relay)
//   - limit: a tenant limit (connections, rate, pool size) was reached
//   - backend_unavailable: the backend cannot be reached (breaker open,
//     connection failed or lost, primary down)
//   - timeout: the tenant's statement_timeout cancelled the statement
//   - client_protocol: the client sent something malformed or out of place
//     (protocol errors, unparsable statements, invalid values, a tenant
//     switch inside a transaction)
//   - internal: a bug or unexpected state in the proxy
//   - backend: an error the backend reported for the statement
//   - canceled: the client cancelled its own statement
//   - shutdown: the proxy is draining
var ErrorCategories = []string{"auth", "policy", "limit", "backend_unavailable", "timeout",
	"client_protocol", "internal", "backend", "canceled", "shutdown"}

// ErrorCategory returns the category of an error sent to a client: err is
// the proxy's error (an *sqlerr.Error in its chain), or nil / a backend
// error, categorised by its SQLSTATE.
func ErrorCategory(sqlstate string, err error) string {
	if e := sqlerr.As(err); e != nil {
		switch e.Kind {
		case sqlerr.AuthFailed, sqlerr.UnknownTenant, sqlerr.NoTenantChosen, sqlerr.NoRoleOnTenant:
			return "auth"
		case sqlerr.Permission, sqlerr.Privilege, sqlerr.CrossTenant, sqlerr.Unsupported:
			return "policy"
		case sqlerr.TooManyConnections, sqlerr.RateLimited, sqlerr.PoolTimeout:
			return "limit"
		case sqlerr.Unavailable, sqlerr.ReadOnlyBackend:
			return "backend_unavailable"
		case sqlerr.StatementTimeout:
			return "timeout"
		case sqlerr.Protocol, sqlerr.Syntax, sqlerr.InvalidValue, sqlerr.ActiveTransaction:
			return "client_protocol"
		case sqlerr.Canceled:
			return "canceled"
		case sqlerr.ShuttingDown:
			return "shutdown"
		}
		return "internal"
	}
	switch {
	case sqlstate == "57014" || sqlstate == "70100": // query_canceled; MySQL ER_QUERY_INTERRUPTED
		return "canceled"
	case strings.HasPrefix(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03":
		return "backend_unavailable"
	}
	return "backend"
}

var (
	poolConnsDesc = prometheus.NewDesc("tenantproxy_pool_connections",
		"Backend connections by state (in_use, idle, waiting = clients waiting).", []string{"tenant", "state"}, nil)
	poolSizeDesc = prometheus.NewDesc("tenantproxy_pool_size_connections",
		"Pool size (connections kept open; the current size when auto-sized), the most connections allowed, and the size the measured concurrency recommends.", []string{"tenant", "limit"}, nil)
	poolTimeoutsDesc = prometheus.NewDesc("tenantproxy_pool_acquire_timeouts_total",
		"Acquire calls that timed out.", []string{"tenant"}, nil)
	poolDialErrorsDesc = prometheus.NewDesc("tenantproxy_pool_connect_errors_total",
		"Backend connection attempts that failed.", []string{"tenant"}, nil)
	breakerStateDesc = prometheus.NewDesc("tenantproxy_breaker_state",
		"Circuit breaker of the tenant's backend: 0 closed, 1 half-open, 2 open.", []string{"tenant"}, nil)
	backendHealthDesc = prometheus.NewDesc("tenantproxy_backend_health",
		"Backend health: 1 for the tenant's current state (up, degraded, down), 0 for the others.", []string{"tenant", "state"}, nil)
)

// breakerValues are the values of tenantproxy_breaker_state.
var breakerValues = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// healthStates are the states of tenantproxy_backend_health.
var healthStates = []string{pool.HealthUp, pool.HealthDegraded, pool.HealthDown}

type poolCollector struct{ s *Server }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConnsDesc
	ch <- poolSizeDesc
	ch <- poolTimeoutsDesc
	ch <- poolDialErrorsDesc
	ch <- breakerStateDesc
	ch <- backendHealthDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.s.Tenants() {
		st, ok := t.PoolStats()
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(st.InUse), t.ID, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(st.Idle), t.ID, "idle")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(st.Waiting), t.ID, "waiting")
		ch <- prometheus.MustNewConstMetric(poolSizeDesc, prometheus.GaugeValue, float64(st.Size), t.ID, "size")
		ch <- prometheus.MustNewConstMetric(poolSizeDesc, prometheus.GaugeValue, float64(st.MaxTotal), t.ID, "max")
		ch <- prometheus.MustNewConstMetric(poolSizeDesc, prometheus.GaugeValue, float64(st.Recommended), t.ID, "recommended")
		ch <- prometheus.MustNewConstMetric(poolTimeoutsDesc, prometheus.CounterValue, float64(st.Timeouts), t.ID)
		ch <- prometheus.MustNewConstMetric(poolDialErrorsDesc, prometheus.CounterValue, float64(st.DialErrors), t.ID)
		if h, ok := t.Health(); ok {
			ch <- prometheus.MustNewConstMetric(breakerStateDesc, prometheus.GaugeValue, breakerValues[h.Breaker], t.ID)
			for _, state := range healthStates {
				v := 0.0
				if h.State == state {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(backendHealthDesc, prometheus.GaugeValue, v, t.ID, state)
			}
		}
	}
}

func (m *Metrics) acceptError(frontend string) {
	if m != nil {
		m.AcceptErrors.WithLabelValues(frontend).Inc()
	}
}

func (m *Metrics) refused(frontend, reason string) {
	if m != nil {
		m.Refused.WithLabelValues(frontend, reason).Inc()
	}
}
