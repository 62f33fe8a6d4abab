package pg

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// Column masks. The policy engine refuses any use of a masked column other
// than as a plain output column, so a masked value can only reach the client
// as a result column whose RowDescription names its origin table OID and
// column number. Before a statement that reads a table with masked columns,
// the proxy looks up, in the same round trip and on the same backend
// connection, the OIDs and column numbers of every table of that name; it
// then masks those columns in the rows it relays. Nothing is cached, so a
// table dropped and created again cannot slip past with a new OID.

// maskLookupName is the backend statement of the lookup.
const maskLookupName = "tp_mask_lookup"

const maskLookupSQL = `SELECT a.attrelid::int8, a.attnum::int4, c.relname::text, a.attname::text
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE c.relname = ANY($1::text[]) AND a.attname = ANY($2::text[]) AND a.attnum > 0`

// maskCol is one column of the current result to mask.
type maskCol struct {
	index int
	text  bool // a text-like type: masked with a string, else NULL
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

// appendMaskLookup adds the lookup of the masked columns of dec to the
// batch, ahead of the client's messages.
func (s *session) maskLookup(masked []string) ([]byte, []expect) {
	var tables, cols []string
	s.maskWant = make(map[string]bool, len(masked))
	for _, m := range masked {
		t, c, ok := strings.Cut(m, ".")
		if !ok {
			continue
		}
		tables = append(tables, t)
		cols = append(cols, c)
		s.maskWant[m] = true
	}
	s.maskCols = make(map[uint64]bool)
	var out []byte
	var exp []expect
	be := s.be.Conn
	if _, ok := be.Prepared[maskLookupName]; !ok {
		out = appendMsg(out, &pgproto3.Parse{Name: maskLookupName, Query: maskLookupSQL})
		be.Prepared[maskLookupName] = struct{}{}
		exp = append(exp, expect{typ: '1', swallow: true, prepared: maskLookupName})
	}
	out = appendMsg(out, &pgproto3.Bind{
		PreparedStatement: maskLookupName,
		Parameters:        [][]byte{arrayLiteral(tables), arrayLiteral(cols)},
		ResultFormatCodes: []int16{0},
	})
	out = appendMsg(out, &pgproto3.Execute{})
	exp = append(exp, expect{typ: '2', swallow: true}, expect{typ: 'e', swallow: true, lookup: true})
	return out, exp
}

// recordMaskRow takes one row of the lookup.
func (s *session) recordMaskRow(body []byte) {
	var row pgproto3.DataRow
	if err := row.Decode(body); err != nil || len(row.Values) != 4 {
		return
	}
	if !s.maskWant[string(row.Values[2])+"."+string(row.Values[3])] {
		return
	}
	oid, err1 := strconv.ParseUint(string(row.Values[0]), 10, 32)
	att, err2 := strconv.ParseUint(string(row.Values[1]), 10, 16)
	if err1 != nil || err2 != nil {
		return
	}
	s.maskCols[oid<<16|att] = true
}

// maskColumns computes which columns of a result to mask.
func (s *session) maskColumns(body []byte) {
	s.maskIdx = s.maskIdx[:0]
	if len(s.maskCols) == 0 {
		return
	}
	var rd pgproto3.RowDescription
	if err := rd.Decode(body); err != nil {
		return
	}
	for i, f := range rd.Fields {
		if f.TableOID != 0 && s.maskCols[uint64(f.TableOID)<<16|uint64(f.TableAttributeNumber)] {
			s.maskIdx = append(s.maskIdx, maskCol{index: i, text: textTypes[f.DataTypeOID]})
		}
	}
}

// maskRow rewrites a DataRow with the masked columns replaced.
func (s *session) maskRow(body []byte) []byte {
	var row pgproto3.DataRow
	if err := row.Decode(body); err != nil {
		return body
	}
	for _, m := range s.maskIdx {
		if m.index >= len(row.Values) || row.Values[m.index] == nil {
			continue
		}
		row.Values[m.index] = proxy.MaskValue(s.b.Role.Mask, m.text, row.Values[m.index])
	}
	out, err := row.Encode(nil)
	if err != nil {
		return body
	}
	return out[5:]
}
