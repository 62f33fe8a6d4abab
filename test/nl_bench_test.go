package test

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkNLQuery measures an NL query end to end through the admin API:
// cold (cache disabled: translate, policy, backend) and cached.
func BenchmarkNLQuery(b *testing.B) {
	shared := sharedDir()
	if shared == "" {
		b.Skip("../shared is absent")
	}
	ensureChinook(b, shared)
	a := startAPI(b, chinookYAML)
	for _, tenant := range []string{"chinook_pg", "chinook_my"} {
		tok := a.login(b, "eval", "eval-secret", tenant)
		for _, cached := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/cached=%t", tenant, cached), func(b *testing.B) {
				q := "How many tracks are in each genre?"
				if r := a.ask(b, tok, q); r.Status != 200 {
					b.Fatalf("HTTP %d %s", r.Status, r.Body)
				}
				var ds []time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					r := a.ask(b, tok, q, "cache_enabled", cached)
					ds = append(ds, time.Since(t0))
					if r.Status != 200 {
						b.Fatalf("HTTP %d", r.Status)
					}
				}
				sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
				b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
			})
		}
	}
}
