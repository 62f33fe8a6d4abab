package nlp

// Hierarchies: a foreign key of a table to itself ("reports_to",
// "manager_id") relates two rows of one table, which a query over that
// table's columns cannot tell apart. Two readings are safe without an
// alias: the rows with no parent ("employees who do not have a manager":
// the key IS NULL, left to the NULL tests of filter.go), and the rows
// whose parent is named by its values ("employees who report to Andrew
// Adams": the key IN the keys of the rows with those values). Any other
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
	return p.parentNamed(f, m)
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
