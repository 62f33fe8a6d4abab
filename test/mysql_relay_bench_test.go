package test

import (
	"database/sql"
	"fmt"
	"testing"
)

// BenchmarkMySQLRelay measures one prepared point select per op through the
// proxy's MySQL front end (analyst and viewer roles) and, as the control,
// straight against MariaDB: ns/op and allocs/op of the relay path are the
// proxied figure less the direct one (client and proxy share the process).
//
//	go test -run '^$' -bench BenchmarkMySQLRelay -benchmem ./test
func BenchmarkMySQLRelay(b *testing.B) {
	requireMySQL(b)
	db := tempMyDatabase(b, "myrelaybench")
	q := []string{"CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)"}
	for i := 1; i <= 100; i++ {
		q = append(q, fmt.Sprintf("INSERT INTO sbtest1 VALUES (%d, %d, 'c-%d', 'pad-%d')", i, i*7, i, i))
	}
	myExec(b, db, q...)
	rp := startProxy(b, fmt.Sprintf(`
tenants:
  - {id: bench, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 4, timeout: 3s}}
users:
  - {name: ana, password: ana-pw, tenants: {bench: analyst}}
  - {name: vic, password: vic-pw, tenants: {bench: viewer}}
`, db))
	run := func(b *testing.B, dsn string) {
		conn, err := sql.Open("mysql", dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		conn.SetMaxOpenConns(1)
		st, err := conn.Prepare("SELECT c FROM sbtest1 WHERE id = ?")
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		var c string
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := st.QueryRow(1 + i%100).Scan(&c); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if want := fmt.Sprintf("c-%d", 1+(b.N-1)%100); c != want {
			b.Fatalf("last row %q, want %q", c, want)
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, "root@tcp(127.0.0.1:3306)/"+db) })
	b.Run("analyst", func(b *testing.B) { run(b, rp.myDSN("ana", "ana-pw", "bench", "")) })
	b.Run("viewer", func(b *testing.B) { run(b, rp.myDSN("vic", "vic-pw", "bench", "")) })
}
