package nlp

// The value of a child table's column shared by the most rows of its
// parent: "the language spoken in the most countries" (countrylanguage
// below country), "the government form used by the most countries" (a
// column of the counted table itself, the verb between). The
// answer groups the child's rows by the column and ranks the groups by the
// number of distinct parents they reach. The verb between the column and
// the superlative only relates the two tables.

// groupByChildColumnBefore groups by the text column of a table below
// counted named before the superlative at i, counting the distinct
// counted rows each value reaches. It reports whether it did.
func (p *parser) groupByChildColumnBefore(f *frame, counted *Table, i int) bool {
	if f.groupCol != nil || f.groupTable != nil || len(f.measures) > 0 {
		return false
	}
	var cm *mention
	var between []int
	for k := i - 1; k >= 0 && k >= i-6; k-- {
		if m := p.byTok[k]; m != nil {
			cm = m
			break
		}
		t := p.toks[k]
		if t.punct || !p.isFunctionWord(t) && !relationVerbs[t.low] && !p.at(k, "by") {
			return false
		}
		between = append(between, k)
	}
	if cm == nil || cm.kind != mColumn || cm.used {
		return false
	}
	var child *Table
	var col, fk *Column
	for _, l := range cm.links {
		if l.col == nil || l.col.Kind != KindText {
			continue
		}
		k := p.keyTo(l.table, counted)
		if l.table == counted {
			k = nil // the counted table's own column: its rows are counted
		} else if k == nil {
			continue
		}
		if child != nil && (child != l.table || col != l.col) {
			return false
		}
		child, col, fk = l.table, l.col, k
	}
	if child == nil {
		return false
	}
	for _, k := range between {
		if relationVerbs[p.toks[k].low] || p.at(k, "by") {
			p.mark(k, 1)
		}
	}
	if m := p.nextMention(i+1, 2); m != nil && m.kind == mTable {
		p.mark(m.start, m.end-m.start) // counted through child's key to it
	}
	cm.table, cm.col = child, col
	cm.used = true
	f.groupCol = cm
	if fk == nil {
		f.measures = append(f.measures, measure{fn: aggCount, counts: counted})
	} else {
		f.measures = append(f.measures, measure{fn: aggCount, table: child, col: fk, distinct: true})
	}
	if f.main == counted || f.main == nil {
		f.main = child
	}
	return true
}

// keyTo is t's single-column foreign key to parent, when t has exactly one.
func (p *parser) keyTo(t, parent *Table) *Column {
	var out *Column
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && p.s.Table(fk.RefTable) == parent && t != parent {
			if out != nil {
				return nil
			}
			out = t.Column(fk.Columns[0])
		}
	}
	return out
}
