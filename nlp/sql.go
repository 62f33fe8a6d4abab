package nlp

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// The translator builds a small SELECT tree and renders it in the tenant's
// dialect: every identifier is quoted and every value is rendered as a
// literal by construction, so no text of the question reaches the SQL
// except as an escaped literal.

type sqlExpr interface {
	render(r *renderer) string
}

// colExpr is rel.col, where rel is a table name or a derived table alias.
type colExpr struct {
	rel, col string
}

func (c colExpr) render(r *renderer) string { return r.q(c.rel) + "." + r.q(c.col) }

// starExpr is rel.*.
type starExpr struct{ rel string }

func (s starExpr) render(r *renderer) string { return r.q(s.rel) + ".*" }

// aggExpr is fn(arg), fn(DISTINCT arg) or COUNT(*).
type aggExpr struct {
	fn       string
	arg      sqlExpr
	distinct bool
}

func (a aggExpr) render(r *renderer) string {
	if a.arg == nil {
		return a.fn + "(*)"
	}
	d := ""
	if a.distinct {
		d = "DISTINCT "
	}
	return a.fn + "(" + d + a.arg.render(r) + ")"
}

// litExpr is a literal: string, int64, float64 or nil (NULL).
type litExpr struct{ v any }

func (l litExpr) render(r *renderer) string {
	switch v := l.v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		f := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.ContainsAny(f, ".eE") {
			f += ".0" // keep division exact: 60000.0, not integer 60000
		}
		return f
	case string:
		return r.str(v)
	}
	return "NULL"
}

// binExpr is l op r (comparisons, AND, OR, arithmetic), parenthesised.
type binExpr struct {
	l  sqlExpr
	op string
	r  sqlExpr
}

func (b binExpr) render(r *renderer) string {
	return "(" + b.l.render(r) + " " + b.op + " " + b.r.render(r) + ")"
}

// postfixExpr is e IS NULL / e IS NOT NULL.
type postfixExpr struct {
	e  sqlExpr
	op string
}

func (p postfixExpr) render(r *renderer) string { return "(" + p.e.render(r) + " " + p.op + ")" }

// concatExpr joins text parts with single spaces (a person's full name).
type concatExpr struct{ parts []sqlExpr }

func (c concatExpr) render(r *renderer) string {
	var ps []string
	for i, p := range c.parts {
		if i > 0 {
			ps = append(ps, r.str(" "))
		}
		ps = append(ps, p.render(r))
	}
	if r.d == MySQL {
		return "CONCAT(" + strings.Join(ps, ", ") + ")"
	}
	return "(" + strings.Join(ps, " || ") + ")"
}

// extractExpr is EXTRACT(unit FROM e), which Postgres and MySQL know.
// SQLite has no EXTRACT: its dates are text ('YYYY-MM-DD HH:MM:SS'), read
// with strftime, whose text is cast to the integer EXTRACT yields.
type extractExpr struct {
	unit string // YEAR, MONTH, DAY, QUARTER
	e    sqlExpr
}

func (x extractExpr) render(r *renderer) string {
	if r.d == SQLite {
		part := func(f string) string { return "CAST(strftime('" + f + "', " + x.e.render(r) + ") AS INTEGER)" }
		switch x.unit {
		case "YEAR":
			return part("%Y")
		case "MONTH":
			return part("%m")
		case "DAY":
			return part("%d")
		case "QUARTER": // integer division: months 1-3 are quarter 1
			return "((" + part("%m") + " + 2) / 3)"
		}
	}
	return "EXTRACT(" + x.unit + " FROM " + x.e.render(r) + ")"
}

// subqExpr is a scalar or IN subquery.
type subqExpr struct{ q *selectQ }

func (s subqExpr) render(r *renderer) string { return "(" + s.q.render(r) + ")" }

// inExpr is e = v, or e IN (v1, v2, …) for several values.
type inExpr struct {
	e    sqlExpr
	vals []sqlExpr
	not  bool
}

func (x inExpr) render(r *renderer) string {
	if len(x.vals) == 1 {
		op := " = "
		if x.not {
			op = " <> "
		}
		return "(" + x.e.render(r) + op + x.vals[0].render(r) + ")"
	}
	vs := make([]string, len(x.vals))
	for i, v := range x.vals {
		vs[i] = v.render(r)
	}
	op := " IN ("
	if x.not {
		op = " NOT IN ("
	}
	return "(" + x.e.render(r) + op + strings.Join(vs, ", ") + "))"
}

// betweenExpr is e BETWEEN lo AND hi.
type betweenExpr struct{ e, lo, hi sqlExpr }

func (b betweenExpr) render(r *renderer) string {
	return "(" + b.e.render(r) + " BETWEEN " + b.lo.render(r) + " AND " + b.hi.render(r) + ")"
}

// existsExpr is [NOT] EXISTS (subquery).
type existsExpr struct {
	not bool
	q   *selectQ
}

func (e existsExpr) render(r *renderer) string {
	if r.outer {
		// What the outer query uses: the key the subquery is correlated with.
		if len(e.q.where) > 0 {
			if b, ok := e.q.where[0].(binExpr); ok {
				return "EXISTS(" + b.r.render(r) + ")"
			}
		}
		return "EXISTS()"
	}
	n := ""
	if e.not {
		n = "NOT "
	}
	return n + "EXISTS (" + e.q.render(r) + ")"
}

type selItem struct {
	e     sqlExpr
	alias string
}

type joinClause struct {
	left bool
	rel  string
	on   []sqlExpr
	as   string // an alias: a second copy of a table (hierarchy.go)
}

