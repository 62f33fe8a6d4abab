package test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMySQLViewerMasksAndCaps checks masked columns and the row cap with
// the text protocol, server-side prepared statements and the mariadb client.
func TestMySQLViewerMasksAndCaps(t *testing.T) {
	f := newMyFixture(t, "", "")
	myExec(t, f.alphaDB, "INSERT INTO items (name, secret) SELECT CONCAT('extra-', seq), CONCAT('hidden-', seq) FROM seq_1_to_10")
	ctx := context.Background()
	for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
		db := f.rp.myOpen(t, "vera", "vera-pw", "alpha", params)
		for _, q := range []string{
			"SELECT * FROM items ORDER BY id",
			"SELECT name, secret AS s FROM items ORDER BY id",
			"SELECT i.secret, i.name FROM items i WHERE i.id > ?",
		} {
			var rows *sql.Rows
			var err error
			if strings.Contains(q, "?") {
				rows, err = db.QueryContext(ctx, q, 0)
			} else {
				rows, err = db.QueryContext(ctx, q)
			}
			if err != nil {
				t.Fatalf("%s %s: %v", params, q, err)
			}
			cols, _ := rows.Columns()
			n := 0
			for rows.Next() {
				vals := make([]sql.RawBytes, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, c := range cols {
					if (c == "secret" || c == "s") && string(vals[i]) != "****" {
						t.Fatalf("%s %s: masked column came back as %q", params, q, vals[i])
					}
				}
				n++
			}
			rows.Close()
			if n != 3 {
				t.Fatalf("%s %s: %d rows, want the cap of 3", params, q, n)
			}
		}
		for _, q := range []string{
			"SELECT name FROM items WHERE secret = 'secret-of-alpha-apple'",
			"SELECT UPPER(secret) FROM items",
			"SELECT name FROM items ORDER BY secret",
			"SELECT LENGTH(secret) FROM items",
		} {
			_, err := db.ExecContext(ctx, q)
			wantMyErr(t, err, 1142, q)
		}
	}
	out, err := f.rp.mariadbCLI(t, "vera", "vera-pw", "alpha", "-e", "SELECT secret FROM items; SHOW WARNINGS")
	if err != nil {
		t.Fatalf("mariadb: %v\n%s", err, out)
	}
	if strings.Contains(out, "secret-of") || strings.Count(out, "****") != 3 || !strings.Contains(out, "1260") {
		t.Fatalf("mariadb client output:\n%s", out)
	}
}

// TestMySQLUnsafeCharsetRefused refuses a handshake in a multibyte
// character set that can hide a backslash from the proxy's parser.
func TestMySQLUnsafeCharsetRefused(t *testing.T) {
	f := newMyFixture(t, "", "")
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "collation=gbk_chinese_ci")
	err := db.PingContext(context.Background())
	wantMyErr(t, err, 1235, "gbk handshake")
	ok := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "collation=utf8mb4_general_ci")
	if err := ok.PingContext(context.Background()); err != nil {
		t.Fatalf("utf8mb4: %v", err)
	}
}

// TestMySQLLargeResultBoundedMemory streams 2,000,000 rows through the proxy
// process's MySQL port (text and binary protocol) and checks its peak RSS
// grows by less than 100 MB.
func TestMySQLLargeResultBoundedMemory(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "mymem")
	pp := startProxyProcess(t, fmt.Sprintf(`
tenants: [{id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}]
users: [{name: alice, password: pw, tenants: {alpha: admin}}]
`, db), true)
	ctx := context.Background()
	conn, err := sql.Open("mysql", fmt.Sprintf("alice:pw@tcp(%s)/alpha?timeout=5s", pp.myAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	idle := rssKB(t, pp.cmd.Process.Pid, "VmRSS")
	for _, args := range [][]any{nil, {0}} {
		q := "SELECT seq, CONCAT(REPEAT('x', 40), seq) FROM seq_1_to_2000000"
		if args != nil {
			q += " WHERE seq > ?" // a server-side prepared statement: binary rows
		}
		rows, err := conn.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var n, sum int64
		for rows.Next() {
			var v int64
			var s string
			if err := rows.Scan(&v, &s); err != nil {
				t.Fatal(err)
			}
			n++
			sum += v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if n != 2000000 || sum != 2000000*2000001/2 {
			t.Fatalf("got %d rows, sum %d", n, sum)
		}
	}
	peak := rssKB(t, pp.cmd.Process.Pid, "VmHWM")
	t.Logf("proxy RSS idle %d kB, peak %d kB (+%d kB) over two 2,000,000-row results", idle, peak, peak-idle)
	if peak-idle > 100*1024 {
		t.Fatalf("peak RSS grew by %d kB", peak-idle)
	}
}
