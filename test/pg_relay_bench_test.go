package test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkPGRelay measures one round trip through the proxy, in process:
// a point select by the simple protocol and by a prepared statement
// (Bind/Execute/Sync), as an analyst, as a viewer whose statement needs a
// mask lookup, and as a capped role whose masks the statement does not
// touch; "direct" is the same client against Postgres as a control. ns/op
// and allocs/op include the client (pgconn), which is the same in every
// case: the difference to direct is the proxy's.
//
//	go test -run XXX -bench BenchmarkPGRelay -benchmem ./test
func BenchmarkPGRelay(b *testing.B) {
	requirePostgres(b)
	db := tempPGDatabase(b, "relaybench")
	pgExec(b, db,
		"CREATE TABLE accounts (aid int PRIMARY KEY, abalance int NOT NULL, filler text)",
		"CREATE TABLE branches (bid int PRIMARY KEY, filler text)",
		"INSERT INTO accounts SELECT g, g % 1000, 'f' FROM generate_series(1, 10000) g")
	rp := startProxy(b, fmt.Sprintf(`
tenants:
  - id: bench
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    pool: {size: 4}
    roles:
      viewer: {masked_columns: [accounts.filler]}
      reader: {access: read, max_rows: 1000, masked_columns: [branches.filler]}
users:
  - {name: analyst, password: pw, tenants: {bench: analyst}}
  - {name: viewer, password: pw, tenants: {bench: viewer}}
  - {name: reader, password: pw, tenants: {bench: reader}}
`, db))
	dsns := map[string]string{"direct": fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", db)}
	for _, u := range []string{"analyst", "viewer", "reader"} {
		dsns[u] = rp.pgURL(u, "pw", "bench")
	}
	const sql = "SELECT abalance FROM accounts WHERE aid = $1"
	for _, who := range []string{"direct", "analyst", "viewer", "reader"} {
		ctx := context.Background()
		c, err := pgconn.Connect(ctx, dsns[who])
		if err != nil {
			b.Fatalf("%s: %v", who, err)
		}
		b.Cleanup(func() { _ = c.Close(context.Background()) })
		b.Run(who+"/simple", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				q := fmt.Sprintf("SELECT abalance FROM accounts WHERE aid = %d", i%10000+1)
				if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
					b.Fatal(err)
				}
			}
		})
		if _, err := c.Prepare(ctx, "pt", sql, nil); err != nil {
			b.Fatalf("%s: prepare: %v", who, err)
		}
		b.Run(who+"/prepared", func(b *testing.B) {
			b.ReportAllocs()
			arg := make([]byte, 0, 8)
			for i := 0; i < b.N; i++ {
				arg = fmt.Appendf(arg[:0], "%d", i%10000+1)
				rr := c.ExecPrepared(ctx, "pt", [][]byte{arg}, nil, nil)
				if _, err := rr.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
