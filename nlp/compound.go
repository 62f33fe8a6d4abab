package nlp

// mergeCompounds joins a table mention and the column mention right after
// it into one column mention when the column belongs to that table: "product
// category" is products.category, "customer country" customers.country.
func (p *parser) mergeCompounds() {
	for k := 0; k+1 < len(p.ms); k++ {
		a, b := p.ms[k], p.ms[k+1]
		if a.kind != mTable || b.kind != mColumn || a.end != b.start {
			continue
		}
		var own []link
		for _, l := range b.links {
			for _, tl := range a.links {
				if tl.kind == linkTable && tl.table == l.table && l.col != nil {
					own = append(own, l)
					break
				}
			}
		}
		if len(own) == 0 {
			continue
		}
		m := &mention{kind: mColumn, start: a.start, end: b.end, links: own, head: own[0].table}
		p.ms = append(append(p.ms[:k:k], m), p.ms[k+2:]...)
		for i := m.start; i < m.end; i++ {
			p.byTok[i] = m
		}
	}
}
