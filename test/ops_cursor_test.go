package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/pool"
)

// myRaw sends one command packet and returns the response packets up to
// and including the n-th EOF (or an ERR packet).
func myRaw(t *testing.T, c *pool.MySQLConn, cmd []byte, eofs int) [][]byte {
	t.Helper()
	_ = c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := pool.WriteMySQLPacket(c.W, 0, cmd); err != nil {
		t.Fatal(err)
	}
	if err := c.W.Flush(); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		_, p, err := c.R.Next()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		p = append([]byte(nil), p...)
		out = append(out, p)
		if len(p) > 0 && p[0] == 0xff {
			return out
		}
		if len(p) < 9 && len(p) > 0 && p[0] == 0xfe {
			if eofs--; eofs <= 0 {
				return out
			}
		}
	}
}

// TestOpsReloadStaleMySQLCursor: a cursor opened as admin is not fetched
// further after a reload made the user a viewer (raw protocol:
// COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH).
func TestOpsReloadStaleMySQLCursor(t *testing.T) {
	f := newMyFixture(t, "", "")
	c, err := pool.MySQLDialer(pool.MySQLDSN{Addr: f.rp.MySQLAddr, User: "alice", Password: "alice-pw", Database: "alpha"})(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prep := myRaw(t, c, append([]byte{0x16}, "SELECT id, secret FROM items ORDER BY id"...), 1)
	if prep[0][0] != 0x00 || len(prep[0]) < 9 {
		t.Fatalf("prepare: %q", prep[0])
	}
	id := binary.LittleEndian.Uint32(prep[0][1:])
	exec := []byte{0x17, 0, 0, 0, 0, 0x01, 1, 0, 0, 0}
	binary.LittleEndian.PutUint32(exec[1:], id)
	if r := myRaw(t, c, exec, 1); r[0][0] == 0xff {
		t.Fatalf("execute: %q", r[0])
	}
	fetch := []byte{0x1c, 0, 0, 0, 0, 1, 0, 0, 0}
	binary.LittleEndian.PutUint32(fetch[1:], id)
	r := myRaw(t, c, fetch, 1)
	if r[0][0] == 0xff || !bytes.Contains(r[0], []byte("secret-of-alpha")) {
		t.Fatalf("first fetch as admin: %q", r)
	}
	reloadYAML(t, f.rp.Server, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s},
     roles: {viewer: {max_rows: 3, masked_columns: [items.secret]}}}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 2, timeout: 3s}}
users:
  - {name: alice, password: alice-pw, tenants: {alpha: viewer, beta: analyst}}
`, f.alphaDB, f.betaDB))
	r = myRaw(t, c, fetch, 1)
	for _, p := range r {
		if bytes.Contains(p, []byte("secret-of-")) {
			t.Fatalf("fetch of the admin's cursor after the demotion: %q", p)
		}
	}
	if r[0][0] != 0xff || binary.LittleEndian.Uint16(r[0][1:]) != 1142 {
		t.Fatalf("want ERR 1142, got %q", r[0])
	}
}
