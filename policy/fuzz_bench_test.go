package policy

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"SELECT abalance FROM pgbench_accounts WHERE aid = 42",
	"SELECT * FROM orders o JOIN items i ON i.order_id = o.id LEFT JOIN customer c ON c.id = o.customer_id WHERE o.total > 10 ORDER BY o.id LIMIT 1000",
	"WITH x AS (SELECT * FROM orders) SELECT * FROM x UNION SELECT * FROM orders",
	"UPDATE orders SET total = 1 WHERE id = 1 OR 1 = 1",
	"DELETE FROM orders USING items WHERE items.order_id = orders.id",
	"INSERT INTO orders (id, total) SELECT id, total FROM items",
	"SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM items WHERE items.order_id = orders.id)",
	"SELECT * FROM orders, LATERAL (SELECT * FROM items WHERE items.order_id = orders.id) x",
	"SELECT email FROM customer",
	"SET tenant = 'beta'",
	"COPY orders TO STDOUT",
}

// FuzzCheck: Check never panics (a panic would surface as an Internal error,
// which the fuzzer reports), every rewritten output parses again, still
// carries the tenant filter of every shared table it names, and the cap.
func FuzzCheck(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	row := &Scope{Tenant: "shop_a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant_id",
		TenantValue: "a", TenantTables: []string{"orders", "items", "customer"}}
	viewer, _ := BuiltinRole(RoleViewer)
	editor, _ := BuiltinRole(RoleEditor)
	e := NewEngine(0)
	f.Fuzz(func(t *testing.T, sql string, pgDialect bool) {
		d := MySQL
		if pgDialect {
			d = Postgres
		}
		for _, r := range []*Role{&viewer, &editor} {
			s := Subject{User: "u", Scope: row, Role: r}
			dec, err := e.Check(s, d, sql)
			if err != nil {
				if strings.Contains(err.Error(), "internal error") {
					t.Fatalf("internal error for %q: %v", sql, err)
				}
				continue
			}
			if !dec.Rewritten {
				continue
			}
			if err := reparse(d, dec.SQL); err != nil {
				t.Fatalf("output does not parse: %v\nin:  %s\nout: %s", err, sql, dec.SQL)
			}
			// Idempotence of the guarantees: checking the output again must
			// not fail with an internal error.
			if _, err := e.Check(s, d, dec.SQL); err != nil && strings.Contains(err.Error(), "internal error") {
				t.Fatalf("re-check of output: %v", err)
			}
			lo := strings.ToLower(dec.SQL)
			shared := false
			for _, st := range dec.Stmts {
				for _, tbl := range st.Tables {
					for _, tt := range row.TenantTables {
						shared = shared || tbl == tt
					}
				}
			}
			if shared && !strings.Contains(lo, "tenant_id") {
				t.Fatalf("shared table without tenant filter:\nin:  %s\nout: %s", sql, dec.SQL)
			}
			if r.MaxRows > 0 && dec.Capped && !strings.Contains(lo, "limit") {
				t.Fatalf("capped without LIMIT: %s", dec.SQL)
			}
		}
	})
}

func benchSubject(role string) Subject {
	r, _ := BuiltinRole(role)
	return Subject{User: "u", Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha_db"}, Role: &r, Version: 1}
}

const (
	benchOLTP     = "SELECT abalance FROM pgbench_accounts WHERE aid = 42"
	benchAnalytic = "SELECT c.region, count(*), sum(o.total) FROM orders o JOIN customer c ON c.id = o.customer_id JOIN items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id WHERE o.created_at > '2024-01-01' GROUP BY c.region ORDER BY 2 DESC"
)

func benchCheck(b *testing.B, d Dialect, role, sql string, cached bool) {
	s := benchSubject(role)
	size := 10000
	if !cached {
		size = 0
	}
	e := NewEngine(size)
	if _, err := e.Check(s, d, sql); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Check(s, d, sql); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPGOLTPCached(b *testing.B)   { benchCheck(b, Postgres, RoleAnalyst, benchOLTP, true) }
func BenchmarkPGOLTPUncached(b *testing.B) { benchCheck(b, Postgres, RoleAnalyst, benchOLTP, false) }
func BenchmarkPGAnalyticCached(b *testing.B) {
	benchCheck(b, Postgres, RoleViewer, benchAnalytic, true)
}
func BenchmarkPGAnalyticUncached(b *testing.B) {
	benchCheck(b, Postgres, RoleViewer, benchAnalytic, false)
}
func BenchmarkMyOLTPCached(b *testing.B)     { benchCheck(b, MySQL, RoleAnalyst, benchOLTP, true) }
func BenchmarkMyOLTPUncached(b *testing.B)   { benchCheck(b, MySQL, RoleAnalyst, benchOLTP, false) }
func BenchmarkMyAnalyticCached(b *testing.B) { benchCheck(b, MySQL, RoleViewer, benchAnalytic, true) }
func BenchmarkMyAnalyticUncached(b *testing.B) {
	benchCheck(b, MySQL, RoleViewer, benchAnalytic, false)
}

// BenchmarkPGLiteralFastPath sends the OLTP statement with a new literal each
// time (pgbench -M simple): every call misses the text cache and is answered
// by the template entry.
func BenchmarkPGLiteralFastPath(b *testing.B) {
	s := benchSubject(RoleAnalyst)
	e := NewEngine(1 << 20)
	qs := make([]string, 4096)
	for i := range qs {
		qs[i] = "SELECT abalance FROM pgbench_accounts WHERE aid = " + itoa(i+1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := qs[i%len(qs)] // run with -benchtime <= 4096x: each text is new
		if _, err := e.Check(s, Postgres, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPGCachedParallel measures the cache under many goroutines.
func BenchmarkPGCachedParallel(b *testing.B) {
	s := benchSubject(RoleAnalyst)
	e := NewEngine(10000)
	_, _ = e.Check(s, Postgres, benchOLTP)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = e.Check(s, Postgres, benchOLTP)
		}
	})
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	return string(buf[n:])
}

// BenchmarkPGRewrittenFastPath is the literal fast path for a statement the
// viewer role rewrites (LIMIT injected): each text is new.
func BenchmarkPGRewrittenFastPath(b *testing.B) {
	s := benchSubject(RoleViewer)
	e := NewEngine(1 << 20)
	qs := make([]string, 4096)
	for i := range qs {
		qs[i] = "SELECT abalance FROM pgbench_accounts WHERE aid = " + itoa(i+1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := e.Check(s, Postgres, qs[i%len(qs)]) // run with -benchtime <= 4096x
		if err != nil || !d.Capped {
			b.Fatal(err)
		}
	}
}
