package nlp

// A listing of a child table's columns for rows of its parent: "the
// paragraph texts for the document named 'Customer reviews'", "the
// official language spoken in the country whose head of state is
// Beatrix". The parent is what the question conditions ("for each
// teacher" asks one row per parent and is left alone); the columns it
// asks to see are the child's, one row per child row. The rows listed are
// then the child's, joined with the parent the conditions read (each child
// row has one parent, so no row repeats); the parent's label is shown
// beside them. Only for plain listings: an aggregate, a group, a limit or
// a "both" condition keeps the parent's rows.

// childListing makes the child table whose columns the question lists the
// listed table, when every listed column outside the main table and its
// parents is of that one table below it.
func (p *parser) childListing(f *frame) {
	if len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" || len(f.having) > 0 ||
		len(f.distinct) > 0 || f.limit > 0 || f.selfParent != nil || f.percent || f.nestedAvg != nil {
		return
	}
	var child *Table
	for _, m := range f.extra {
		if m.table == nil || m.table == f.main || p.noFanOut(m.table, f.main) {
			continue // shown beside the listed rows as it is
		}
		if p.linksAny(m, []*Table{f.main}) || p.fkTarget(m.table, m.col) == f.main {
			return // may be the main table's own column, or its key
		}
		if linkScore(m) < 0.9 {
			return // one word of a longer name ("orchestras founded"): not sure it is listed
		}
		if !p.noFanOut(f.main, m.table) || (child != nil && child != m.table) {
			return // not below the main table, or two tables
		}
		child = m.table
	}
	if child == nil {
		return
	}
	for _, fl := range f.filters {
		if fl.each {
			return
		}
	}
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) == f.main && m.start > 0 && (p.at(m.start-1, "each") || p.at(m.start-1, "every")) {
			return // "the course title for each teacher": one row per teacher asked
		}
	}
	parent := f.main
	f.main = child
	if !containsTable(f.tables, child) {
		f.tables = append(f.tables, child)
	}
	p.understood = append(p.understood, "rows of "+child.Name+" for the "+parent.Name+" rows asked about")
}

// linkScore is the score of the link a resolved column mention took.
func linkScore(m *mention) float64 {
	for _, l := range m.links {
		if l.table == m.table && l.col == m.col {
			return l.score
		}
	}
	return 0
}

// pairListing lists the pairs of the main table's rows and the rows of a
// second table the question names after "and" ("the names of teachers and
// the courses they teach", "the names of conductors and the orchestras
// they have conducted"): the rows listed are the second table's when it is
// below the main one, or those of the table between them whose two keys
// relate them (course_arrange); both tables' labels are shown.
func (p *parser) pairListing(f *frame) {
	if len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" || len(f.having) > 0 ||
		len(f.distinct) > 0 || f.limit > 0 || f.selfParent != nil || f.percent || f.nestedAvg != nil {
		return
	}
	var other *mention
	for _, m := range p.ms {
		if m.kind != mTable || m.used || p.bestTable(m) == f.main {
			continue
		}
		k := m.start - 1
		for k >= 0 && (p.at(k, "the") || p.at(k, "their") || p.at(k, "all")) {
			k--
		}
		if k < 0 || !p.at(k, "and") || other != nil {
			return // not listed after "and", or two such tables
		}
		other = m
	}
	if other == nil {
		return
	}
	b := p.bestTable(other)
	var root *Table
	switch {
	case p.noFanOut(f.main, b) && p.keyTo(b, f.main) != nil:
		root = b // each orchestra has its conductor
	default:
		for _, j := range p.s.Tables {
			if j != f.main && j != b && p.keyTo(j, f.main) != nil && p.keyTo(j, b) != nil {
				if root != nil {
					return // two tables relate them
				}
				root = j
			}
		}
	}
	if root == nil {
		return
	}
	for _, fl := range f.filters {
		if fl.each {
			return
		}
	}
	parent := f.main
	f.main = root
	for _, t := range []*Table{root, b, parent} {
		if !containsTable(f.tables, t) {
			f.tables = append(f.tables, t)
		}
	}
	if root != b && !containsTable(f.fkNamed, parent) {
		f.fkNamed = append(f.fkNamed, parent) // its label is shown beside the pair
	}
	p.understood = append(p.understood, "pairs of "+parent.Name+" and "+b.Name)
}
