package proxy

// Webhook alerts: a JSON POST when a tenant's circuit breaker opens or closes
// again, and when a tenant's error rate crosses the configured threshold
// (and when it falls back).
//
// Alerts are queued on a bounded channel and sent by one goroutine with
// retries and exponential backoff; a client's statement never waits for a
// webhook. A full queue drops the alert (counted as result="dropped").

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/pool"
)

// Alert events.
const (
	AlertBreakerOpen     = "breaker_open"      // a tenant's breaker opened: its clients fail fast
	AlertBreakerClosed   = "breaker_closed"    // it closed again: the backend is back
	AlertErrorRateHigh   = "error_rate_high"   // a tenant's error rate reached the threshold
	AlertErrorRateNormal = "error_rate_normal" // and fell below half of it again
)

// AlertConfig configures webhook alerts (config key alerts).
type AlertConfig struct {
	// WebhookURL receives alerts as JSON POSTs; "" disables alerts.
	WebhookURL string `mapstructure:"webhook_url"`
	// ErrorRateThreshold is the error rate, in errors per second per tenant
	// averaged over Window, that raises error_rate_high (0: off). The alert
	// fires once per crossing; error_rate_normal follows when the rate has
	// fallen below half the threshold (hysteresis).
	ErrorRateThreshold float64 `mapstructure:"error_rate_threshold"`
	// Window is the averaging window of the error rate (default 1m).
	Window time.Duration `mapstructure:"window"`
	// MaxAttempts bounds the delivery attempts of one alert (default 5).
	MaxAttempts int `mapstructure:"max_attempts"`
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one and capped at 30s (default 1s).
	Backoff time.Duration `mapstructure:"backoff"`
	// Timeout bounds one attempt (default 5s).
	Timeout time.Duration `mapstructure:"timeout"`
	// Queue is how many alerts may wait for delivery (default 256).
	Queue int `mapstructure:"queue"`
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *AlertConfig) CheckAndSetDefaults() error {
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhook_url: %q is not an http(s) URL", c.WebhookURL)
		}
	}
	if c.ErrorRateThreshold < 0 {
		return fmt.Errorf("error_rate_threshold must not be negative, got %g", c.ErrorRateThreshold)
	}
	if c.ErrorRateThreshold > 0 && c.WebhookURL == "" {
		return errors.New("error_rate_threshold: needs webhook_url")
	}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.Window < time.Second {
		return fmt.Errorf("window must be at least 1s, got %s", c.Window)
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("max_attempts must be positive, got %d", c.MaxAttempts)
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	if c.Backoff < 0 {
		return fmt.Errorf("backoff must be positive, got %s", c.Backoff)
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout must be positive, got %s", c.Timeout)
	}
	if c.Queue == 0 {
		c.Queue = 256
	}
	if c.Queue < 0 {
		return fmt.Errorf("queue must be positive, got %d", c.Queue)
	}
	return nil
}

// Alert is the JSON body POSTed to the webhook.
type Alert struct {
	Event    string    `json:"event"`
	Tenant   string    `json:"tenant"`
	Time     time.Time `json:"time"`
	Message  string    `json:"message"`
	Instance string    `json:"instance,omitempty"` // the proxy's host name
	// Breaker events: the transition and the backend's health after it.
	From   string       `json:"from,omitempty"`
	To     string       `json:"to,omitempty"`
	Health *pool.Health `json:"health,omitempty"`
	// Error-rate events: the rate (errors per second over the window), the
	// threshold, the window, and the errors by category in the window.
	ErrorRate     float64          `json:"error_rate,omitempty"`
	Threshold     float64          `json:"threshold,omitempty"`
	WindowSeconds float64          `json:"window_seconds,omitempty"`
	Errors        map[string]int64 `json:"errors,omitempty"`
}

// AlertOption adjusts an Alerter (tests: a clock, an HTTP client).
type AlertOption func(*Alerter)

// WithAlertClock makes the Alerter read the time from now.
func WithAlertClock(now func() time.Time) AlertOption {
	return func(a *Alerter) { a.now = now }
}

// WithAlertClient makes the Alerter send with c.
func WithAlertClient(c *http.Client) AlertOption {
	return func(a *Alerter) { a.client = c }
}

// Alerter watches breakers and error rates and sends alerts. A nil
// *Alerter is disabled.
type Alerter struct {
	cfg      AlertConfig
	log      *slog.Logger
	client   *http.Client
	now      func() time.Time
	instance string
	queue    chan Alert
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	results  *prometheus.CounterVec

	mu    sync.Mutex
	rates map[string]*errorWindow
}

