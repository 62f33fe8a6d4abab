package test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMySQLSecLimitParamsAndConnectionID: binary protocol LIMIT ? OFFSET ?
// keeps its parameter order through the viewer's rewrite; CONNECTION_ID()
// is replaced on the parse tree, never inside a string literal.
func TestMySQLSecLimitParamsAndConnectionID(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	for _, user := range []string{"vera", "adam"} {
		c := f.conn(t, user, "alpha", "interpolateParams=false")
		for _, q := range []string{
			"SELECT id FROM customers ORDER BY id LIMIT ? OFFSET ?",
			"SELECT id FROM customers WHERE id > 0 ORDER BY id LIMIT ? OFFSET ?",
		} {
			rows, _ := secRows(t, c, q, 2, 5)
			if strings.Join(rows, ",") != "6,7" {
				t.Fatalf("%s: %s with [2,5]: rows %v, want 6,7", user, q, rows)
			}
		}
		rows, _ := secRows(t, c, "SELECT id FROM customers ORDER BY id LIMIT ?, ?", 5, 2)
		if strings.Join(rows, ",") != "6,7" {
			t.Fatalf("%s: LIMIT ?, ? with [5,2]: %v", user, rows)
		}
	}
	r := f.raw(t, "eddie", "alpha")
	id := r.c.GetConnectionID()
	for _, q := range []string{
		"INSERT INTO notes (v) VALUES ('connection_id()')",
		"INSERT INTO notes (v) VALUES (CONCAT('CONNECTION_ID() = ', CONNECTION_ID()))",
	} {
		if _, err := r.c.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	res, err := r.c.Execute("SELECT CONNECTION_ID()")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := res.GetInt(0, 0); uint32(got) != id || string(res.Fields[0].Name) != "CONNECTION_ID()" {
		t.Fatalf("SELECT CONNECTION_ID() = %d labelled %q, want the proxy's id %d", got, res.Fields[0].Name, id)
	}
	var stored []string
	rows, err := myRoot(t).QueryContext(ctx, "SELECT v FROM `"+f.alphaDB+"`.notes ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		_ = rows.Scan(&v)
		stored = append(stored, v)
	}
	rows.Close()
	want := []string{"connection_id()", "CONNECTION_ID() = " + strconv.Itoa(int(id))}
	if strings.Join(stored, "|") != strings.Join(want, "|") {
		t.Fatalf("stored %q, want %q", stored, want)
	}
}

// TestMySQLSecColumnLabels: a rewritten statement keeps the labels MariaDB
// gives the original text, in the text and the binary protocol.
func TestMySQLSecColumnLabels(t *testing.T) {
	f := newMySecFixture(t)
	for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
		for _, tn := range []string{"alpha", "shop_a"} {
			c := f.conn(t, "vera", tn, params)
			for q, want := range map[string]string{
				"SELECT count(*) FROM customers WHERE id > ?":                                "count(*)",
				"SELECT database(), Count( * ), max(id) + 1 FROM customers WHERE id > ?":     "database(),Count( * ),max(id) + 1",
				"SELECT id, (id), UPPER(name) /* why */ FROM customers WHERE id > ? LIMIT 1": "id,id,UPPER(name)",
				"SELECT 1, 'x', NULL, -2, 1e3 FROM customers WHERE id > ? LIMIT 1":           "1,x,NULL,-2,1e3",
				"SELECT CONNECTION_ID() > 0, user() FROM customers WHERE id > ? LIMIT 1":     "CONNECTION_ID() > 0,user()",
			} {
				_, cols := secRows(t, c, q, 0)
				if strings.Join(cols, ",") != want {
					t.Errorf("%s %s: %s: labels %q, want %q", tn, params, q, cols, want)
				}
			}
			rows, cols := secRows(t, c, "SELECT database()")
			if len(rows) != 1 || rows[0] != tn || strings.Join(cols, ",") != "database()" {
				t.Errorf("%s: SELECT database(): %v %v", tn, rows, cols)
			}
		}
	}
}

