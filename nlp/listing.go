package nlp

// Listings per row: "the purchased track name and artist name with each
// invoice line item" lists the rows of the table after "with each" (or
// "for each", "of each"), with the columns named before it taken from the
// tables each of those rows refers to. Only a question without any
// aggregate reads it so; build.go then shows the named columns of the
// parents and leaves out any of a table with many rows per listed row.

// eachRow is the table of "with|for|of each <table>" that ends the
// question's listing, or nil.
func (p *parser) eachRow(f *frame) *Table {
	if p.hasAggCue() || len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return nil
	}
	for i := 1; i+1 < len(p.toks); i++ {
		if !(p.at(i, "each") || p.at(i, "every")) || p.consumed[i] || !(p.at(i-1, "with") || p.at(i-1, "for") || p.at(i-1, "of")) {
			continue
		}
		m := p.tableAt(i + 1)
		if m == nil || m.used {
			continue
		}
		// The rest of the sentence names nothing else.
		t := p.bestTable(m)
		k := m.end
		for k < len(p.toks) && !p.toks[k].punct {
			if x := p.byTok[k]; x != nil && x.kind == mTable && p.bestTable(x) == t {
				k = x.end // "invoice line item": the same table again
				continue
			}
			if p.byTok[k] != nil || !p.isFunctionWord(p.toks[k]) {
				return nil
			}
			k++
		}
		p.mark(i, 1)
		return t
	}
	return nil
}
