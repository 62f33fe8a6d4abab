package proxy

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/policy"
)

func digestOf(t *testing.T, d policy.Dialect, sql string) string {
	t.Helper()
	fp, ok := policy.Fingerprint(d, sql)
	if !ok {
		t.Fatalf("no fingerprint for %q", sql)
	}
	return fp
}

// TestDigestsBounded feeds 100,000 distinct statements to one tenant: the
// tenant keeps Top+Recent digests, the statement with the most total time
// survives although it was the first and is never seen again, and the heap
// does not grow with the number of statements.
func TestDigestsBounded(t *testing.T) {
	ds := NewDigests(DigestConfig{})
	cfg := ds.Config()
	heavy := "SELECT * FROM big_report WHERE day = 1"
	hfp := digestOf(t, policy.Postgres, heavy)
	st := &Statement{SQL: heavy, Rows: 1}
	ds.add("t1", EnginePostgres, policy.Postgres, hfp, st, "", 5*time.Second)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 100000 {
		sql := fmt.Sprintf("SELECT c%d FROM t%d WHERE x = %d", i, i%97, i)
		fp := digestOf(t, policy.Postgres, sql)
		ds.add("t1", EnginePostgres, policy.Postgres, fp, &Statement{SQL: sql}, "", time.Duration(i%1000)*time.Microsecond)
		if i == 50000 {
			// a second tenant is bounded on its own
			ds.add("t2", EnginePostgres, policy.Postgres, fp, &Statement{SQL: sql}, "", time.Millisecond)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if n := ds.Len("t1"); n != cfg.Top+cfg.Recent {
		t.Fatalf("t1 keeps %d digests, want %d", n, cfg.Top+cfg.Recent)
	}
	if n := ds.Len("t2"); n != 1 {
		t.Fatalf("t2 keeps %d digests, want 1", n)
	}
	rows, err := ds.Statements("t1", "total_time", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Fingerprint != hfp || rows[0].Calls != 1 || rows[0].TotalMS != 5000 {
		t.Fatalf("the heaviest statement was evicted; top is %+v", rows[0])
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB over 100,000 statements", grew>>20)
	}
	ds.Reset("t1")
	if ds.Len("t1") != 0 || ds.Len("t2") != 1 {
		t.Fatalf("reset t1: t1 %d t2 %d", ds.Len("t1"), ds.Len("t2"))
	}
}

// TestDigestsLatency checks counts and percentiles against a known
// workload.
func TestDigestsLatency(t *testing.T) {
	ds := NewDigests(DigestConfig{})
	sql := "SELECT 1"
	fp := digestOf(t, policy.MySQL, sql)
	for i := 1; i <= 100; i++ {
		ds.add("t", EngineMySQL, policy.MySQL, fp, &Statement{SQL: sql, Rows: 2}, map[bool]string{true: "backend"}[i%10 == 0], time.Duration(i)*time.Millisecond)
	}
	rows, _ := ds.Statements("t", "", 0)
	r := rows[0]
	if r.Calls != 100 || r.Rows != 200 || r.Errors != 10 || r.ErrorsBy["backend"] != 10 {
		t.Fatalf("counts: %+v", r)
	}
	near := func(got, want float64) bool { return got >= want*0.98 && got <= want*1.02 }
	if !near(r.TotalMS, 5050) || !near(r.MeanMS, 50.5) || !near(r.P50MS, 50) || !near(r.P95MS, 95) || !near(r.P99MS, 99) || r.MaxMS != 100 {
		t.Fatalf("latencies: %+v", r)
	}
	if tot := ds.Totals("t"); tot.Calls != 100 || tot.Errors != 10 || !near(tot.P99MS, 99) {
		t.Fatalf("totals: %+v", tot)
	}
	if r.Example != "select ?" {
		t.Fatalf("example %q", r.Example)
	}
}

// TestDigestsConcurrent records, lists and resets from many goroutines
// (run under -race).
func TestDigestsConcurrent(t *testing.T) {
	ds := NewDigests(DigestConfig{Top: 5, Recent: 20})
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 2000 {
				sql := fmt.Sprintf("SELECT c%d FROM t WHERE x = %d", i%50, i)
				fp, _ := policy.Fingerprint(policy.MySQL, sql)
				ds.add(fmt.Sprint("t", g%3), EngineMySQL, policy.MySQL, fp, &Statement{SQL: sql}, "", time.Microsecond)
				if i%500 == 0 {
					_, _ = ds.Statements("", "p99", 10)
					_ = ds.Totals("t1")
				}
				if g == 0 && i%700 == 0 {
					ds.Reset("t2")
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	for _, id := range []string{"t0", "t1", "t2"} {
		if n := ds.Len(id); n > 25 {
			t.Fatalf("%s keeps %d digests, bound 25", id, n)
		}
	}
}
