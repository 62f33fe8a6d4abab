package policy

import "strings"

// The literal fast path.
//
// pgbench-style simple-protocol traffic repeats one statement with different
// literals, which misses a text-keyed cache every time. templateOf replaces
// the unambiguous literals of a text (plain decimal numbers and plain '...'
// strings) with markers; texts with the same template differ only in those
// literal values. A template's decision is reused only when the first text's
// analysis was "allowed, not rewritten, nothing session-related" and the
// analyser read no literal value while deciding (it records every read:
// LIMIT counts, function arguments it inspects, INSERT tenant values, SET
// values, ...), and only for plain SELECT/INSERT/UPDATE/DELETE/VALUES
// statements. Then the decision cannot depend on the literals, and the output
// is the input text unchanged.
//
// The lexer gives up (no fast path) on anything it is not sure about:
// comments, dollar signs (parameters, dollar quotes), backslashes, quote
// prefixes (E'', X'', N'', _charset''), MySQL double-quoted strings,
// non-ASCII or control bytes, numbers glued to letters (0x1F, 1e, 1_000),
// question marks and unbalanced quotes.

const (
	markNum = "\x01n"
	markStr = "\x01s"
)

// templateKey returns the template cache key of sql, or false when the text
// has no literal or the lexer gave up.
func templateKey(s Subject, d Dialect, sql string, k cacheKey) (cacheKey, bool) {
	t, ok := templateOf(d, sql)
	if !ok {
		return cacheKey{}, false
	}
	k.template = true
	k.sql = t
	return k, true
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// templateOf returns sql with its plain literals replaced by markers, or false.
func templateOf(d Dialect, sql string) (string, bool) {
	if len(sql) > 8192 {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(sql))
	lits := 0
	last := 0 // start of the text not yet copied
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c >= 0x80 || c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return "", false
		case c == '$' || c == '\\' || c == '?' || c == '#' || c == '`' && d == Postgres:
			return "", false
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			return "", false
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			return "", false
		case c == '"':
			if d == MySQL {
				return "", false // a string unless ANSI_QUOTES: ambiguous
			}
			j := skipQuoted(sql, i, '"')
			if j < 0 {
				return "", false
			}
			i = j
		case c == '`':
			j := skipQuoted(sql, i, '`')
			if j < 0 {
				return "", false
			}
			i = j
		case c == '\'':
			if i > 0 && (isIdentByte(sql[i-1]) || sql[i-1] == '&' || sql[i-1] == '\'') {
				return "", false // E'', X'', B'', N'', U&'', _utf8'', adjacency
			}
			j := skipQuoted(sql, i, '\'')
			if j < 0 {
				return "", false
			}
			if j < len(sql) && (isIdentByte(sql[j]) || sql[j] == '\'') {
				return "", false
			}
			b.WriteString(sql[last:i])
			b.WriteString(markStr)
			last = j
			lits++
			i = j
		case isDigit(c):
			if i > 0 && (isIdentByte(sql[i-1]) || sql[i-1] == '.') {
				// part of an identifier (t1) or after a dot: skip the run
				for i < len(sql) && isIdentByte(sql[i]) {
					i++
				}
				continue
			}
			j := i
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			if j < len(sql) && sql[j] == '.' {
				j++
				for j < len(sql) && isDigit(sql[j]) {
					j++
				}
			}
			if j < len(sql) && (sql[j] == 'e' || sql[j] == 'E') {
				j++
				if j < len(sql) && (sql[j] == '+' || sql[j] == '-') {
					j++
				}
				if j >= len(sql) || !isDigit(sql[j]) {
					return "", false
				}
				for j < len(sql) && isDigit(sql[j]) {
					j++
				}
			}
			if j < len(sql) && (isIdentByte(sql[j]) || sql[j] == '.' || sql[j] == '\'' || sql[j] == '"' || sql[j] == '`') {
				return "", false
			}
			b.WriteString(sql[last:i])
			b.WriteString(markNum)
			last = j
			lits++
			i = j
		case c == '.' && i+1 < len(sql) && isDigit(sql[i+1]) && (i == 0 || !isIdentByte(sql[i-1])):
			return "", false // .5
		default:
			i++
		}
	}
	if lits == 0 {
		return "", false
	}
	b.WriteString(sql[last:])
	return b.String(), true
}

// skipQuoted returns the index just past the quoted token starting at sql[i]
// (a doubled quote stands for itself), or -1 when it is unterminated or holds
// a backslash, a control or a non-ASCII byte.
func skipQuoted(sql string, i int, q byte) int {
	j := i + 1
	for j < len(sql) {
		if c := sql[j]; c == '\\' || c >= 0x80 || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return -1 // escapes and anything unusual: no fast path
		}
		if sql[j] == q {
			if j+1 < len(sql) && sql[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return -1
}
