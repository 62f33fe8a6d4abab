package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

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

// templateKey returns the template cache key of sql and its literal tokens,
// or false when the text has no literal or the lexer gave up.
func templateKey(d Dialect, sql string, k cacheKey) (cacheKey, []string, bool) {
	t, lits, ok := templateLits(d, sql)
	if !ok {
		return cacheKey{}, nil, false
	}
	k.template = true
	k.sql = t
	return k, lits, true
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// templateOf returns sql with its plain literals replaced by markers, or false.
func templateOf(d Dialect, sql string) (string, bool) {
	t, _, ok := templateLits(d, sql)
	return t, ok
}

// templateLits returns the template of sql and its literal tokens in order.
func templateLits(d Dialect, sql string) (string, []string, bool) {
	if len(sql) > 8192 {
		return "", nil, false
	}
	var tokens []string
	var b strings.Builder
	b.Grow(len(sql))
	lits := 0
	last := 0 // start of the text not yet copied
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c >= 0x80 || c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return "", nil, false
		case c == '$' || c == '\\' || c == '?' || c == '#' || c == '`' && d == Postgres:
			return "", nil, false
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			return "", nil, false
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			return "", nil, false
		case c == '"':
			if d == MySQL {
				return "", nil, false // a string unless ANSI_QUOTES: ambiguous
			}
			j := skipQuoted(sql, i, '"')
			if j < 0 {
				return "", nil, false
			}
			i = j
		case c == '`':
			j := skipQuoted(sql, i, '`')
			if j < 0 {
				return "", nil, false
			}
			i = j
		case c == '\'':
			if i > 0 && (isIdentByte(sql[i-1]) || sql[i-1] == '&' || sql[i-1] == '\'') {
				return "", nil, false // E'', X'', B'', N'', U&'', _utf8'', adjacency
			}
			j := skipQuoted(sql, i, '\'')
			if j < 0 {
				return "", nil, false
			}
			if j < len(sql) && (isIdentByte(sql[j]) || sql[j] == '\'') {
				return "", nil, false
			}
			b.WriteString(sql[last:i])
			b.WriteString(markStr)
			tokens = append(tokens, sql[i:j])
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
					return "", nil, false
				}
				for j < len(sql) && isDigit(sql[j]) {
					j++
				}
			}
			if j < len(sql) && (isIdentByte(sql[j]) || sql[j] == '.' || sql[j] == '\'' || sql[j] == '"' || sql[j] == '`') {
				return "", nil, false
			}
			b.WriteString(sql[last:i])
			b.WriteString(markNum)
			tokens = append(tokens, sql[i:j])
			last = j
			lits++
			i = j
		case c == '.' && i+1 < len(sql) && isDigit(sql[i+1]) && (i == 0 || !isIdentByte(sql[i-1])):
			return "", nil, false // .5
		default:
			i++
		}
	}
	if lits == 0 {
		return "", nil, false
	}
	b.WriteString(sql[last:])
	return b.String(), tokens, true
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

// Rewritten templates.
//
// A statement the policy rewrites (a LIMIT injected, a row filter added) can
// reuse its template too, when the analysis read no literal value: the
// rewrite is then the same for every literal, and only the literals differ
// in the output. To find where each literal lands in the output, the text is
// analysed once more with every literal replaced by a unique sentinel of the
// same kind (an int32-sized integer, a larger integer, a decimal, a string);
// each sentinel must appear exactly once in the rewritten output. The output
// template is accepted only if filling it with the first text's own literals
// gives exactly the output the full analysis produced for that text.

// outTemplate is a rewritten statement with holes for the literals:
// parts[0] lit[slots[0]] parts[1] ... lit[slots[n-1]] parts[n].
type outTemplate struct {
	parts []string
	slots []int
}

func (o *outTemplate) fill(lits []string) string {
	n := len(o.parts[len(o.parts)-1])
	for i, p := range o.parts[:len(o.parts)-1] {
		n += len(p) + len(lits[o.slots[i]])
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range o.parts[:len(o.parts)-1] {
		b.WriteString(p)
		b.WriteString(lits[o.slots[i]])
	}
	b.WriteString(o.parts[len(o.parts)-1])
	return b.String()
}

// sentinel returns a literal of the same kind as tok, unique for k.
func sentinel(tok string, k int) string {
	if tok[0] == '\'' {
		return fmt.Sprintf("'tp_slot_%d_x'", k)
	}
	if strings.ContainsAny(tok, ".eE") {
		return fmt.Sprintf("%d.25", 700000000+k)
	}
	if v, err := strconv.ParseInt(tok, 10, 64); err == nil && v <= 2147483647 {
		return strconv.Itoa(1000000000 + k)
	}
	return strconv.FormatInt(90000000000+int64(k), 10)
}

// withSentinels rebuilds the text of template tmpl with sentinels.
func withSentinels(tmpl string, lits []string) (string, []string) {
	sent := make([]string, len(lits))
	var b strings.Builder
	k := 0
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] == '\x01' && i+1 < len(tmpl) && k < len(lits) {
			sent[k] = sentinel(lits[k], k)
			b.WriteString(sent[k])
			k++
			i++
			continue
		}
		b.WriteByte(tmpl[i])
	}
	return b.String(), sent
}

// findToken returns the positions of tok in out as a whole token.
func findToken(out, tok string) []int {
	var at []int
	for i := 0; ; {
		j := strings.Index(out[i:], tok)
		if j < 0 {
			return at
		}
		j += i
		end := j + len(tok)
		ok := true
		if tok[0] != '\'' {
			if j > 0 && (isIdentByte(out[j-1]) || out[j-1] == '.') {
				ok = false
			}
			if end < len(out) && (isIdentByte(out[end]) || out[end] == '.') {
				ok = false
			}
		}
		if ok {
			at = append(at, j)
		}
		i = j + 1
	}
}

// buildOutTemplate maps the sentinels of out back to literal slots.
func buildOutTemplate(out string, sent []string) (*outTemplate, bool) {
	type hole struct{ at, slot, n int }
	holes := make([]hole, 0, len(sent))
	for k, tok := range sent {
		at := findToken(out, tok)
		if len(at) != 1 {
			return nil, false
		}
		holes = append(holes, hole{at[0], k, len(tok)})
	}
	sort.Slice(holes, func(i, j int) bool { return holes[i].at < holes[j].at })
	o := &outTemplate{}
	last := 0
	for _, h := range holes {
		if h.at < last {
			return nil, false
		}
		o.parts = append(o.parts, out[last:h.at])
		o.slots = append(o.slots, h.slot)
		last = h.at + h.n
	}
	o.parts = append(o.parts, out[last:])
	return o, true
}

// sameShape reports whether two decisions differ at most in their SQL.
func sameShape(a, b *Decision) bool {
	if a.Rewritten != b.Rewritten || a.Capped != b.Capped || a.MaxRows != b.MaxRows || a.MaskOutput != b.MaskOutput ||
		len(a.Stmts) != len(b.Stmts) || strings.Join(a.Masked, ",") != strings.Join(b.Masked, ",") {
		return false
	}
	for i := range a.Stmts {
		x, y := a.Stmts[i], b.Stmts[i]
		if x.Class != y.Class || x.Kind != y.Kind || x.Pins != y.Pins || x.Set != nil || y.Set != nil ||
			x.TenantSwitch != "" || y.TenantSwitch != "" || x.ShowVar != "" || y.ShowVar != "" ||
			strings.Join(x.Tables, ",") != strings.Join(y.Tables, ",") {
			return false
		}
	}
	return true
}
