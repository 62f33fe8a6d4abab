package nlp

import "strings"

// Superlatives and aggregate lists that name their column once.

// impliedSuperlative reports whether the superlative at token i picks rows
// by the column its adjective implies ("the youngest dog": the lowest
// pet_age) rather than aggregating a column named after it: no numeric
// column follows within the aggregate's reach, and the word implies one
// of the question's tables.
func (p *parser) impliedSuperlative(i int) bool {
	if i >= 2 && p.at(i-1, "the") && (p.at(i-2, "from") || p.at(i-2, "to")) {
		return false // "from the oldest to the youngest": an order, not one row
	}
	for k := i + 1; k < len(p.toks) && k < i+5; k++ {
		if p.toks[k].punct {
			break
		}
		if p.measureWord(k) || p.numericMentionAt(k) {
			return false
		}
	}
	c, _ := p.impliedColumn(p.toks[i].lem, i+1)
	return c != nil
}

// shareListedColumn gives the aggregates of a list that names its column
// once ("the average, minimum, and maximum age") that column: each
// aggregate without a column takes the one of the next aggregate after it
// that has one.
func shareListedColumn(ms []measure) {
	for k := range ms {
		if ms[k].fn == aggCount || ms[k].col != nil || ms[k].expr != nil {
			continue
		}
		for j := k + 1; j < len(ms); j++ {
			if ms[j].fn != aggCount && ms[j].col != nil && ms[j].expr == nil {
				ms[k].col, ms[k].table = ms[j].col, ms[j].table
				break
			}
		}
	}
}

// isAgeColumn reports whether c holds an age: a numeric column whose name
// ends with "age" ("age", "pet_age").
func isAgeColumn(c *Column) bool {
	if c.Kind == KindText {
		return false
	}
	w := lemmas(splitName(c.Name))
	return len(w) > 0 && w[len(w)-1] == "age"
}

// groupedWhole reports whether the query groups by every column of a table
// that column mention m may stand for and shows that table's star: one row
// per row of the table ("the first name of students who have more than one
// pet", "the id of the document with the most paragraphs"), so every column
// of it is shown.
func (p *parser) groupedWhole(m *mention, sql, uses string) bool {
	_, group, ok := strings.Cut(sql, " GROUP BY ")
	if !ok || !strings.Contains(sql, " JOIN ") {
		return false // a table grouped by itself counts nothing of another
	}
	// Groups without rows (a LEFT JOIN) are a reading of their own; a
	// condition on the count, or the largest count first, leaves them out.
	if strings.Contains(sql, " LEFT JOIN ") && !strings.Contains(sql, " HAVING ") && !strings.Contains(sql, " DESC LIMIT ") {
		return false
	}
	for _, kw := range []string{" HAVING ", " ORDER BY ", " LIMIT "} {
		group, _, _ = strings.Cut(group, kw)
	}
	in := map[string]bool{}
	for _, g := range strings.Split(group, ", ") {
		in[strings.TrimSpace(g)] = true
	}
	whole := func(t *Table) bool {
		if !strings.Contains(uses, p.r.q(t.Name)+".*") {
			return false
		}
		for _, c := range t.Columns {
			if !in[p.r.q(t.Name)+"."+p.r.q(c.Name)] {
				return false
			}
		}
		return true
	}
	if m == nil {
		for _, t := range p.s.Tables {
			if whole(t) {
				return true
			}
		}
		return false
	}
	for _, l := range m.links {
		if l.col == nil || (m.col != nil && l.col != m.col) {
			continue
		}
		if whole(l.table) {
			return true
		}
	}
	return false
}

// starGroupedWhole reports whether the query shows the star of a table it
// groups by all its columns (see groupedWhole): its ids are shown.
func (p *parser) starGroupedWhole(sql, uses string) bool {
	return p.groupedWhole(nil, sql, uses)
}

// namesNumericColumn reports whether token i is the exact name of a numeric
// column ("earnings" of poker players, "sales" of songs): then it names
// that column, not money in general.
func (p *parser) namesNumericColumn(i int) bool {
	m := p.byTok[i]
	if m == nil || m.kind != mColumn {
		return false
	}
	for _, l := range numericLinks(m.links) {
		if l.score >= 1 {
			return true
		}
	}
	return false
}

