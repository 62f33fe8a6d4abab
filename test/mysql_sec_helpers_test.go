package test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// mySecFixture: database tenants alpha and beta (customers, a sequence),
// row tenants shop_a and shop_b sharing customers; a viewer role masking
// customers.email (cap 100) on alpha and shop_a.
type mySecFixture struct {
	rp                     *runningProxy
	alphaDB, betaDB, rowDB string
}

func newMySecFixture(t testing.TB) *mySecFixture {
	t.Helper()
	requireMySQL(t)
	f := &mySecFixture{
		alphaDB: tempMyDatabase(t, "mysec_alpha"),
		betaDB:  tempMyDatabase(t, "mysec_beta"),
		rowDB:   tempMyDatabase(t, "mysec_row"),
	}
	for db, tn := range map[string]string{f.alphaDB: "alpha", f.betaDB: "beta"} {
		q := []string{
			"CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100))",
			"CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100))",
			"CREATE SEQUENCE bseq START WITH 1",
		}
		for i := 1; i <= 9; i++ {
			q = append(q, fmt.Sprintf("INSERT INTO customers VALUES (%d, '%s-name-%d', '%s-mail-%d@x')", i, tn, i, tn, i))
		}
		myExec(t, db, q...)
	}
	q := []string{"CREATE TABLE customers (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL, name VARCHAR(100), email VARCHAR(100))"}
	for i := 1; i <= 3; i++ {
		q = append(q, fmt.Sprintf("INSERT INTO customers VALUES (%d, 'a', 'a-name-%d', 'a-mail-%d@x')", i, i, i))
		q = append(q, fmt.Sprintf("INSERT INTO customers VALUES (%d, 'b', 'b-name-%d', 'b-mail-%d@x')", 100+i, i, i))
	}
	myExec(t, f.rowDB, q...)
	pool := "{size: 2, timeout: 5s}"
	viewer := "{viewer: {max_rows: 100, masked_columns: [customers.email]}}"
	f.rp = startProxy(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[1]s", pool: %[4]s, roles: %[5]s}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[2]s", pool: %[4]s}
  - {id: shop_a, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[3]s", isolation: row, tenant_column: tenant_id,
     tenant_value: a, tenant_tables: [customers], pool: %[4]s, roles: %[5]s}
  - {id: shop_b, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%[3]s", isolation: row, tenant_column: tenant_id,
     tenant_value: b, tenant_tables: [customers], pool: %[4]s}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer, shop_a: viewer}}
  - {name: adam, password: adam-pw, tenants: {alpha: admin, shop_a: admin}}
  - {name: eddie, password: eddie-pw, tenants: {alpha: editor, shop_a: editor}}
  - {name: bea, password: bea-pw, tenants: {beta: admin}}
