package nlp

// Counts kept in a column: "cars with 8 cylinders", "rooms that have 2
// beds", "the team that has 3 wins": a whole number right before a
// mention of an integer column whose name is the plural the question
// uses is that column's value. A number with a comparison before it
// ("more than 4 cylinders") is the comparison's; a table after the number
// ("with 3 albums") counts related rows (filter.go).

func (p *parser) countColumns(f *frame) {
	for i, t := range p.toks {
		if !t.isNum || t.hash || t.money || p.consumed[i] || i == 0 || i+1 >= len(p.toks) {
			continue
		}
		if !(p.at(i-1, "with") || p.at(i-1, "have") || p.at(i-1, "has") || p.at(i-1, "had")) {
			continue
		}
		m := p.byTok[i+1]
		if m == nil || m.kind != mColumn || m.used || m.start != i+1 {
			continue
		}
		last := p.toks[m.end-1]
		if last.low == last.lem { // the column's word is no plural: "with 3 weight"
			continue
		}
		cands := numericLinks(m.links)
		var ints []link
		for _, l := range cands {
			if l.col.Kind == KindInt {
				ints = append(ints, l)
			}
		}
		if len(ints) == 0 {
			continue
		}
		mm := &mention{kind: mColumn, links: ints, start: m.start, end: m.end}
		p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
		if mm.col == nil {
			continue
		}
		m.used = true
		p.mark(i, 1)
		f.filters = append(f.filters, filter{e: binExpr{colExpr{mm.table.Name, mm.col.Name}, "=", litExpr{t.num}},
			desc: mm.table.Name + "." + mm.col.Name + " = " + t.raw, tbl: mm.table})
		if !containsTable(f.tables, mm.table) {
			f.tables = append(f.tables, mm.table)
		}
	}
}
