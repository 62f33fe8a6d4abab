package proxy

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// webhook is an httptest server standing in for the alert receiver.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []Alert
	fail   atomic.Int32 // answer this many requests with status
	status int
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{status: http.StatusServiceUnavailable}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s with %q", r.Method, r.Header.Get("Content-Type"))
		}
		if w.fail.Add(-1) >= 0 {
			rw.WriteHeader(w.status)
			return
		}
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		w.mu.Lock()
		w.alerts = append(w.alerts, a)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) got() []Alert {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Alert(nil), w.alerts...)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestAlertsOnBreakerChanges(t *testing.T) {
	wh := newWebhook(t)
	reg := prometheus.NewRegistry()
	a, err := NewAlerter(AlertConfig{WebhookURL: wh.URL, Backoff: 10 * time.Millisecond}, reg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h := pool.Health{State: pool.HealthDown, Reason: "connection refused", Since: time.Now(), Breaker: "open"}
	a.BreakerChanged("alpha", "closed", "open", h)
	a.BreakerChanged("alpha", "open", "half-open", h)
	a.BreakerChanged("alpha", "half-open", "open", h) // a failed probe: same outage, no alert
	a.BreakerChanged("alpha", "open", "half-open", h)
	a.BreakerChanged("alpha", "half-open", "closed", pool.Health{State: pool.HealthUp, Breaker: "closed"})
	waitFor(t, "two alerts", func() bool { return len(wh.got()) >= 2 })
	time.Sleep(50 * time.Millisecond)
	got := wh.got()
	if len(got) != 2 || got[0].Event != AlertBreakerOpen || got[1].Event != AlertBreakerClosed {
		t.Fatalf("alerts: %+v", got)
	}
	if got[0].Tenant != "alpha" || got[0].Health == nil || got[0].Health.Breaker != "open" || got[0].Health.Reason != "connection refused" {
		t.Fatalf("breaker_open alert: %+v", got[0])
	}
	if n := counterValue(t, a.results.WithLabelValues(AlertBreakerOpen, "sent")); n != 1 {
		t.Fatalf("sent{breaker_open} = %v", n)
	}
}

func TestAlertRetriesWithBackoff(t *testing.T) {
	wh := newWebhook(t)
	wh.fail.Store(2) // two 503s, then success
	a, err := NewAlerter(AlertConfig{WebhookURL: wh.URL, Backoff: 10 * time.Millisecond, MaxAttempts: 3}, prometheus.NewRegistry(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.BreakerChanged("alpha", "closed", "open", pool.Health{})
	waitFor(t, "delivery after retries", func() bool { return len(wh.got()) == 1 })
	if n := counterValue(t, a.results.WithLabelValues(AlertBreakerOpen, "sent")); n != 1 {
		t.Fatalf("sent = %v", n)
	}

	// Attempts are bounded: three 503s with max_attempts 3 fail the alert.
	wh.fail.Store(3)
	a.BreakerChanged("beta", "closed", "open", pool.Health{})
	waitFor(t, "failed alert", func() bool {
		return counterValue(t, a.results.WithLabelValues(AlertBreakerOpen, "failed")) == 1
	})
	// A 4xx answer is final: no retry.
	wh.fail.Store(1)
	wh.status = http.StatusBadRequest
	a.BreakerChanged("gamma", "closed", "open", pool.Health{})
	waitFor(t, "second failed alert", func() bool {
		return counterValue(t, a.results.WithLabelValues(AlertBreakerOpen, "failed")) == 2
	})
	if wh.fail.Load() != 0 {
		t.Fatalf("a 4xx was retried (fail counter %d)", wh.fail.Load())
	}
	if len(wh.got()) != 1 {
		t.Fatalf("alerts delivered: %+v", wh.got())
	}
}

func TestAlertNeverBlocks(t *testing.T) {
	// A webhook that hangs: alerts queue up to the bound, then are dropped.
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	a, err := NewAlerter(AlertConfig{WebhookURL: srv.URL, Queue: 2, Timeout: time.Minute}, prometheus.NewRegistry(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ {
			a.BreakerChanged("alpha", "closed", "open", pool.Health{})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("BreakerChanged blocked on a hanging webhook")
	}
	if n := counterValue(t, a.results.WithLabelValues(AlertBreakerOpen, "dropped")); n < 45 {
		t.Fatalf("dropped = %v", n)
	}
}

func TestErrorRateAlertHysteresis(t *testing.T) {
	wh := newWebhook(t)
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	// 0.1 errors/s over 60s: 6 errors in the window cross it; it goes back
	// to normal below 3.
	a, err := NewAlerter(AlertConfig{WebhookURL: wh.URL, ErrorRateThreshold: 0.1, Backoff: 10 * time.Millisecond},
		prometheus.NewRegistry(), quietLog(), WithAlertClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := 0; i < 5; i++ {
		a.Error("alpha", "policy")
		clock.Add(time.Second)
	}
	a.Error("alpha", "canceled") // does not count
	a.Error("", "auth")          // no tenant: does not count
	a.Error("beta", "backend")   // another tenant
	time.Sleep(50 * time.Millisecond)
	if n := len(wh.got()); n != 0 {
		t.Fatalf("alert below the threshold: %+v", wh.got())
	}
	a.Error("alpha", "backend") // the 6th: crossing
	for i := 0; i < 20; i++ {
		a.Error("alpha", "policy") // still high: no new alert
	}
	waitFor(t, "error_rate_high", func() bool { return len(wh.got()) == 1 })
	high := wh.got()[0]
	if high.Event != AlertErrorRateHigh || high.Tenant != "alpha" || high.Threshold != 0.1 || high.WindowSeconds != 60 ||
		high.Errors["policy"] != 5 || high.Errors["backend"] != 1 {
		t.Fatalf("high alert: %+v", high)
	}
	// Still above half the threshold 30s later: nothing.
	clock.Add(30 * time.Second)
	a.evaluate()
	time.Sleep(50 * time.Millisecond)
	if len(wh.got()) != 1 {
		t.Fatalf("alerts: %+v", wh.got())
	}
	// The window has passed: back to normal, once.
	clock.Add(61 * time.Second)
	a.evaluate()
	a.evaluate()
	waitFor(t, "error_rate_normal", func() bool { return len(wh.got()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if got := wh.got(); len(got) != 2 || got[1].Event != AlertErrorRateNormal {
		t.Fatalf("alerts: %+v", got)
	}
	// A new crossing alerts again.
	for i := 0; i < 6; i++ {
		a.Error("alpha", "timeout")
	}
	waitFor(t, "second error_rate_high", func() bool { return len(wh.got()) == 3 })
}

func TestMetricsErrorFeedsTheAlerter(t *testing.T) {
	wh := newWebhook(t)
	reg := prometheus.NewRegistry()
	s := newTestServer(t, reg)
	a, err := NewAlerter(AlertConfig{WebhookURL: wh.URL, ErrorRateThreshold: 0.05}, reg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s.SetAlerts(a)
	for i := 0; i < 3; i++ {
		s.Metrics.Error("alpha", "42501", sqlerr.New(sqlerr.Permission, "no"))
	}
	waitFor(t, "error_rate_high", func() bool { return len(wh.got()) == 1 })
	if n := counterValue(t, s.Metrics.Errors.WithLabelValues("alpha", "42501", "policy")); n != 3 {
		t.Fatalf("errors_total{alpha,42501,policy} = %v", n)
	}
}

func TestAlertConfig(t *testing.T) {
	for _, c := range []AlertConfig{
		{WebhookURL: "ftp://x"},
		{WebhookURL: "not a url"},
		{ErrorRateThreshold: 1},
		{WebhookURL: "http://x", ErrorRateThreshold: -1},
		{WebhookURL: "http://x", Window: time.Millisecond},
	} {
		if err := c.CheckAndSetDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	a, err := NewAlerter(AlertConfig{}, nil, nil)
	if a != nil || err != nil {
		t.Fatalf("no webhook: %v %v", a, err)
	}
	// A nil alerter is disabled.
	a.Error("x", "auth")
	a.BreakerChanged("x", "closed", "open", pool.Health{})
	a.Close()
}

func TestMakingThemAgainKeepsTheMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	path := t.TempDir() + "/a.log"
	for i := 0; i < 2; i++ {
		a, err := NewAuditLog(AuditConfig{Path: path}, nil, reg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Close()
		al, err := NewAlerter(AlertConfig{WebhookURL: "http://127.0.0.1:1/"}, reg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		al.Close()
	}
}
