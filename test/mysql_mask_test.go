package test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
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