// NewAlerter starts an Alerter for cfg, or returns nil when cfg has no
// webhook. Its metric tenantproxy_alerts_total{event,result} goes to reg.
func NewAlerter(cfg AlertConfig, reg prometheus.Registerer, log *slog.Logger, opts ...AlertOption) (*Alerter, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if cfg.WebhookURL == "" {
		return nil, nil
	}
	host, _ := os.Hostname()
	a := &Alerter{
		cfg: cfg, log: log, client: &http.Client{}, now: time.Now, instance: host,
		queue: make(chan Alert, cfg.Queue),
		done:  make(chan struct{}),
		rates: make(map[string]*errorWindow),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantproxy_alerts_total",
			Help: "Webhook alerts by event and result (sent, failed after every attempt, dropped with the queue full).",
		}, []string{"event", "result"}),
	}
	for _, o := range opts {
		o(a)
	}
	a.results = register(reg, a.results)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.run()
	return a, nil
}

// SetAlerts makes a the server's alerter (nil: none). It may be called
// while serving.
func (s *Server) SetAlerts(a *Alerter) {
	s.alerts.Store(a)
	if s.Metrics != nil {
		s.Metrics.alerts.Store(a)
	}
}

// watchBreaker has the tenant's breaker report its changes: logged,
// counted, and alerted on.
func (s *Server) watchBreaker(ts *TenantState) {
	fn := func(from, to string) { s.breakerChanged(ts, from, to) }
	if ts.PGPool != nil {
		ts.PGPool.OnBreakerChange(fn)
	}
	if ts.MySQLPool != nil {
		ts.MySQLPool.OnBreakerChange(fn)
	}
	if ts.MongoPool != nil {
		ts.MongoPool.OnBreakerChange(fn)
	}
}

// breakerChanged runs inside the breaker's state change: it must not block.
func (s *Server) breakerChanged(ts *TenantState, from, to string) {
	h, _ := ts.Health()
	if to == "open" {
		s.log.Warn("breaker_state_changed", "tenant", ts.ID, "from", from, "to", to, "reason", h.Reason)
	} else {
		s.log.Info("breaker_state_changed", "tenant", ts.ID, "from", from, "to", to)
	}
	if s.Metrics != nil {
		s.Metrics.BreakerTransitions.WithLabelValues(ts.ID, to).Inc()
	}
	s.alerts.Load().BreakerChanged(ts.ID, from, to, h)
}

// BreakerChanged alerts when a breaker opens from closed (breaker_open) and
// when it closes again (breaker_closed). A failed probe (half-open to
// open) is the same outage and sends nothing.
func (a *Alerter) BreakerChanged(tenant, from, to string, h pool.Health) {
	if a == nil {
		return
	}
	switch {
	case to == "open" && from == "closed":
		a.send(Alert{Event: AlertBreakerOpen, Tenant: tenant, From: from, To: to, Health: &h,
			Message: fmt.Sprintf("the circuit breaker of tenant %q opened: its clients fail fast until the backend answers again (%s)", tenant, h.Reason)})
	case to == "closed":
		a.send(Alert{Event: AlertBreakerClosed, Tenant: tenant, From: from, To: to, Health: &h,
			Message: fmt.Sprintf("the circuit breaker of tenant %q closed: the backend answers again", tenant)})
	}
}

// Error counts an error of tenant for the error-rate alert. Errors before a
// tenant is bound, clients' own cancels and the drain do not count.
func (a *Alerter) Error(tenant, category string) {
	if a == nil || a.cfg.ErrorRateThreshold <= 0 || tenant == "" || category == "canceled" || category == "shutdown" {
		return
	}
	now := a.now()
	a.mu.Lock()
	w := a.rates[tenant]
	if w == nil {
		w = newErrorWindow(a.cfg.Window)
		a.rates[tenant] = w
	}
	w.add(now, category)
	alert, ok := a.checkLocked(tenant, w, now)
	a.mu.Unlock()
	if ok {
		a.send(alert)
	}
}

// evaluate checks every tenant's rate (the falling edge needs no error to
// be seen); run calls it every second.
func (a *Alerter) evaluate() {
	now := a.now()
	var out []Alert
	a.mu.Lock()
	for tenant, w := range a.rates {
		if alert, ok := a.checkLocked(tenant, w, now); ok {
			out = append(out, alert)
		}
		if !w.high && w.total(now) == 0 {
			delete(a.rates, tenant)
		}
	}
	a.mu.Unlock()
	for _, alert := range out {
		a.send(alert)
	}
}

