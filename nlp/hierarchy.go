package nlp

import "strings"

// Hierarchies: a foreign key of a table to itself ("reports_to",
// "manager_id") relates two rows of one table, which a query over that
// table's columns cannot tell apart. Two readings are safe without an
// alias: the rows with no parent ("employees who do not have a manager":
// the key IS NULL, left to the NULL tests of filter.go), and the rows
// whose parent is named by its values ("employees who report to Andrew
// Adams": the key IN the keys of the rows with those values). A listing
// may show each row's parent ("each employee with their manager": a LEFT
// JOIN of a second copy of the table under the question's word). Any other
// question about the hierarchy is declined.

// selfRef decides a column mention m that is a foreign key of its table to
// itself. It reports whether a safe reading takes it; otherwise the
// question is declined.
func (p *parser) selfRef(f *frame, m *mention) bool {
	// "who do not have a manager", "without a manager", "with no manager".
	for k := m.start - 1; k >= 0 && k >= m.start-4; k-- {
		t := p.toks[k]
		if t.punct || p.byTok[k] != nil {
			break
		}
		if t.low == "not" || t.low == "no" || t.low == "without" || t.low == "don't" || t.low == "doesn't" {
			return m.col.Nullable
		}
	}
	return p.parentNamed(f, m) || p.parentShown(f, m)
}

// parentShown reads "<rows> with|and their|the <key>" ("list each employee
// with their manager") as a listing that shows the parent's name.
func (p *parser) parentShown(f *frame, m *mention) bool {
	t := m.table
	k := m.start - 1
	if p.at(k, "their") || p.at(k, "the") || p.at(k, "its") || p.at(k, "his") || p.at(k, "her") {
		k--
	}
	if !(p.at(k, "with") || p.at(k, "and")) || len(t.PrimaryKey) != 1 || len(labelCols(t)) == 0 || f.selfParent != nil {
		return false
	}
	if p.hasAggCue() {
		return false // counts of the hierarchy need more than one copy
	}
	f.selfParent = m
	m.used = true
	p.mark(k, m.end-k)
	for i := range p.toks {
		if p.at(i, "hierarchy") { // "the employee hierarchy": what the parents show
			p.mark(i, 1)
		}
	}
	return true
}

// showParent adds to a listing of main the name of each row's parent,
// through a LEFT JOIN of a second copy of main named after the question's
// word (rows without a parent keep a NULL).
func (p *parser) showParent(q *selectQ, f *frame) {
	m := f.selfParent
	if m == nil || m.table != f.main {
		return
	}
	t := f.main
	alias := snake(strings.Join(lemmas(wordsOf(p.toks[m.start:m.end])), " "))
	if alias == "" || alias == snake(t.Name) || t.Column(alias) != nil {
		alias = "parent"
	}
	q.joins = append(q.joins, joinClause{left: true, rel: t.Name, as: alias,
		on: []sqlExpr{binExpr{colExpr{t.Name, m.col.Name}, "=", colExpr{alias, t.PrimaryKey[0]}}}})
	l := labelCols(t)
	var e sqlExpr = colExpr{alias, l[0].Name}
	if len(l) == 2 {
		e = concatExpr{[]sqlExpr{colExpr{alias, l[0].Name}, colExpr{alias, l[1].Name}}}
	}
	q.items = append(q.items, selItem{e: e, alias: q.alias(alias + "_name")})
}

// wordsOf are the lower-case words of tokens.
func wordsOf(ts []token) []string {
	var out []string
	for _, t := range ts {
		if !t.punct {
			out = append(out, t.low)
		}
	}
	return out
}

// parentNamed reads "<key> to|by <values of the table>" ("report to Andrew
// Adams", "managed by Grace Hopper") as key IN (SELECT key of the rows with
// those values). The values' mentions become part of the condition.
func (p *parser) parentNamed(f *frame, m *mention) bool {
	t := m.table
	if len(t.PrimaryKey) != 1 {
		return false
	}
	j := m.end
	prep := 0 // "report to": the mention may hold the preposition
	if p.at(j, "to") || p.at(j, "by") {
		prep = 1
	} else if !p.at(j-1, "to") && !p.at(j-1, "by") {
		return false
	}
	j += prep
	var vals []*mention
	var where []sqlExpr
	for j < len(p.toks) {
		v := p.byTok[j]
		if v == nil || v.kind != mValue || v.start != j {
			break
		}
		var ref *valueRef
		for k := range v.vals {
			if v.vals[k].table == t && v.vals[k].col.Kind == KindText {
				if ref != nil && ref.col != v.vals[k].col {
					return false // a value of two of its columns
				}
				ref = &v.vals[k]
			}
		}
		if ref == nil {
			return false
		}
		vals = append(vals, v)
		where = append(where, binExpr{colExpr{t.Name, ref.col.Name}, "=", litExpr{ref.value}})
		j = v.end
	}
	if len(vals) == 0 || !p.labelValues(t, where) {
		return false
	}
	sub := &selectQ{from: t.Name, items: []selItem{{e: colExpr{t.Name, t.PrimaryKey[0]}}}, where: where}
	f.filters = append(f.filters, filter{e: binExpr{colExpr{t.Name, m.col.Name}, "IN", subqExpr{sub}},
		desc: t.Name + "." + m.col.Name + " is the row named " + joinRaw(p.toks[vals[0].start:vals[len(vals)-1].end]), tbl: t})
	// The values are the parent's, not conditions on the rows asked for.
	keep := p.ms[:0]
	for _, x := range p.ms {
		drop := false
		for _, v := range vals {
			drop = drop || x == v
		}
		if !drop {
			keep = append(keep, x)
		}
	}
	p.ms = keep
	for _, v := range vals {
		p.mark(v.start, v.end-v.start)
	}
	p.mark(m.end, prep)
	m.used = true
	return true
}

// labelValues reports whether the conditions are on the columns that name
// the table's rows, each at most once: a person's first and last name, or
// the name.
func (p *parser) labelValues(t *Table, where []sqlExpr) bool {
	seen := map[string]bool{}
	for _, e := range where {
		c := e.(binExpr).l.(colExpr).col
		if seen[c] || !isLabel(t, t.Column(c)) {
			return false
		}
		seen[c] = true
	}
	return true
}
