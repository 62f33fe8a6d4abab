package mysql

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Column masks. The policy engine refuses any use of a masked column other
// than as a plain output column and describes the top-level select list
// (policy.Output): which positions are masked columns, which a * covers.
// The relay decides masks from that, by position; the column definitions
// only confirm (a masked position must name the masked column as org_name),
// and where they disagree the result is refused. Values of masked columns
// are replaced: strings by the mask, other types by NULL. A row that cannot
// be decoded ends the statement with an error.

func hasMasked(cols []column) bool {
	for _, c := range cols {
		if c.masked {
			return true
		}
	}
	return false
}

// stringType reports whether values of typ are sent as length-encoded strings
// in the binary protocol and can hold the mask text.
func stringType(typ byte) bool {
	switch typ {
	case gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_VAR_STRING, gmysql.MYSQL_TYPE_STRING,
		gmysql.MYSQL_TYPE_TINY_BLOB, gmysql.MYSQL_TYPE_MEDIUM_BLOB, gmysql.MYSQL_TYPE_LONG_BLOB,
		gmysql.MYSQL_TYPE_BLOB, gmysql.MYSQL_TYPE_ENUM, gmysql.MYSQL_TYPE_SET, gmysql.MYSQL_TYPE_JSON:
		return true
	}
	return false
}

// maskValue is what a client sees in place of a masked string value; nil
// means NULL.
func maskValue(style string, v []byte) []byte {
	switch style {
	case policy.MaskNull:
		return nil
	case policy.MaskHash:
		h := sha256.Sum256(v)
		return []byte(hex.EncodeToString(h[:8]))
	}
	return []byte("****")
}

// maskRow rewrites one row packet with the masked columns replaced. A row
// it cannot decode is an error (errMalformed): it is never passed on.
func maskRow(p []byte, cols []column, bin bool, style string) ([]byte, error) {
	if bin {
		return maskBinaryRow(p, cols, style)
	}
	out := make([]byte, 0, len(p))
	pos := 0
	for _, c := range cols {
		if pos >= len(p) {
			return nil, errMalformed
		}
		if p[pos] == 0xfb {
			out = append(out, 0xfb)
			pos++
			continue
		}
		v, _, n, err := lenencString(p[pos:])
		if err != nil {
			return nil, errMalformed
		}
		if c.masked {
			if m := maskValue(style, v); m != nil && stringType(c.typ) {
				out = append(out, gmysql.PutLengthEncodedString(m)...)
			} else {
				out = append(out, 0xfb)
			}
		} else {
			out = append(out, p[pos:pos+n]...)
		}
		pos += n
	}
	if pos != len(p) {
		return nil, errMalformed
	}
	return out, nil
}

func maskBinaryRow(p []byte, cols []column, style string) ([]byte, error) {
	nb := (len(cols) + 7 + 2) / 8
	if len(p) < 1+nb || p[0] != 0x00 {
		return nil, errMalformed
	}
	bitmap := append([]byte(nil), p[1:1+nb]...)
	var values []byte
	pos := 1 + nb
	for i, c := range cols {
		bit := byte(1 << ((i + 2) % 8))
		if bitmap[(i+2)/8]&bit != 0 {
			continue // NULL: no value bytes
		}
		if pos > len(p) {
			return nil, errMalformed
		}
		n, isStr := binaryLen(c.typ, p[pos:])
		if isStr {
			// binaryLen leaves length-encoded values to the caller
			_, _, ln, err := lenencString(p[pos:])
			if err != nil {
				return nil, errMalformed
			}
			n = ln
		}
		if n < 0 || pos+n > len(p) {
			return nil, errMalformed
		}
		if !c.masked {
			values = append(values, p[pos:pos+n]...)
			pos += n
			continue
		}
		var v []byte
		if isStr {
			v, _, _, _ = lenencString(p[pos : pos+n])
		}
		if m := maskValue(style, v); m != nil && isStr && stringType(c.typ) {
			values = append(values, gmysql.PutLengthEncodedString(m)...)
		} else {
			bitmap[(i+2)/8] |= bit
		}
		pos += n
	}
	if pos != len(p) {
		return nil, errMalformed
	}
	out := make([]byte, 0, 1+nb+len(values))
	out = append(out, 0x00)
	out = append(out, bitmap...)
	return append(out, values...), nil
}

