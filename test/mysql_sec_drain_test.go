package test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// TestMySQLSecDrainIdleInTransaction: on a drain, a MySQL client idle inside
// a transaction may finish it; the session closes at its next idle point,
// as on the Postgres front end.
func TestMySQLSecDrainIdleInTransaction(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "secdrain")
	myExec(t, db, "CREATE TABLE items (id int PRIMARY KEY)")
	rp := startProxy(t, fmt.Sprintf(`
proxy: {drain_timeout: 6s}
tenants:
  - {id: dr, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}
users:
  - {name: adam, password: adam-pw, tenants: {dr: admin}}
`, db))
	ctx := context.Background()
	c, err := rp.myOpen(t, "adam", "adam-pw", "dr", "").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"BEGIN", "INSERT INTO items VALUES (50)"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	done := make(chan time.Duration)
	start := time.Now()
	go func() { rp.stop(); done <- time.Since(start) }()
	time.Sleep(300 * time.Millisecond)
	if _, err := c.ExecContext(ctx, "INSERT INTO items VALUES (51)"); err != nil {
		t.Fatalf("the open transaction was not allowed to go on: %v", err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT during the drain: %v", err)
	}
	select {
	case d := <-done:
		if d > 5*time.Second {
			t.Fatalf("the drain waited %s after the transaction ended", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not finish")
	}
	direct, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	var n int
	if err := direct.QueryRow("SELECT COUNT(*) FROM items WHERE id IN (50, 51)").Scan(&n); err != nil || n != 2 {
		t.Fatalf("committed rows: %d %v", n, err)
	}
}
