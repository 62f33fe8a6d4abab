package nlp

// clauseOr reports whether the "or" at token i joins two clauses ("who
// live in Indiana or have performed more than two treatments") rather
// than two values or two words of one phrase: the translator has no
// disjunction of conditions of different kinds, and reading the "or" as
// an "and" would answer another question, so the word stays unaccounted
// unless a construct consumed it.
func (p *parser) clauseOr(i int) bool {
	if !p.at(i, "or") || p.consumed[i] || i+1 >= len(p.toks) {
		return false
	}
	return clauseStarts[p.toks[i+1].low]
}

// clauseStarts open a clause of their own after "or".
var clauseStarts = toSet(`have has had do does did is are was were who that which whose where live lives lived work works worked`)

// inSchemaName reports whether token i is a word of a table's or a
// column's name ("last" of "last name"), not a word of its own.
func (p *parser) inSchemaName(i int) bool {
	m := p.byTok[i]
	return m != nil && (m.kind == mColumn || m.kind == mTable) && m.end-m.start > 1
}
