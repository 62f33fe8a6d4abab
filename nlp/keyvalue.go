package nlp

// A quoted key after its table or key column: "the airport 'AKO'", "the
// airport with code 'AKO'". Keys are not in the value index (they are not
// words a question uses), so the quoted text may be found only in the
// columns that refer to the key, perhaps written otherwise (flight_2's
// flights hold ' AKO'). When the table named just before the quoted
// string (or the key column named just before it) has a one-column text
// primary key, and no column of that table holds the value, the string is
// compared with that key.

func (p *parser) keyValue(f *frame, m *mention) bool {
	if m.end-m.start != 1 || !p.toks[m.start].quoted {
		return false
	}
	pm := p.prevMention(m.start-1, 2)
	if pm == nil {
		return false
	}
	var t *Table
	switch pm.kind {
	case mTable:
		t = p.bestTable(pm)
	case mColumn:
		for _, l := range pm.links {
			if l.kind == linkColumn && len(l.table.PrimaryKey) == 1 && l.table.PrimaryKey[0] == l.col.Name {
				if t != nil && t != l.table {
					return false
				}
				t = l.table
			}
		}
	}
	if t == nil || len(t.PrimaryKey) != 1 {
		return false
	}
	key := t.Column(t.PrimaryKey[0])
	if key == nil || key.Kind != KindText {
		return false
	}
	for _, v := range m.vals {
		if v.table == t {
			return false
		}
	}
	raw := p.toks[m.start].raw
	pm.used = pm.kind == mColumn || pm.used
	m.vals = nil
	p.mark(m.start, 1)
	f.filters = append(f.filters, filter{e: binExpr{colExpr{t.Name, key.Name}, "=", litExpr{raw}},
		desc: t.Name + "." + key.Name + " = " + raw, tbl: t})
	if !containsTable(f.tables, t) {
		f.tables = append(f.tables, t)
	}
	return true
}
