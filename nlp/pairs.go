package nlp

// A listing that shows columns of the main table and of a table whose rows
// refer to it ("each owner's first name and their dog's name", "the first
// names of owners and the names of dogs they own") lists the pairs: one
// row per referring row, joined with the row it refers to. The referring
// table becomes the main one, so that the join follows its key to the
// other (a join to a parent repeats nothing).

// pairTable returns the table whose rows the listing's pairs are, or
// main when the question is no such listing: no aggregate or group, and
// a table mention of a table with exactly one key to main, not otherwise
// used, whose column the question names next to it ("dog's name", "the
// name of their dogs").
func (p *parser) pairTable(f *frame) *Table {
	if p.hasAggCue() || len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return f.main
	}
	for _, t := range p.toks {
		if negationWords[t.low] {
			return f.main // "channels that do not have any cartoons": a condition, not pairs
		}
	}
	mainCol := false
	var child *Table
	for _, m := range p.ms {
		if m.kind == mColumn && !p.valueFollows(m) {
			for _, l := range m.links {
				if l.kind == linkColumn && l.table == f.main {
					mainCol = true
				}
			}
		}
		if m.kind == mColumn && !m.used {
			// "the dog's name": one column mention naming its table.
			if t := p.namedColumnTable(m); t != nil && t != f.main && p.keysBetween(t, f.main) == 1 && p.keysBetween(f.main, t) == 0 {
				if child != nil && child != t {
					return f.main
				}
				child = t
			}
			continue
		}
		if m.kind != mTable || m.used {
			continue
		}
		if p.objectOfCondition(m) {
			continue // "who have dogs", "with any visits"
		}
		t := p.bestTable(m)
		if t == f.main || p.keysBetween(t, f.main) != 1 || p.keysBetween(f.main, t) != 0 {
			continue
		}
		if !p.columnBeside(m, t) {
			continue
		}
		if child != nil && child != t {
			return f.main // two such tables: which pairs is not clear
		}
		child = t
	}
	if child == nil || !mainCol {
		return f.main
	}
	return child
}

// columnBeside reports whether a column of t is named right after table
// mention m ("dog's name") or right before "of" m ("the name of their
// dogs"), or m is followed by what the main rows do with its rows ("the
// orchestras they have conducted").
func (p *parser) columnBeside(m *mention, t *Table) bool {
	// "the orchestras they have conducted": the rows the main rows relate to.
	k := m.end
	if p.at(k, "that") || p.at(k, "which") {
		k++
	}
	of := p.at(m.start-1, "of") || p.at(m.start-2, "of") && (p.at(m.start-1, "the") || p.at(m.start-1, "their"))
	if !of && p.at(k, "they") && (p.relatingVerb(k+1) || (p.at(k+1, "have") || p.at(k+1, "had")) && p.relatingVerb(k+2)) {
		return true
	}
	if m.end < len(p.toks) && p.byTok[m.end] != nil && p.byTok[m.end].kind == mColumn {
		for _, l := range p.byTok[m.end].links {
			if l.kind == linkColumn && l.table == t {
				return true
			}
		}
	}
	for _, c := range p.ms {
		if c.kind != mColumn || c.end >= m.start || c.end < m.start-4 {
			continue
		}
		if ct, _ := p.ofTable(c); ct == t {
			return true
		}
	}
	return false
}

// namedColumnTable is the table of column mention m when every link of m
// is a column of that table and m's first word names it ("dog name").
func (p *parser) namedColumnTable(m *mention) *Table {
	if m.end-m.start < 2 || len(m.links) == 0 {
		return nil
	}
	t := m.links[0].table
	for _, l := range m.links {
		if l.kind != linkColumn || l.table != t {
			return nil
		}
	}
	w := p.toks[m.start].lem
	for _, tw := range lemmas(splitName(t.Name)) {
		if tw == w {
			return t
		}
	}
	return nil
}

// markPairWords consumes what a pair listing says with the listing
// itself: "pairs of", "they have <verb>" after the related table, and "each"/"every" before a mention of the table
// the pairs refer to ("each owner's first name").
func (p *parser) markPairWords(parent *Table) {
	for i, t := range p.toks {
		if t.low == "they" && i > 0 && p.byTok[i-1] != nil || t.low == "they" && i > 1 && (p.at(i-1, "that") || p.at(i-1, "which")) && p.byTok[i-2] != nil {
			// "the orchestras they have conducted": the verb relates the pairs.
			k := i + 1
			if p.at(k, "have") || p.at(k, "had") {
				k++
			}
			if p.relatingVerb(k) {
				p.mark(i, k-i+1)
			}
		}
		if (t.lem == "pair") && p.at(i+1, "of") && p.byTok[i] == nil {
			p.mark(i, 1)
		}
		if (t.low == "each" || t.low == "every") && !p.consumed[i] {
			if i+1 >= len(p.toks) || p.byTok[i+1] == nil {
				continue
			}
			m := p.byTok[i+1]
			for _, l := range m.links {
				if l.table == parent {
					p.mark(i, 1)
					break
				}
			}
		}
	}
}

// valueFollows reports whether column mention m compares with a value
// right after it ("the name 'Customer reviews'"): a condition, not a
// column shown.
func (p *parser) valueFollows(m *mention) bool {
	k := m.end
	if p.at(k, "is") || p.at(k, "of") && k+1 < len(p.toks) && p.toks[k+1].quoted {
		return true
	}
	if k < len(p.toks) && (p.toks[k].quoted || p.toks[k].isNum) {
		return true
	}
	return k < len(p.toks) && p.byTok[k] != nil && p.byTok[k].kind == mValue
}

// objectOfCondition reports whether table mention m is what a condition
// asks rows to have ("who have dogs", "with any visits", "has a pet").
func (p *parser) objectOfCondition(m *mention) bool {
	for k := m.start - 1; k >= 0 && k >= m.start-3; k-- {
		switch p.toks[k].low {
		case "have", "has", "had", "with", "without", "any", "some":
			return true
		}
		if p.byTok[k] != nil || p.toks[k].punct {
			return false
		}
	}
	return false
}
