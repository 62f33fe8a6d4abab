package proxy

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue reads a counter's value, or a histogram's sample count.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

// TestMetricsStatementChildren counts statements of several tenants and
// classes, from several goroutines, through the resolved children: each
// series has exactly its own statements.
func TestMetricsStatementChildren(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				m.Statement("a", "read", time.Millisecond)
				m.Statement("b", "write", 2*time.Millisecond)
				if i%2 == 0 {
					m.Statement("a", "write", time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range []struct {
		tenant, class string
		want          float64
	}{{"a", "read", 400}, {"a", "write", 200}, {"b", "write", 400}, {"b", "read", 0}} {
		if got := metricValue(t, m.Statements.WithLabelValues(c.tenant, c.class)); got != c.want {
			t.Errorf("statements %s/%s = %v, want %v", c.tenant, c.class, got, c.want)
		}
	}
	for tenant, want := range map[string]float64{"a": 600, "b": 400} {
		if got := metricValue(t, m.Latency.WithLabelValues(tenant).(prometheus.Metric)); got != want {
			t.Errorf("latency samples of %s = %v, want %v", tenant, got, want)
		}
	}
}
