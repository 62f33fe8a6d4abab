package nlp

// An order named by a column of another table when the listed table has a
// column the same words name: "cartoons ordered by air date" orders by the
// cartoon's original_air_date, not by a series' air_date that the cartoons
// would reach only through two joins. The words were linked before the
// listed table was known; once it is, its own column wins.

// orderByOwnColumn moves the order onto the main table's column when the
// order's mention may stand for one (and for exactly one).
func (p *parser) orderByOwnColumn(f *frame) {
	oc, ok := f.orderBy.(colExpr)
	if !ok || oc.rel == f.main.Name {
		return
	}
	for _, m := range f.extra {
		if m.table == nil || m.col == nil || m.table.Name != oc.rel || m.col.Name != oc.col {
			continue
		}
		var own *Column
		words := make([]string, 0, m.end-m.start)
		for k := m.start; k < m.end; k++ {
			words = append(words, p.toks[k].lem)
		}
		cands := m.links
		if len(words) >= 2 {
			cands = append(append([]link(nil), m.links...), p.nameTail(words)...) // "air date": original_air_date
		}
		for _, l := range cands {
			if l.table == f.main && l.col != nil {
				if own != nil && own != l.col {
					return
				}
				own = l.col
			}
		}
		if own == nil || p.noFanOut(m.table, f.main) && m.start > 0 && p.byTok[m.start-1] != nil && p.byTok[m.start-1].kind == mTable {
			return // "ordered by the album title": the other table's own column
		}
		m.table, m.col = f.main, own
		f.orderBy = colExpr{f.main.Name, own.Name}
		return
	}
}
