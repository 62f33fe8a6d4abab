package pg

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// stmtNames derives the names of the proxy's statements on backend
// connections. Backend connections are shared by clients, so a name must not
// be guessable from the statement's text: it is an HMAC under a key drawn at
// random when the process starts, and a client cannot reach another client's
// statement by computing its name.
type stmtNames struct {
	key    []byte
	lookup string // the mask lookup's statement and portal
}

func newStmtNames() stmtNames {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	n := stmtNames{key: key}
	n.lookup = n.derive([]byte("mask lookup\x00"))
	return n
}

// statement is the backend name of a client statement: its checked text
// and parameter types.
func (n stmtNames) statement(sql string, oids []uint32) string {
	b := make([]byte, 0, len(sql)+1+4*len(oids))
	b = append(b, sql...)
	b = append(b, 0)
	for _, o := range oids {
		b = binary.BigEndian.AppendUint32(b, o)
	}
	return n.derive(b)
}

func (n stmtNames) derive(b []byte) string {
	m := hmac.New(sha256.New, n.key)
	m.Write(b)
	return "tp_" + hex.EncodeToString(m.Sum(nil)[:16])
}

// portal is the backend name of a client's named portal. A portal is also
// a SQL cursor of the same name on the backend: under its own name a
// client's FETCH or MOVE would read it with no analysis (no masks, no cap).
// The unnamed portal has no SQL name and stays unnamed.
func (n stmtNames) portal(name string) string {
	if name == "" {
		return ""
	}
	return n.derive([]byte("portal\x00" + name))
}
