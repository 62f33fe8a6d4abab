package nlp

// "the number of different series names and contents": the count of
// distinct values applies to each column of the list after it, when they
// are columns of the same table joined by "and" (or commas).

// distinctList adds COUNT(DISTINCT c) for the columns listed after cm.
func (p *parser) distinctList(f *frame, cm *mention, pos int) {
	k := cm.end
	for k+1 < len(p.toks) && (p.at(k, "and") || p.toks[k].low == ",") {
		j := k + 1
		if p.at(j, "the") {
			j++
		}
		m := p.byTok[j]
		if m == nil || m.kind != mColumn || m.used || m.start != j {
			return
		}
		var col *Column
		for _, l := range m.links {
			if l.table == cm.table && l.col != nil && l.col != cm.col {
				if col != nil && col != l.col {
					return
				}
				col = l.col
			}
		}
		if col == nil {
			return
		}
		m.used = true
		m.table, m.col = cm.table, col
		f.measures = append(f.measures, measure{fn: aggCount, pos: pos, table: cm.table, col: col, distinct: true})
		p.understood = append(p.understood, "count of distinct "+cm.table.Name+"."+col.Name)
		k = m.end
	}
}
