package test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The MySQL counterpart of TestPGRelayNoMixupAcrossClients: many clients
// share two backend connections, each sending statements that carry its
// own marker, by the text protocol (parameters interpolated by the client)
// and by prepared statements: small and large rows (up to 300 KB, past the
// client write buffer), a multi-statement query failing in its middle, a
// result read row by row, and meanwhile clients that hang up in the middle
// of a large result. Every client must get exactly its own marker back,
// never another's, and no stale response. The same checks run against
// MariaDB itself first, as a control.
func TestMySQLRelayNoMixupAcrossClients(t *testing.T) {
	f := newMyFixture(t, "{size: 2, timeout: 20s}", "")
	myExec(t, f.alphaDB,
		"CREATE TABLE nums (n INT PRIMARY KEY)",
		"INSERT INTO nums WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 199) "+
			"SELECT a.n * 100 + b.n + 1 FROM g a, g b WHERE b.n < 100")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	const params = "readTimeout=20s&writeTimeout=20s&multiStatements=true"
	myMixup(t, ctx, myAdminDSN+f.alphaDB+"?timeout=5s&"+params)
	myMixup(t, ctx, f.rp.myDSN("alice", "alice-pw", "alpha", params))
}

func myMixup(t *testing.T, ctx context.Context, dsn string) {
	t.Helper()
	const clients, rounds = 8, 12
	open := func(extra string) *sql.DB {
		db, err := sql.Open("mysql", dsn+extra)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	text, binary := open("&interpolateParams=true"), open("")
	var wg sync.WaitGroup
	errs := make(chan error, clients*2)
	for c := 0; c < clients; c++ {
		db, proto := binary, "prepared"
		if c%2 == 0 {
			db, proto = text, "text"
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(format string, a ...any) {
				errs <- fmt.Errorf("client %d (%s): "+format, append([]any{c, proto}, a...)...)
			}
			for i := 0; i < rounds; i++ {
				mark := fmt.Sprintf("m%d-%d", c, i)
				size := []int{10, 5000, 70000, 300000}[(c+i)%4]
				var got string
				if err := conn.QueryRowContext(ctx, "SELECT CONCAT(?, REPEAT('x', ?))", mark, size).Scan(&got); err != nil {
					fail("round %d: %v", i, err)
					return
				}
				if want := mark + strings.Repeat("x", size); got != want {
					fail("round %d: got %.40q (%d bytes), want %.40q (%d bytes)", i, got, len(got), want, len(want))
					return
				}
				// Several statements in one query, the second failing: the
				// first answers, the rest is not run.
				rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT '%s-a'; SELECT no_such_column FROM nums; SELECT '%s-c'", mark, mark))
				if err != nil {
					fail("round %d multi: %v", i, err)
					return
				}
				var a string
				if !rows.Next() || rows.Scan(&a) != nil || a != mark+"-a" {
					fail("round %d multi first: %q, %v", i, a, rows.Err())
					_ = rows.Close()
					return
				}
				rows.Next()
				more := rows.NextResultSet()
				var me *mysql.MySQLError
				if err := rows.Err(); more || !errors.As(err, &me) || me.Number != 1054 {
					fail("round %d multi second: want unknown column (1054), got more=%v %v", i, more, err)
					_ = rows.Close()
					return
				}
				_ = rows.Close()
				// Rows read one at a time from a multi-row result.
				rows, err = conn.QueryContext(ctx, "SELECT CONCAT(?, n) FROM nums WHERE n <= 50 ORDER BY n", mark)
				if err != nil {
					fail("round %d series: %v", i, err)
					return
				}
				n := 0
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						fail("round %d series scan: %v", i, err)
						_ = rows.Close()
						return
					}
					n++
					if s != fmt.Sprintf("%s%d", mark, n) {
						fail("round %d series row %d: got %q", i, n, s)
						_ = rows.Close()
						return
					}
				}
				if rows.Err() != nil || n != 50 {
					fail("round %d series: %d rows, %v", i, n, rows.Err())
					return
				}
			}
		}()
	}
	// Clients that hang up in the middle of a large result, meanwhile:
	// cancelling the query's context makes the driver close its
	// connection at once.
	for c := 0; c < 4; c++ {
		db := text
		if c%2 == 1 {
			db = binary
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				qctx, stop := context.WithCancel(ctx)
				rows, err := db.QueryContext(qctx, "SELECT CONCAT('gone', n, REPEAT('y', ?)) FROM nums", 3000)
				if err != nil {
					stop()
					errs <- fmt.Errorf("hang-up client %d: %v", c, err)
					return
				}
				if !rows.Next() {
					errs <- fmt.Errorf("hang-up client %d: no first row: %v", c, rows.Err())
				}
				stop()
				// The rest of the 20,000 rows (60 MB) does not come: the
				// connection was closed in the middle of the result.
				rest := 0
				for rows.Next() {
					rest++
				}
				if rest >= 19999 || rows.Err() == nil {
					errs <- fmt.Errorf("hang-up client %d: read %d more rows after hanging up (%v)", c, rest, rows.Err())
				}
				_ = rows.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
