package policy

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pingcap/tidb/pkg/parser"
)

// pgStripComments removes the comments of a Postgres text (Normalize keeps
// them, and a comment may carry anything).
func pgStripComments(sql string) (string, error) {
	sc, err := pg.Scan(sql)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, tok := range sc.Tokens {
		if tok.Token != pg.Token_SQL_COMMENT && tok.Token != pg.Token_C_COMMENT {
			continue
		}
		b.WriteString(sql[last:tok.Start])
		last = int(tok.End)
	}
	b.WriteString(sql[last:])
	return strings.Join(strings.Fields(b.String()), " "), nil
}

// maxExample bounds the example text of a statement digest.
const maxExample = 4 << 10

// Fingerprint returns the statement fingerprint of sql in dialect d:
// pg_query's parse-tree fingerprint for Postgres, the TiDB parser's
// normalised digest for MySQL. Texts that differ only in literal values
// (and in the length of IN lists) share a fingerprint. ok is false when the
// text does not parse (Postgres); the caller then has no fingerprint.
//
// The engine computes it once per analysed text (on a cache miss) and
// carries it in the Decision, so a repeated text costs nothing.
func Fingerprint(d Dialect, sql string) (fp string, ok bool) {
	switch d {
	case Postgres:
		v, err := pg.FingerprintToUInt64(sql)
		if err != nil {
			return "", false
		}
		s := strconv.FormatUint(v, 16)
		for len(s) < 16 {
			s = "0" + s
		}
		return s, true
	case MySQL:
		_, dg := parser.NormalizeDigest(sql)
		if dg == nil {
			return "", false
		}
		s := dg.String()
		if len(s) > 16 {
			s = s[:16]
		}
		return s, true
	}
	return "", false
}

// Example returns sql with every literal replaced (Postgres: $1, $2, ...;
// MySQL: ?), bounded in length, or "" when the text cannot be normalised.
// It carries the shape of a statement, never its values.
func Example(d Dialect, sql string) string {
	var out string
	switch d {
	case Postgres:
		n, err := pg.Normalize(sql)
		if err != nil {
			return ""
		}
		if out, err = pgStripComments(n); err != nil {
			return ""
		}
	case MySQL:
		out = parser.Normalize(sql, "ON")
	}
	if len(out) > maxExample {
		cut := maxExample
		for cut > 0 && out[cut]&0xc0 == 0x80 {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}