// checkLocked applies the threshold with hysteresis to one tenant.
func (a *Alerter) checkLocked(tenant string, w *errorWindow, now time.Time) (Alert, bool) {
	th := a.cfg.ErrorRateThreshold
	rate := float64(w.total(now)) / a.cfg.Window.Seconds()
	switch {
	case !w.high && rate >= th:
		w.high = true
		return Alert{Event: AlertErrorRateHigh, Tenant: tenant, ErrorRate: rate, Threshold: th,
			WindowSeconds: a.cfg.Window.Seconds(), Errors: w.byCategory(now),
			Message: fmt.Sprintf("tenant %q: %.3g errors per second over the last %s (threshold %g)", tenant, rate, a.cfg.Window, th)}, true
	case w.high && rate < th/2:
		w.high = false
		return Alert{Event: AlertErrorRateNormal, Tenant: tenant, ErrorRate: rate, Threshold: th,
			WindowSeconds: a.cfg.Window.Seconds(), Errors: w.byCategory(now),
			Message: fmt.Sprintf("tenant %q: the error rate is back to %.3g per second (threshold %g)", tenant, rate, th)}, true
	}
	return Alert{}, false
}

// send queues an alert without ever blocking.
func (a *Alerter) send(alert Alert) {
	alert.Time = a.now().UTC()
	alert.Instance = a.instance
	select {
	case a.queue <- alert:
	default:
		a.results.WithLabelValues(alert.Event, "dropped").Inc()
		a.log.Warn("alert_dropped", "event", alert.Event, "tenant", alert.Tenant, "reason", "queue full")
	}
}

func (a *Alerter) run() {
	defer close(a.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
			a.evaluate()
		case alert := <-a.queue:
			a.deliver(alert)
		}
	}
}

// deliver POSTs one alert, retrying transport errors, 5xx and 429 with
// exponential backoff up to MaxAttempts; other 4xx answers are final.
func (a *Alerter) deliver(alert Alert) {
	body, err := json.Marshal(alert)
	if err != nil {
		a.results.WithLabelValues(alert.Event, "failed").Inc()
		return
	}
	backoff := a.cfg.Backoff
	var last error
	for attempt := 1; attempt <= a.cfg.MaxAttempts; attempt++ {
		var retry bool
		retry, last = a.post(body)
		if last == nil {
			a.results.WithLabelValues(alert.Event, "sent").Inc()
			a.log.Info("alert_sent", "event", alert.Event, "tenant", alert.Tenant, "attempts", attempt)
			return
		}
		if !retry || attempt == a.cfg.MaxAttempts {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-a.ctx.Done():
			t.Stop()
			a.results.WithLabelValues(alert.Event, "failed").Inc()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	a.results.WithLabelValues(alert.Event, "failed").Inc()
	a.log.Error("alert_failed", "event", alert.Event, "tenant", alert.Tenant, "error", last)
}

// post makes one attempt and reports whether a failure is worth a retry.
func (a *Alerter) post(body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tenantproxy-alerts")
	resp, err := a.client.Do(req)
	if err != nil {
		return a.ctx.Err() == nil, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = fmt.Errorf("webhook answered %s", resp.Status)
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, err
}

// Close stops the alerter; alerts still queued are not sent.
func (a *Alerter) Close() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}

// errorWindow counts one tenant's errors in one-second buckets over the
// window.
type errorWindow struct {
	secs    []int64 // the second each bucket counts
	counts  []int64
	cats    []map[string]int64
	high    bool // error_rate_high was sent and not yet followed by normal
	horizon int64
}

func newErrorWindow(window time.Duration) *errorWindow {
	n := int(window / time.Second)
	return &errorWindow{secs: make([]int64, n), counts: make([]int64, n), cats: make([]map[string]int64, n), horizon: int64(n)}
}

func (w *errorWindow) add(now time.Time, category string) {
	sec := now.Unix()
	i := int(sec % w.horizon)
	if w.secs[i] != sec {
		w.secs[i], w.counts[i] = sec, 0
		clear(w.cats[i])
	}
	w.counts[i]++
	if w.cats[i] == nil {
		w.cats[i] = make(map[string]int64)
	}
	w.cats[i][category]++
}

func (w *errorWindow) total(now time.Time) int64 {
	sec := now.Unix()
	var n int64
	for i, s := range w.secs {
		if s > sec-w.horizon && s <= sec {
			n += w.counts[i]
		}
	}
	return n
}

func (w *errorWindow) byCategory(now time.Time) map[string]int64 {
	sec := now.Unix()
	out := make(map[string]int64)
	for i, s := range w.secs {
		if s > sec-w.horizon && s <= sec {
			for c, n := range w.cats[i] {
				out[c] += n
			}
		}
	}
	return out
}
