package mysql

import (
	"crypto/sha256"
	"encoding/hex"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/policy"
)

// Column masks. The policy engine refuses any use of a masked column other
// than as a plain output column, whose column definition names its original
// table and column (org_table, org_name); the relay replaces the values of
// such columns: strings by the mask, other types by NULL.

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
// it cannot parse is replaced by one with every column NULL rather than
// passed on unmasked.
func maskRow(p []byte, cols []column, bin bool, style string) []byte {
	if bin {
		return maskBinaryRow(p, cols, style)
	}
	out := make([]byte, 0, len(p))
	pos := 0
	for _, c := range cols {
		if pos >= len(p) {
			return nullRow(cols, false)
		}
		if p[pos] == 0xfb {
			out = append(out, 0xfb)
			pos++
			continue
		}
		v, _, n, err := lenencString(p[pos:])
		if err != nil {
			return nullRow(cols, false)
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
	return out
}

func maskBinaryRow(p []byte, cols []column, style string) []byte {
	nb := (len(cols) + 7 + 2) / 8
	if len(p) < 1+nb {
		return nullRow(cols, true)
	}
	bitmap := append([]byte(nil), p[1:1+nb]...)
	var values []byte
	pos := 1 + nb
	for i, c := range cols {
		bit := byte(1 << ((i + 2) % 8))
		if bitmap[(i+2)/8]&bit != 0 {
			continue // NULL: no value bytes
		}
		n, isStr := binaryLen(c.typ, p[pos:])
		if isStr {
			// binaryLen leaves length-encoded values to the caller
			_, _, ln, err := lenencString(p[pos:])
			if err != nil {
				return nullRow(cols, true)
			}
			n = ln
		}
		if n < 0 || pos+n > len(p) {
			return nullRow(cols, true)
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
	out := make([]byte, 0, 1+nb+len(values))
	out = append(out, 0x00)
	out = append(out, bitmap...)
	return append(out, values...)
}

// nullRow is a row with every column NULL.
func nullRow(cols []column, bin bool) []byte {
	if !bin {
		out := make([]byte, len(cols))
		for i := range out {
			out[i] = 0xfb
		}
		return out
	}
	nb := (len(cols) + 7 + 2) / 8
	out := make([]byte, 1+nb)
	for i := range cols {
		out[1+(i+2)/8] |= 1 << ((i + 2) % 8)
	}
	return out
}
