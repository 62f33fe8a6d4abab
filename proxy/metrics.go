package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	reg        prometheus.Registerer
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
			Help: "Errors returned to clients, by tenant, SQLSTATE and category.",
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
		reg: reg,
	}
	reg.MustRegister(m.Clients, m.Statements, m.Errors, m.Latency, m.Capped)
	return m
}

// watch registers the pool collector of s.
func (m *Metrics) watch(s *Server) {
	m.reg.MustRegister(&poolCollector{s: s})
}

// Statement records one statement (or protocol batch) of tenant.
func (m *Metrics) Statement(tenant, class string, d time.Duration) {
	if m == nil {
		return
	}
	m.Statements.WithLabelValues(tenant, class).Inc()
	m.Latency.WithLabelValues(tenant).Observe(d.Seconds())
}

// Error records an error sent to a client of tenant ("" before binding).
func (m *Metrics) Error(tenant, sqlstate string, err error) {
	if m == nil {
		return
	}
	category := "backend"
	if e := sqlerr.As(err); e != nil {
		category = e.Category()
	}
	m.Errors.WithLabelValues(tenant, sqlstate, category).Inc()
}

var (
	poolConnsDesc = prometheus.NewDesc("tenantproxy_pool_connections",
		"Backend connections by state (in_use, idle, waiting = clients waiting).", []string{"tenant", "state"}, nil)
	poolSizeDesc = prometheus.NewDesc("tenantproxy_pool_size_connections",
		"Configured pool size and the most connections allowed with overflow.", []string{"tenant", "limit"}, nil)
	poolTimeoutsDesc = prometheus.NewDesc("tenantproxy_pool_acquire_timeouts_total",
		"Acquire calls that timed out.", []string{"tenant"}, nil)
	poolDialErrorsDesc = prometheus.NewDesc("tenantproxy_pool_connect_errors_total",
		"Backend connection attempts that failed.", []string{"tenant"}, nil)
)

type poolCollector struct{ s *Server }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConnsDesc
	ch <- poolSizeDesc
	ch <- poolTimeoutsDesc
	ch <- poolDialErrorsDesc
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
		ch <- prometheus.MustNewConstMetric(poolTimeoutsDesc, prometheus.CounterValue, float64(st.Timeouts), t.ID)
		ch <- prometheus.MustNewConstMetric(poolDialErrorsDesc, prometheus.CounterValue, float64(st.DialErrors), t.ID)
	}
}