// name is how the query refers to the joined table.
func (j joinClause) name() string {
	if j.as != "" {
		return j.as
	}
	return j.rel
}

type orderItem struct {
	e    sqlExpr
	desc bool
}

// selectQ is one SELECT.
type selectQ struct {
	distinct  bool
	items     []selItem
	from      string   // table name, or alias of fromSub
	fromSub   *selectQ // derived table
	joins     []joinClause
	where     []sqlExpr
	group     []sqlExpr
	having    []sqlExpr
	order     []orderItem
	limit     int
	aliasUsed map[string]bool
}

// alias returns a unique output name based on want.
func (q *selectQ) alias(want string) string {
	if q.aliasUsed == nil {
		q.aliasUsed = map[string]bool{}
	}
	a := want
	for i := 2; q.aliasUsed[a]; i++ {
		a = want + "_" + strconv.Itoa(i)
	}
	q.aliasUsed[a] = true
	return a
}

func (q *selectQ) render(r *renderer) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.distinct {
		b.WriteString("DISTINCT ")
	}
	for i, it := range q.items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.e.render(r))
		if it.alias != "" {
			b.WriteString(" AS ")
			b.WriteString(r.q(it.alias))
		}
	}
	b.WriteString(" FROM ")
	if q.fromSub != nil {
		b.WriteString("(" + q.fromSub.render(r) + ") AS " + r.q(q.from))
	} else {
		b.WriteString(r.q(q.from))
	}
	for _, j := range q.joins {
		if j.left {
			b.WriteString(" LEFT JOIN ")
		} else {
			b.WriteString(" JOIN ")
		}
		b.WriteString(r.q(j.rel))
		if j.as != "" {
			b.WriteString(" AS " + r.q(j.as))
		}
		b.WriteString(" ON ")
		b.WriteString(andAll(r, j.on))
	}
	if len(q.where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(andAll(r, q.where))
	}
	if len(q.group) > 0 {
		b.WriteString(" GROUP BY ")
		for i, g := range q.group {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(g.render(r))
		}
	}
	if len(q.having) > 0 {
		b.WriteString(" HAVING ")
		b.WriteString(andAll(r, q.having))
	}
	if len(q.order) > 0 {
		b.WriteString(" ORDER BY ")
		for i, o := range q.order {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(o.e.render(r))
			if o.desc {
				b.WriteString(" DESC")
			} else {
				b.WriteString(" ASC")
			}
		}
	}
	if q.limit > 0 {
		b.WriteString(" LIMIT ")
		b.WriteString(strconv.Itoa(q.limit))
	}
	return b.String()
}

// uses renders what the query does with its tables — the select list, the
// FROM table (or derived table), WHERE, GROUP BY, HAVING and ORDER BY —
// leaving out the join conditions: a table that appears only in a join
// condition contributes nothing the question asked for.
func (q *selectQ) uses(r *renderer) string {
	o := *r
	o.outer = true
	r = &o
	var b strings.Builder
	for _, it := range q.items {
		b.WriteString(it.e.render(r))
		b.WriteString(" ")
	}
	if q.fromSub != nil {
		b.WriteString(q.fromSub.render(r))
	} else {
		b.WriteString(r.q(q.from) + ".FROM ") // the table is read, not all its columns shown
	}
	for _, es := range [][]sqlExpr{q.where, q.having} {
		b.WriteString(andAll(r, es))
		b.WriteString(" ")
	}
	for _, o := range q.order {
		b.WriteString(o.e.render(r))
		b.WriteString(" ")
	}
	return b.String()
}

func andAll(r *renderer, es []sqlExpr) string {
	ps := make([]string, len(es))
	for i, e := range es {
		ps[i] = e.render(r)
	}
	return strings.Join(ps, " AND ")
}

// rawAlias renders a bare output alias (ORDER BY alias).
type rawAlias struct{ name string }

func (a rawAlias) render(r *renderer) string { return r.q(a.name) }

// renderer renders in one dialect.
type renderer struct {
	d Dialect
	q func(string) string
	// outer renders only what a query uses of its own tables: a correlated
	// subquery shows its correlation key, not its own tables (selectQ.uses).
	outer bool
}

func newRenderer(d Dialect) *renderer { return &renderer{d: d, q: quoter(d)} }

// str renders a string literal. Postgres: standard strings, quotes
// doubled. MySQL: quotes doubled; a value with a backslash (whose meaning
// depends on sql_mode) is sent as hex converted to utf8mb4.
func (r *renderer) str(s string) string {
	if r.d == MySQL && (strings.ContainsRune(s, '\\') || strings.ContainsRune(s, 0)) {
		return "CONVERT(X'" + hex.EncodeToString([]byte(s)) + "' USING utf8mb4)"
	}
	if r.d == Postgres && strings.ContainsRune(s, 0) {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// pruneJoins drops joined tables the query does not use: a table that is
// joined last along its path (no other join condition names it) and that
// appears nowhere else in the query. Such a join only multiplies or filters
// rows, which the question did not ask for.
func (q *selectQ) pruneJoins(r *renderer) {
	for changed := true; changed; {
		changed = false
		uses := q.uses(r)
		for i := len(q.joins) - 1; i >= 0; i-- {
			ref := r.q(q.joins[i].name()) + "."
			if strings.Contains(uses, ref) {
				continue
			}
			named := false
			for k, j := range q.joins {
				if k != i && strings.Contains(andAll(r, j.on), ref) {
					named = true
					break
				}
			}
			if named {
				continue
			}
			q.joins = append(q.joins[:i], q.joins[i+1:]...)
			changed = true
			break
		}
	}
}