// TestMySQLSecRowTenantTableAndCaps: TABLE t on a row tenant is rewritten
// into valid SQL that reads the tenant's rows; a statement without FROM
// carries no capped warning.
func TestMySQLSecRowTenantTableAndCaps(t *testing.T) {
	f := newMySecFixture(t)
	c := f.conn(t, "eddie", "shop_a", "")
	rows, _ := secRows(t, c, "TABLE customers ORDER BY id")
	if strings.Join(rows, "|") != "1\ta\ta-name-1\ta-mail-1@x|2\ta\ta-name-2\ta-mail-2@x|3\ta\ta-name-3\ta-mail-3@x" {
		t.Fatalf("TABLE customers: %v", rows)
	}
	v := f.conn(t, "vera", "shop_a", "")
	rows, _ = secRows(t, v, "TABLE customers ORDER BY id")
	if len(rows) != 3 || strings.Contains(strings.Join(rows, "|"), "mail") {
		t.Fatalf("viewer TABLE customers: %v", rows)
	}
	r := f.raw(t, "vera", "alpha")
	for _, q := range []string{"SELECT 1", "SELECT 1 + 1 AS two, NOW() IS NOT NULL"} {
		res, err := r.c.Execute(q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Warnings != 0 {
			t.Errorf("%s: %d warnings", q, res.Warnings)
		}
		w, err := r.c.Execute("SHOW WARNINGS")
		if err != nil {
			t.Fatal(err)
		}
		if w.RowNumber() != 0 {
			msg, _ := w.GetString(0, 2)
			t.Errorf("%s: SHOW WARNINGS: %q", q, msg)
		}
	}
}

// corruptRelay forwards a MariaDB connection and, from the server to the
// proxy, turns the length byte of the value CORRUPT-ME into one longer than
// its packet: the row can no longer be decoded.
func corruptRelay(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	marker := []byte("\x0aCORRUPT-ME")
	bad := []byte("\xfaCORRUPT-ME")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				_ = c.Close()
				continue
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64*1024)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := b.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = b.Close()
			}()
			go func() {
				defer wg.Done()
				buf := make([]byte, 64*1024)
				for {
					n, err := b.Read(buf)
					if n > 0 {
						if _, werr := c.Write(bytes.ReplaceAll(buf[:n], marker, bad)); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestMySQLSecUndecodableRow: a row the relay cannot decode for masking or
// for the database-name filter ends the statement with an error; it is
// never forwarded unchanged (or as a row of NULLs), and the connection
// stays usable.
func TestMySQLSecUndecodableRow(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "mysec_corrupt")
	myExec(t, db,
		"CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100))",
		"CREATE TABLE notes (id INT PRIMARY KEY, v VARCHAR(100))",
		"INSERT INTO customers VALUES (1, 'c-mail-1@x')",
		"INSERT INTO notes VALUES (1, 'CORRUPT-ME'), (2, 'fine')")
	relay := corruptRelay(t, "127.0.0.1:3306")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(%s)/%s", pool: {size: 2, timeout: 5s},
     roles: {viewer: {masked_columns: [customers.email]}}}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
  - {name: adam, password: adam-pw, tenants: {alpha: admin}}
`, relay, db))
	ctx := context.Background()
	for _, tc := range []struct{ user, q string }{
		{"vera", "SELECT c.id, c.email, n.v FROM customers c JOIN notes n ON n.id = 1"},
		{"adam", "SELECT TABLE_NAME, (SELECT v FROM notes WHERE id = 1) AS v FROM information_schema.TABLES WHERE TABLE_NAME = 'notes'"},
	} {
		for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
			dbh, err := sql.Open("mysql", rp.myDSN(tc.user, tc.user+"-pw", "alpha", params))
			if err != nil {
				t.Fatal(err)
			}
			c, err := dbh.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			q := tc.q + " WHERE 1 = ?"
			if strings.Contains(tc.q, "WHERE") {
				q = tc.q + " AND 1 = ?"
			}
			rows, err := c.QueryContext(ctx, q, 1)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			if err == nil {
				t.Fatalf("%s %s: the undecodable row was relayed", tc.user, params)
			}
			code, _ := myErr(t, err)
			if code != 1105 || !strings.Contains(err.Error(), "could not be decoded") {
				t.Fatalf("%s %s: %v", tc.user, params, err)
			}
			var n int
			if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM notes WHERE id = 2").Scan(&n); err != nil || n != 1 {
				t.Fatalf("%s %s: the connection after the error: %d %v", tc.user, params, n, err)
			}
			_ = c.Close()
			_ = dbh.Close()
		}
	}
}

// TestMySQLSecLongDataPerStatement: COM_STMT_SEND_LONG_DATA is pending per
// statement. Executing another statement let the backend connection go
// back to the pool with the long data still attached to the (shared)
// backend statement, and another client's execute of the same text stored
// the first client's data.
func TestMySQLSecLongDataPerStatement(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "mysec_long")
	myExec(t, db, "CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100))")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 1, timeout: 5s}}
users:
  - {name: eddie, password: eddie-pw, tenants: {alpha: editor}}
  - {name: adam, password: adam-pw, tenants: {alpha: admin}}
`, db))
	f := &mySecFixture{rp: rp}
	const ins = "INSERT INTO notes (v) VALUES (?)"
	b := f.raw(t, "adam", "alpha")
	bx, _, _ := b.prepare(ins)
	a := f.raw(t, "eddie", "alpha")
	x, _, _ := a.prepare(ins) // the backend statement both now use
	long := append([]byte{0x18, 0, 0, 0, 0, 0, 0}, "EDDIE-LONG-DATA"...)
	binary.LittleEndian.PutUint32(long[1:], x)
	a.send(long...) // no response
	y, _, _ := a.prepare("SELECT 1")
	execY := []byte{0x17, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	binary.LittleEndian.PutUint32(execY[1:], y)
	a.send(execY...)
	for eofs := 0; eofs < 2; {
		p := a.read()
		if e := rawErr(p); e != nil {
			t.Fatal(e)
		}
		if p[0] == 0xfe && len(p) < 9 {
			eofs++
		}
	}
	closeX := []byte{0x19, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(closeX[1:], x)
	a.send(closeX...) // no response
	if res, err := a.c.Execute("SELECT 2"); err != nil || res.RowNumber() != 1 {
		t.Fatalf("eddie after close: %v", err)
	}
	exec := []byte{0x17, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0xfd, 0}
	binary.LittleEndian.PutUint32(exec[1:], bx)
	exec = append(exec, byte(len("adam-value")))
	exec = append(exec, "adam-value"...)
	b.send(exec...)
	if p := b.read(); p[0] != 0x00 {
		t.Fatalf("adam's insert: %v", rawErr(p))
	}
	var v string
	if err := myRoot(t).QueryRow("SELECT GROUP_CONCAT(v) FROM `" + db + "`.notes").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "adam-value" {
		t.Fatalf("adam's row holds %q", v)
	}
}
