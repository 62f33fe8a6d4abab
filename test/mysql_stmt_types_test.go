package test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
)

// executeName runs COM_STMT_EXECUTE of "SELECT name FROM items WHERE id = ?"
// with one parameter: its type is sent only when typ is not 0 (the
// new-params-bound flag), as libmysqlclient does after the first execute.
// It returns the name of the one row, or the error.
func (r *rawMy) executeName(id uint32, typ byte, val []byte) (string, error) {
	r.t.Helper()
	pkt := []byte{0x17, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0} // no cursor, 1 iteration, NULL bitmap
	binary.LittleEndian.PutUint32(pkt[1:], id)
	if typ != 0 {
		pkt = append(pkt, 1, typ, 0)
	} else {
		pkt = append(pkt, 0)
	}
	pkt = append(pkt, val...)
	r.send(pkt...)
	return r.readName()
}

// readName reads the answer of an execute of "SELECT name ...": the name
// of its one row, or the error.
func (r *rawMy) readName() (string, error) {
	r.t.Helper()
	p := r.read()
	if e := rawErr(p); e != nil {
		return "", e
	}
	for i := 0; i < int(p[0]); i++ {
		r.read() // column definitions
	}
	r.read() // EOF
	name := ""
	for {
		p := r.read()
		if e := rawErr(p); e != nil {
			return "", e
		}
		if p[0] == 0xfe && len(p) < 9 {
			return name, nil
		}
		// 0x00, NULL bitmap (1 byte), lenenc string
		name = string(p[3 : 3+int(p[2])])
	}
}

func rawConnect(t testing.TB, addr, user, password, db string) *rawMy {
	t.Helper()
	c, err := client.ConnectWithTimeout(addr, user, password, db, 5*time.Second)
	if err != nil {
		t.Fatalf("go-mysql connect %s@%s: %v", user, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return &rawMy{t: t, c: c}
}

// Two clients execute the same statement, which the proxy prepares once on
// the backend connection they share, with parameters of different types,
// each sending its types on its first execute only: every execute must run
// with its own client's types, whichever ran last on the backend.
func TestMySQLStmtTypesAcrossClients(t *testing.T) {
	f := newMyFixture(t, "{size: 1, timeout: 5s}", "")
	const q = "SELECT name FROM items WHERE id = ?"
	i64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	const longlong, varString = 0x08, 0xfd

	// Control: the server itself keeps a statement's types between
	// executes that do not send them.
	direct := rawConnect(t, "127.0.0.1:3306", "root", "", f.alphaDB)
	did, _, _ := direct.prepare(q)
	for _, c := range []struct {
		typ  byte
		val  []byte
		want string
	}{{longlong, i64(1), f.alphaItems[0]}, {0, i64(2), f.alphaItems[1]}} {
		if got, err := direct.executeName(did, c.typ, c.val); err != nil || got != c.want {
			t.Fatalf("direct: got %q, %v; want %q", got, err, c.want)
		}
	}

	a := rawConnect(t, f.rp.MySQLAddr, "alice", "alice-pw", "alpha")
	b := rawConnect(t, f.rp.MySQLAddr, "alice", "alice-pw", "alpha")
	aid, _, _ := a.prepare(q)
	bid, _, _ := b.prepare(q)
	steps := []struct {
		who  *rawMy
		id   uint32
		typ  byte
		val  []byte
		want string
	}{
		{a, aid, longlong, i64(1), f.alphaItems[0]},
		{a, aid, 0, i64(2), f.alphaItems[1]}, // the backend holds a's types
		{b, bid, varString, str("1"), f.alphaItems[0]},
		{b, bid, 0, str("2"), f.alphaItems[1]},
		{a, aid, 0, i64(1), f.alphaItems[0]}, // b's types ran last: a's are sent again
		{b, bid, 0, str("2"), f.alphaItems[1]},
		{a, aid, 0, i64(2), f.alphaItems[1]},
	}
	for i, s := range steps {
		got, err := s.who.executeName(s.id, s.typ, s.val)
		if err != nil || got != s.want {
			t.Fatalf("step %d: got %q, %v; want %q", i, got, err, s.want)
		}
	}
}