`, f.alphaDB, f.betaDB, f.rowDB, pool, viewer))
	return f
}

// myRoot opens MariaDB directly as root, for controls.
func myRoot(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", myAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// conn returns one client connection (user variables live on it).
func (f *mySecFixture) conn(t testing.TB, user, tenant, params string) *sql.Conn {
	t.Helper()
	db := f.rp.myOpen(t, user, user+"-pw", tenant, params)
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatalf("connect %s@%s: %v", user, tenant, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// scanRaw scans the current row of n columns as they came over the wire
// (a NULL is nil).
func scanRaw(rows *sql.Rows, n int) ([]sql.RawBytes, error) {
	vals := make([]sql.RawBytes, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// rows returns every row of q as tab-joined strings and the column labels.
func secRows(t testing.TB, c interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) ([]string, []string) {
	t.Helper()
	rows, err := c.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals, err := scanRaw(rows, len(cols))
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if v == nil {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, string(v))
			}
		}
		out = append(out, strings.Join(parts, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out, cols
}

// rawMy is a go-mysql client connection used for hand-written commands.
type rawMy struct {
	t testing.TB
	c *client.Conn
}

func (f *mySecFixture) raw(t testing.TB, user, tenant string) *rawMy {
	t.Helper()
	c, err := client.ConnectWithTimeout(f.rp.MySQLAddr, user, user+"-pw", tenant, 5*time.Second)
	if err != nil {
		t.Fatalf("go-mysql connect %s@%s: %v", user, tenant, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return &rawMy{t: t, c: c}
}

// send writes one command packet.
func (r *rawMy) send(payload ...byte) {
	r.t.Helper()
	r.c.ResetSequence()
	if err := r.c.WritePacket(append(make([]byte, 4), payload...)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawMy) read() []byte {
	r.t.Helper()
	p, err := r.c.ReadPacket()
	if err != nil {
		r.t.Fatal(err)
	}
	return append([]byte(nil), p...)
}

// rawErr decodes an ERR packet, or returns nil.
func rawErr(p []byte) *gmysql.MyError {
	if len(p) < 3 || p[0] != 0xff {
		return nil
	}
	e := &gmysql.MyError{Code: binary.LittleEndian.Uint16(p[1:])}
	if len(p) >= 9 && p[3] == '#' {
		e.State, e.Message = string(p[4:9]), string(p[9:])
	} else {
		e.Message = string(p[3:])
	}
	return e
}

// prepare runs COM_STMT_PREPARE and returns the statement id.
func (r *rawMy) prepare(sql string) (uint32, int, int) {
	r.t.Helper()
	r.send(append([]byte{0x16}, sql...)...)
	p := r.read()
	if e := rawErr(p); e != nil {
		r.t.Fatalf("prepare %q: %v", sql, e)
	}
	id := binary.LittleEndian.Uint32(p[1:])
	cols := int(binary.LittleEndian.Uint16(p[5:]))
	params := int(binary.LittleEndian.Uint16(p[7:]))
	for _, n := range []int{params, cols} {
		if n > 0 {
			for i := 0; i <= n; i++ {
				r.read()
			}
		}
	}
	return id, cols, params
}

// executeCursor runs COM_STMT_EXECUTE (no parameters) with
// CURSOR_TYPE_READ_ONLY and returns the status of the EOF after the column
// definitions, or the error.
func (r *rawMy) executeCursor(id uint32) (uint16, error) {
	r.t.Helper()
	pkt := []byte{0x17, 0, 0, 0, 0, 1, 1, 0, 0, 0}
	binary.LittleEndian.PutUint32(pkt[1:], id)
	r.send(pkt...)
	p := r.read()
	if e := rawErr(p); e != nil {
		return 0, e
	}
	n := int(p[0])
	for i := 0; i < n; i++ {
		r.read()
	}
	eof := r.read()
	if e := rawErr(eof); e != nil {
		return 0, e
	}
	if eof[0] != 0xfe {
		r.t.Fatalf("want EOF after column definitions, got % x", eof)
	}
	return binary.LittleEndian.Uint16(eof[3:]), nil
}

// fetchIDString runs COM_STMT_FETCH for n rows of a (INT, VARCHAR) cursor
// and returns them as "id:value".
func (r *rawMy) fetchIDString(id uint32, n uint32) ([]string, error) {
	r.t.Helper()
	pkt := make([]byte, 9)
	pkt[0] = 0x1c
	binary.LittleEndian.PutUint32(pkt[1:], id)
	binary.LittleEndian.PutUint32(pkt[5:], n)
	r.send(pkt...)
	var out []string
	for {
		p := r.read()
		if e := rawErr(p); e != nil {
			return out, e
		}
		if p[0] == 0xfe && len(p) < 9 {
			return out, nil
		}
		// 0x00, null bitmap (1 byte for 2 columns), INT (4), lenenc string
		if len(p) < 6 {
			return out, errors.New("short binary row")
		}
		v := binary.LittleEndian.Uint32(p[2:])
		s := "NULL"
		if p[1]&(1<<3) == 0 {
			l := int(p[6])
			s = string(p[7 : 7+l])
		}
		out = append(out, fmt.Sprintf("%d:%s", v, s))
	}
}

// query runs COM_QUERY and returns the first packet of the response.
func (r *rawMy) queryFirst(sql string) []byte {
	r.t.Helper()
	r.send(append([]byte{0x03}, sql...)...)
	return r.read()
}

// okStatusOf returns the status flags of an OK packet.
func okStatusOf(t testing.TB, p []byte) uint16 {
	t.Helper()
	if len(p) < 7 || p[0] != 0x00 {
		t.Fatalf("want an OK packet, got % x", p)
	}
	pos := 1
	for i := 0; i < 2; i++ {
		switch {
		case p[pos] < 0xfb:
			pos++
		case p[pos] == 0xfc:
			pos += 3
		case p[pos] == 0xfd:
			pos += 4
		default:
			pos += 9
		}
	}
	return binary.LittleEndian.Uint16(p[pos:])
}
