package nlp

// A column named like a superlative ("highest", "lowest" of a stadium's
// attendance) is not named by that word when it qualifies the column after
// it: "the stadium with the highest capacity" orders by capacity, it does
// not mention the column highest. The word then stays a superlative for
// the ordering constructs.

// unlinkSuperlatives drops the one-word column mentions of a superlative
// directly followed by a mention of a numeric column.
func (p *parser) unlinkSuperlatives() {
	keep := p.ms[:0]
	for _, m := range p.ms {
		if m.kind == mColumn && m.end-m.start == 1 && p.superlativeBeforeColumn(m.start) {
			for k := m.start; k < m.end; k++ {
				p.byTok[k] = nil
			}
			continue
		}
		keep = append(keep, m)
	}
	p.ms = keep
}

func (p *parser) superlativeBeforeColumn(i int) bool {
	t := p.toks[i]
	if t.quoted || !(superMax[t.lem] || superMin[t.lem]) || i+1 >= len(p.toks) {
		return false
	}
	next := p.byTok[i+1]
	return next != nil && next != p.byTok[i] && next.kind == mColumn && len(numericLinks(next.links)) > 0
}

// afterSuperlative reports whether column mention m follows a superlative
// no construct consumed ("the stadium with the largest capacity"): a group
// showing every column does not account for it, since the words ask to
// order by it.
func (p *parser) afterSuperlative(m *mention) bool {
	if m.kind != mColumn || m.start == 0 || len(numericLinks(m.links)) == 0 {
		return false
	}
	i := m.start - 1
	t := p.toks[i]
	return (superMax[t.lem] || superMin[t.lem]) && !p.consumed[i] && p.byTok[i] == nil
}

// superlativeOfOtherColumn reports whether the superlative at i qualifies
// a numeric column right after it that no measure reads ("the number of
// concerts in the stadium with the largest capacity"): the question then
// asks about the row with the largest value, not to rank the measure, and
// the ranking constructs leave the word alone.
func (p *parser) superlativeOfOtherColumn(f *frame, i int) bool {
	if len(f.measures) == 0 || i+1 >= len(p.toks) {
		return false
	}
	m := p.byTok[i+1]
	if m == nil || m.kind != mColumn || m.used || len(numericLinks(m.links)) == 0 {
		return false
	}
	for _, ms := range f.measures {
		if ms.col != nil && sharesColumn(m, ms.col) {
			return false
		}
	}
	return true
}
