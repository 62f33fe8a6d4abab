package nlp

// A column word followed by "of" and a table ("the name of their dogs",
// "the size of his dog") is that table's column when the table has it,
// as a table right before the column decides it ("artist name").

// ofTable returns the table named right after column mention m by "of"
// (with an article or a possessive between) that has one of m's column
// links, or nil.
func (p *parser) ofTable(m *mention) (*Table, *Column) {
	k := m.end
	if !p.at(k, "of") {
		return nil, nil
	}
	k++
	for p.at(k, "the") || p.at(k, "their") || p.at(k, "his") || p.at(k, "her") || p.at(k, "its") || p.at(k, "each") || p.at(k, "all") {
		k++
	}
	tm := p.tableAt(k)
	if tm == nil {
		return nil, nil
	}
	t := p.bestTable(tm)
	for _, l := range m.links {
		if l.kind == linkColumn && l.table == t {
			return l.table, l.col
		}
	}
	return nil, nil
}

// parentsOf returns the tables that one of ts refers to by exactly one
// foreign key and that none of ts is: a player's person, whose height a
// superlative ("the tallest poker player") may imply. A table two of ts
// refer to is left out (which row's is not clear).
func (p *parser) parentsOf(ts []*Table) []*Table {
	seen := map[*Table]int{}
	var order []*Table
	for _, t := range ts {
		if t == nil || containsTable(ts[:0], t) {
			continue
		}
		for _, fk := range t.ForeignKeys {
			pt := p.s.Table(fk.RefTable)
			if pt == nil || containsTable(ts, pt) || p.keysBetween(t, pt) != 1 {
				continue
			}
			if seen[pt] == 0 {
				order = append(order, pt)
			}
			seen[pt]++
		}
	}
	var out []*Table
	for _, pt := range order {
		if seen[pt] == 1 {
			out = append(out, pt)
		}
	}
	return out
}
