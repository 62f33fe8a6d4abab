package test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMySQLQueriesAndProtocol drives the basics through go-sql-driver, with
// server-side prepared statements (interpolateParams=false) and without.
func TestMySQLQueriesAndProtocol(t *testing.T) {
	f := newMyFixture(t, "", "")
	for _, interp := range []string{"false", "true"} {
		t.Run("interpolateParams="+interp, func(t *testing.T) {
			db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "parseTime=true&interpolateParams="+interp)
			got := queryStrings(t, db, "SELECT name FROM items ORDER BY id")
			if !slices.Equal(got, f.alphaItems) {
				t.Fatalf("alpha items = %v", got)
			}
			got = queryStrings(t, db, "SELECT name FROM items WHERE id = ?", 2)
			if joinLines(got) != "alpha-avocado" {
				t.Fatalf("by id = %v", got)
			}
			tbl := "t_" + interp
			if _, err := db.Exec("CREATE TABLE " + tbl + " (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20), n TINYINT)"); err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec("INSERT INTO "+tbl+" (v) VALUES (?), (?), (?)", "a", "b", "c")
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 3 {
				t.Fatalf("rows affected = %d", n)
			}
			if id, _ := res.LastInsertId(); id != 1 {
				t.Fatalf("last insert id = %d", id)
			}
			res, err = db.Exec("UPDATE "+tbl+" SET v = ? WHERE id > ?", "z", 1)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 2 {
				t.Fatalf("update rows affected = %d", n)
			}
			// A warning (value out of range, truncated) reaches the client,
			// and SHOW WARNINGS on the same connection shows it.
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "SET SESSION sql_mode = ''"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "UPDATE "+tbl+" SET n = 1000 WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			warn := queryStrings(t, conn, "SHOW WARNINGS")
			if len(warn) != 1 || warn[0] != "Warning" {
				t.Fatalf("SHOW WARNINGS = %v", warn)
			}
			_ = conn.Close()
			// Transactions: rollback undoes, commit keeps.
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("DELETE FROM " + tbl); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if got := queryStrings(t, db, "SELECT COUNT(*) FROM "+tbl); got[0] != "3" {
				t.Fatalf("after rollback count = %v", got)
			}
			// NULLs, numbers and dates in both protocols.
			var s sql.NullString
			var n int64
			var ts time.Time
			if err := db.QueryRow("SELECT NULL, ?, TIMESTAMP('2024-05-06 07:08:09')", 42).Scan(&s, &n, &ts); err != nil {
				t.Fatal(err)
			}
			if s.Valid || n != 42 || ts.Year() != 2024 {
				t.Fatalf("got %v %v %v", s, n, ts)
			}
			// Errors carry the backend's numbers.
			_, err = db.Exec("SELECT * FROM no_such_table")
			wantMyErr(t, err, 1146, "missing table")
			if strings.Contains(err.Error(), f.alphaDB) {
				t.Fatalf("error shows the backend database: %v", err)
			}
			if !strings.Contains(err.Error(), "alpha.no_such_table") {
				t.Fatalf("error should name the tenant: %v", err)
			}
		})
	}
}

// TestMySQLTransactionPoolingPreparedStatements runs many clients with
// prepared statements over a pool of two backend connections.
func TestMySQLTransactionPoolingPreparedStatements(t *testing.T) {
	f := newMyFixture(t, "{size: 2, timeout: 10s}", "")
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "interpolateParams=false")
	db.SetMaxOpenConns(12)
	db.SetMaxIdleConns(12)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conn, err := db.Conn(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			st, err := conn.PrepareContext(context.Background(), "SELECT name FROM items WHERE id = ?")
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			for j := 0; j < 30; j++ {
				var name string
				if err := st.QueryRow(1 + (i+j)%2).Scan(&name); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				if name != f.alphaItems[(i+j)%2] {
					errs <- fmt.Errorf("client %d got %q", i, name)
					return
				}
				tx, err := conn.BeginTx(context.Background(), nil)
				if err != nil {
					errs <- err
					return
				}
				var n int
				if err := tx.Stmt(st).QueryRow(2).Scan(&name); err != nil {
					errs <- err
					return
				}
				if err := tx.QueryRow("SELECT COUNT(*) FROM items").Scan(&n); err != nil {
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := f.rp.tenantPoolStats(t, "alpha")
	if st.Total > 2 || st.InUse != 0 {
		t.Fatalf("pool stats after: %+v", st)
	}
}