// decideMasks marks the masked columns of a result: by position from the
// analysed statement's Output, which the column definitions must confirm
// (a disagreement is an error: the result is refused); for a statement
// without one that reads a table with masked columns (idx beyond the
// statements, too), every column whose original name or label is a masked
// column's name. Column definitions naming a masked table.column are masked
// in any case.
func (s *session) decideMasks(cols []column, o relayOpts, idx int) error {
	if len(o.masked) == 0 {
		return nil
	}
	var st *policy.Stmt
	if idx < len(o.stmts) {
		st = &o.stmts[idx]
	}
	if st != nil && st.Output != nil {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.orgName
		}
		m, err := st.Output.Masks(names)
		if err != nil {
			return sqlerr.Wrap(sqlerr.Permission, err, "permission denied: the result's columns do not match the statement the proxy checked for role %q (masked columns could not be placed); the statement was refused", s.b.Role.Name)
		}
		for i := range cols {
			cols[i].masked = cols[i].masked || m[i]
		}
		return nil
	}
	names := map[string]bool{}
	for _, mk := range o.masked {
		t, c, _ := strings.Cut(strings.ToLower(mk), ".")
		if st == nil || containsFold(st.Tables, t) {
			names[c] = true
		}
	}
	for i := range cols {
		if names[cols[i].orgName] || names[cols[i].name] {
			cols[i].masked = true
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// errRowDecode is the error that ends a statement whose row the relay
// could not decode for masking or filtering.
func errRowDecode(tenant string) error {
	return sqlerr.New(sqlerr.Internal, "a result row from the backend of tenant %q could not be decoded for masking or filtering; the statement was stopped", tenant)
}

// refuseResult ends a response with err instead of the result set whose
// column definitions (or a row) were just read: the rest of the backend's
// response is read and dropped, so the connection stays in step. inRows
// says whether rows of the current result follow (false when the result's
// EOF carried CURSOR_EXISTS: nothing follows).
func (s *session) refuseResult(res relayResult, err error, status uint16, inRows bool,
	next func() ([]byte, error)) (relayResult, error) {
	more := !inRows && status&gmysql.SERVER_MORE_RESULTS_EXISTS != 0
	if status != 0 {
		s.status = status
	}
	for inRows || more {
		p, nerr := next()
		if nerr != nil {
			return res, nerr
		}
		switch {
		case p[0] == 0xff:
			inRows, more = false, false
		case inRows && isEOF(p):
			inRows = false
			more = eofStatus(p)&gmysql.SERVER_MORE_RESULTS_EXISTS != 0
			s.status = eofStatus(p)
		case !inRows && p[0] == 0x00:
			more = okStatus(p)&gmysql.SERVER_MORE_RESULTS_EXISTS != 0
			s.status = okStatus(p)
		case !inRows:
			// the header of a further result: its definitions, EOF, rows
			n, _, k := lenencInt(p)
			if k == 0 {
				return res, s.backendLost(errors.New("malformed result set header from backend"))
			}
			for i := uint64(0); i <= n; i++ {
				if _, nerr := next(); nerr != nil {
					return res, nerr
				}
			}
			inRows = true
		}
	}
	res.failed = true
	s.done()
	s.holdWarn = false
	s.srv.p.Metrics.Error(s.b.Tenant.ID, mysqlState(err), err)
	s.aud.Fail(err, "")
	s.log.Warn("result_refused", "error", err)
	return res, s.c.write(errPacket(err))
}
