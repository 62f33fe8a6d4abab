package nlp

// Two values of a child table's column joined by "and", without "both":
// "countries that use English and Dutch", "channels playing cartoons
// directed by Ben Jones and Michael Chang". A single child row holds one
// value, so the question asks for listed rows that have a child row with
// each value — the same reading as "both English and Dutch" — and the
// translator is less sure than with "both" (a reader might mean the rows
// having either). Not taken when the rows listed are the child's own (one
// row cannot hold both values) and they name no parent through its key,
// after "either", or when an earlier value of the column is already a list
// of alternatives.

// bothPenalty is the doubt of reading "X and Y" as both.
const bothPenalty = 0.1

// bothImplied adds ref as a second value every listed row must have, next
// to filter k (the earlier value of the same column); it reports whether it
// did. m is the value's mention, right after "and".
func (p *parser) bothImplied(f *frame, m *mention, ref valueRef, k int) bool {
	// "and", then perhaps the words that led to the earlier value again
	// ("cartoons directed by Ben Jones and cartoons directed by Michael
	// Chang").
	and := m.start - 1
	for and > 0 && and >= m.start-5 && !p.at(and, "and") {
		and--
	}
	if and < 1 || !p.at(and, "and") {
		return false
	}
	prev := p.byTok[and-1]
	if prev == nil || prev.kind != mValue {
		return false
	}
	if rep := m.start - and - 1; rep > 0 {
		if prev.start-rep < 0 {
			return false
		}
		for i := 0; i < rep; i++ {
			if p.toks[prev.start-rep+i].lem != p.toks[and+1+i].lem {
				return false
			}
		}
	}
	main := f.main
	if ref.table == main {
		main = p.parentListed(f, ref.table)
	}
	if main == nil || ref.table == main || p.noFanOut(ref.table, main) || f.percent {
		return false
	}
	for i := prev.start - 1; i >= 0 && i >= prev.start-4; i-- {
		if p.at(i, "either") || p.at(i, "or") || p.at(i, "both") {
			return false
		}
	}
	if p.at(m.end, "or") {
		return false
	}
	in, ok := f.filters[k].e.(inExpr)
	if !ok || len(in.vals) != 1 || f.filters[k].tbl != ref.table {
		return false
	}
	if main != f.main {
		f.main = main
		if !containsTable(f.tables, main) {
			f.tables = append(f.tables, main)
		}
	}
	p.mark(and, 1)
	f.filters = append(f.filters, filter{e: inExpr{e: colExpr{ref.table.Name, ref.col.Name}, vals: []sqlExpr{litExpr{ref.value}}},
		desc: ref.table.Name + "." + ref.col.Name + " = " + ref.value, tbl: ref.table, each: true})
	f.filters[k].each = true
	if m.start-and-1 == 0 {
		p.penalty += bothPenalty // "the ship named X and the ship named Y" says two rows: no doubt
	}
	p.understood = append(p.understood, "rows with both values of "+ref.table.Name+"."+ref.col.Name)
	return true
}

// parentListed is the table whose rows the question lists when it names
// t's reference to it ("the document id with paragraph text 'Brazil' and
// 'Ireland'": the documents, through paragraphs.document_id): a column
// mention not yet used that may stand for both t's foreign-key column and
// the key it references. Nil when there is none or several.
func (p *parser) parentListed(f *frame, t *Table) *Table {
	var found *Table
	for _, m := range p.ms {
		if m.kind != mColumn || m.used {
			continue
		}
		for _, l := range m.links {
			if l.table != t || l.col == nil {
				continue
			}
			ref := p.fkTarget(t, l.col)
			if ref == nil || ref == t {
				continue
			}
			for _, l2 := range m.links {
				if l2.table == ref && l2.col != nil && keyColumn(ref, l2.col) {
					if found != nil && found != ref {
						return nil
					}
					found = ref
				}
			}
		}
	}
	return found
}
