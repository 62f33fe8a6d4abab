package test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
)

// resetStmt sends COM_STMT_RESET for id and checks its OK.
func (r *rawMy) resetStmt(id uint32) {
	r.t.Helper()
	pkt := []byte{0x1a, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(pkt[1:], id)
	r.send(pkt...)
	if e := rawErr(r.read()); e != nil {
		r.t.Fatalf("COM_STMT_RESET: %v", e)
	}
}

// A COM_STMT_RESET forwarded to the shared backend statement leaves the
// types it was bound to in place (control against the server itself), so
// the proxy's record of them stays right: another client's execute without
// types afterwards still runs with its own.
func TestMySQLStmtTypesAfterReset(t *testing.T) {
	f := newMyFixture(t, "{size: 1, timeout: 5s}", "")
	const q = "SELECT name FROM items WHERE id = ?"
	i64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	const longlong = 0x08

	direct := rawConnect(t, "127.0.0.1:3306", "root", "", f.alphaDB)
	did, _, _ := direct.prepare(q)
	if got, err := direct.executeName(did, longlong, i64(1)); err != nil || got != f.alphaItems[0] {
		t.Fatalf("direct: got %q, %v", got, err)
	}
	direct.resetStmt(did)
	if got, err := direct.executeName(did, 0, i64(2)); err != nil || got != f.alphaItems[1] {
		t.Fatalf("direct after reset: got %q, %v; want %q", got, err, f.alphaItems[1])
	}

	a := rawConnect(t, f.rp.MySQLAddr, "alice", "alice-pw", "alpha")
	b := rawConnect(t, f.rp.MySQLAddr, "alice", "alice-pw", "alpha")
	aid, _, _ := a.prepare(q)
	bid, _, _ := b.prepare(q)
	if got, err := b.executeName(bid, longlong, i64(1)); err != nil || got != f.alphaItems[0] {
		t.Fatalf("b: got %q, %v", got, err)
	}
	if got, err := a.executeName(aid, longlong, i64(2)); err != nil || got != f.alphaItems[1] {
		t.Fatalf("a: got %q, %v", got, err)
	}
	a.resetStmt(aid)
	if got, err := b.executeName(bid, 0, i64(2)); err != nil || got != f.alphaItems[1] {
		t.Fatalf("b after a's reset: got %q, %v; want %q", got, err, f.alphaItems[1])
	}
}

// Many clients share one backend connection and its prepared statement,
// each binding the parameter with its own type (integer, string, double,
// unsigned) and sending the type on its first execute only: every answer
// must be the row its own value selects.
func TestMySQLStmtTypesConcurrentClients(t *testing.T) {
	f := newMyFixture(t, "{size: 1, timeout: 20s}", "")
	const q = "SELECT name FROM items WHERE id = ?"
	type enc struct {
		typ, unsigned byte
		val           func(id int) []byte
	}
	encs := []enc{
		{0x08, 0, func(id int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(id)) }},
		{0x08, 0x80, func(id int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(id)) }},
		{0x03, 0, func(id int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(id)) }},
		{0x02, 0, func(id int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(id)) }},
		{0xfd, 0, func(id int) []byte { s := fmt.Sprint(id); return append([]byte{byte(len(s))}, s...) }},
	}
	const clients, rounds = 10, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		r := rawConnect(t, f.rp.MySQLAddr, "alice", "alice-pw", "alpha")
		e := encs[c%len(encs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, _, _ := r.prepare(q)
			for i := 0; i < rounds; i++ {
				row := 1 + (c+i)%2
				pkt := []byte{0x17, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
				binary.LittleEndian.PutUint32(pkt[1:], id)
				if i == 0 {
					pkt = append(pkt, 1, e.typ, e.unsigned)
				} else {
					pkt = append(pkt, 0)
				}
				pkt = append(pkt, e.val(row)...)
				r.send(pkt...)
				got, err := r.readName()
				if err != nil || got != f.alphaItems[row-1] {
					errs <- fmt.Errorf("client %d (type %#x) round %d: got %q, %v; want %q", c, e.typ, i, got, err, f.alphaItems[row-1])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
