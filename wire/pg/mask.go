package pg

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Column masks. The policy engine refuses any use of a masked column other
// than as a plain output column, so a masked value can only reach the client
// as a result column whose RowDescription names its origin table OID and
// column number. Before each statement that reads a table with masked
// columns, the proxy looks up, in the same round trip and on the same
// backend connection, the OIDs and column numbers of every table of that
// name; it then masks those columns in the rows it relays. Nothing is cached,
// so a table dropped and created again cannot slip past with a new OID, and
// every statement of a batch has a lookup of its own.
//
// Whatever the proxy cannot decode on this path (a lookup row, a
// RowDescription, a DataRow) ends the statement with an error: a row is
// never forwarded unmasked because it could not be read.

const maskLookupSQL = `SELECT a.attrelid::int8, a.attnum::int4, c.relname::text, a.attname::text
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE c.relname = ANY($1::text[]) AND a.attname = ANY($2::text[]) AND a.attnum > 0`

// maskCol is one column of the current result to mask.
type maskCol struct {
	index int
	text  bool // a text-like type: masked with a string, else NULL
}

// masker holds the masked columns of one statement: what the role masks,
// what the lookup found on the backend, and which columns of the result
// being relayed they are.
type masker struct {
	style string          // the role's mask style
	want  map[string]bool // "table.column" masks of the statement
	cols  map[uint64]bool // table OID<<16 | column number, from the lookup
	idx   []maskCol       // columns of the current result to mask
	ready bool            // the current result's columns are known
}

func newMasker(style string, masked []string) *masker {
	m := &masker{style: style, want: make(map[string]bool, len(masked)), cols: make(map[uint64]bool)}
	for _, c := range masked {
		m.want[c] = true
	}
	return m
}

// errUndecodable ends a statement whose result cannot be masked.
func errUndecodable(what string) error {
	return sqlerr.New(sqlerr.Internal, "a %s could not be decoded for column masking; the statement was stopped", what)
}

// textTypes are the type OIDs whose values can be replaced by a string.
var textTypes = map[uint32]bool{25: true, 1043: true, 1042: true, 19: true, 705: true}

// arrayLiteral renders names as a Postgres text array literal, quoting each
// element so that no name can change the array's shape.
func arrayLiteral(names []string) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range n {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// maskLookup returns the messages and expected responses of the lookup of
// m's columns on the current backend. It runs through a portal of its own,
// closed again, so that it can sit anywhere in a batch without touching the
// client's unnamed portal.
func (s *session) maskLookup(m *masker) ([]byte, []expect) {
	var tables, cols []string
	for c := range m.want {
		t, col, ok := strings.Cut(c, ".")
		if !ok {
			continue
		}
		tables = append(tables, t)
		cols = append(cols, col)
	}
	var out []byte
	var exp []expect
	be := s.be.Conn
	name := s.srv.names.lookup
	if be.Prepared.Has(name) {
		be.Prepared.Touch(name)
	} else {
		out, exp = s.closeEvicted(out, exp, be.Prepared.Add(name, s.portalUses))
		out = appendMsg(out, &pgproto3.Parse{Name: name, Query: maskLookupSQL})
		exp = append(exp, expect{typ: '1', swallow: true, prepared: name})
	}
	out = appendMsg(out, &pgproto3.Bind{
		DestinationPortal: name,
		PreparedStatement: name,
		Parameters:        [][]byte{arrayLiteral(tables), arrayLiteral(cols)},
		ResultFormatCodes: []int16{0},
	})
	out = appendMsg(out, &pgproto3.Execute{Portal: name})
	out = appendMsg(out, &pgproto3.Close{ObjectType: 'P', Name: name})
	exp = append(exp,
		expect{typ: '2', swallow: true},
		expect{typ: 'e', swallow: true, lookup: true, mask: m},
		expect{typ: '3', swallow: true})
	return out, exp
}

// record takes one row of the lookup.
func (m *masker) record(body []byte) error {
	var row pgproto3.DataRow
	if err := row.Decode(body); err != nil || len(row.Values) != 4 {
		return errUndecodable("row of the mask lookup")
	}
	if !m.want[string(row.Values[2])+"."+string(row.Values[3])] {
		return nil
	}
	oid, err1 := strconv.ParseUint(string(row.Values[0]), 10, 32)
	att, err2 := strconv.ParseUint(string(row.Values[1]), 10, 16)
	if err1 != nil || err2 != nil {
		return errUndecodable("row of the mask lookup")
	}
	m.cols[oid<<16|att] = true
	return nil
}

// columns computes which columns of a result to mask.
func (m *masker) columns(body []byte) error {
	m.idx = m.idx[:0]
	m.ready = true
	if len(m.cols) == 0 {
		return nil
	}
	var rd pgproto3.RowDescription
	if err := rd.Decode(body); err != nil {
		return errUndecodable("row description")
	}
	for i, f := range rd.Fields {
		if f.TableOID != 0 && m.cols[uint64(f.TableOID)<<16|uint64(f.TableAttributeNumber)] {
			m.idx = append(m.idx, maskCol{index: i, text: textTypes[f.DataTypeOID]})
		}
	}
	return nil
}

// active reports whether rows of the current result need rewriting.
func (m *masker) active() bool { return m != nil && len(m.idx) > 0 }

// row rewrites a DataRow with the masked columns replaced.
func (m *masker) row(body []byte) ([]byte, error) {
	var row pgproto3.DataRow
	if err := row.Decode(body); err != nil {
		return nil, errUndecodable("result row")
	}
	for _, c := range m.idx {
		if c.index >= len(row.Values) {
			return nil, errUndecodable("result row")
		}
		if row.Values[c.index] == nil {
			continue
		}
		row.Values[c.index] = proxy.MaskValue(m.style, c.text, row.Values[c.index])
	}
	out, err := row.Encode(nil)
	if err != nil {
		return nil, errUndecodable("result row")
	}
	return out[5:], nil
}

// endResult forgets the current result's columns.
func (m *masker) endResult() {
	if m != nil {
		m.idx = m.idx[:0]
		m.ready = false
	}
}