// tokLow is the lower-case word at i, or "".
func (p *parser) tokLow(i int) string {
	if i < 0 || i >= len(p.toks) {
		return ""
	}
	return p.toks[i].low
}

// orderByListed completes an order the question gives without its column:
// "the earnings of poker players in descending order" orders by the one
// column listed; "from the oldest to the youngest" orders by the column the
// first adjective implies, that one first.
func (p *parser) orderByListed(f *frame) {
	for i := range p.toks {
		var a, b string
		n := 0
		switch {
		case p.at(i, "from", "the") && p.at(i+3, "to", "the") && i+5 < len(p.toks):
			a, b, n = p.toks[i+2].lem, p.toks[i+5].lem, 6
		case p.at(i, "from") && p.at(i+2, "to") && i+3 < len(p.toks):
			// "sort by their age from old to young"
			a, b, n = plainSuperlative[p.toks[i+1].lem], plainSuperlative[p.toks[i+3].lem], 4
		default:
			continue
		}
		if !(superMax[a] && superMin[b] || superMin[a] && superMax[b]) {
			continue
		}
		col, tb := p.impliedColumn(a, i+n)
		if col == nil {
			if oc, ok := f.orderBy.(colExpr); ok {
				tb, col = p.s.Table(oc.rel), p.s.Table(oc.rel).Column(oc.col)
			}
		}
		if col == nil {
			continue
		}
		if f.orderBy == nil {
			f.orderBy = colExpr{tb.Name, col.Name}
		} else if oc, ok := f.orderBy.(colExpr); !ok || oc.rel != tb.Name || oc.col != col.Name {
			continue // ordered by another column: the adjectives do not fit it
		}
		f.orderDesc = superMax[a] != agesReverse(a, col)
		p.mark(i, n)
	}
	defer func() {
		// "sorted alphabetically": the order word before the word that
		// set the order.
		for i := range p.toks {
			if (p.at(i, "sorted") || p.at(i, "ordered") || p.at(i, "order") || p.at(i, "sort")) && !p.consumed[i] && (f.orderBy != nil || f.rankAgg) {
				p.mark(i, 1)
			}
		}
	}()
	if f.orderBy != nil || f.rankAgg || len(f.extra) != 1 || f.extra[0].col == nil {
		return
	}
	for i := range p.toks {
		if (p.at(i, "order") || p.at(i, "sorted") || p.at(i, "ordered")) && !p.consumed[i] &&
			(p.at(i-1, "descending") || p.at(i-1, "ascending") || p.at(i+1, "descending") || p.at(i+1, "ascending")) {
			m := f.extra[0]
			f.orderBy = colExpr{m.table.Name, m.col.Name}
			p.mark(i, 1)
		}
	}
}

// headColumnDistinct reads a question whose head is a column of a table it
// never names ("What are the regions that use English?": regions of
// countries) as the different values of that column: the question asks for
// regions, not for the rows that hold them.
func (p *parser) headColumnDistinct(f *frame) {
	if len(f.measures) > 0 || f.groupCol != nil || f.groupTable != nil || f.groupTime != "" || f.orderBy != nil || f.limit > 0 || len(f.distinct) > 0 || len(f.extra) != 1 {
		return
	}
	m := f.extra[0]
	if m.col == nil || m.table != f.main || m.col.Kind != KindText || len(p.ms) == 0 || p.ms[0] != m {
		return
	}
	for k := 0; k < m.start; k++ {
		if !p.isFunctionWord(p.toks[k]) {
			return
		}
	}
	for _, x := range p.ms {
		if x.kind == mTable && p.bestTable(x) == m.table {
			return // the table is named: its rows are asked for
		}
	}
	if labelKey(m.table, m.col) != nil {
		return // a name names rows: "the names of …" lists them
	}
	f.extra = nil
	f.distinct = append(f.distinct, m)
}

// plainSuperlative gives the superlative of the plain adjectives an order
// names its ends with ("from old to young").
var plainSuperlative = map[string]string{"old": "oldest", "young": "youngest", "new": "newest", "early": "earliest", "late": "latest"}
