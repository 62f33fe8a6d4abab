package nlp

// The value with the most rows: "which category has the most products",
// "the country with the most customers" name a text column of the counted
// table before the superlative; the answer groups the counted rows by that
// column and ranks the groups by their count.

// groupByColumnBefore groups by the text column of counted named before
// the superlative at i (with only function words and "has"/"with the"
// between), counting counted's rows. It reports whether it did.
func (p *parser) groupByColumnBefore(f *frame, counted *Table, i int) bool {
	if f.groupCol != nil || f.groupTable != nil || len(f.measures) > 0 {
		return false
	}
	var cm *mention
	for k := i - 1; k >= 0 && k >= i-4; k-- {
		if m := p.byTok[k]; m != nil {
			cm = m
			break
		}
		if p.toks[k].punct || !p.isFunctionWord(p.toks[k]) && !p.at(k, "has") && !p.at(k, "with") {
			return false
		}
	}
	if cm == nil || cm.kind != mColumn || cm.used {
		return false
	}
	var col *Column
	for _, l := range cm.links {
		if l.table == counted && l.col != nil && l.col.Kind == KindText {
			if col != nil && col != l.col {
				return false
			}
			col = l.col
		}
	}
	if col == nil {
		return false
	}
	cm.table, cm.col = counted, col
	cm.used = true
	f.groupCol = cm
	f.measures = append(f.measures, measure{fn: aggCount, counts: counted})
	return true
}

// listAndTop answers "<measure> per <group>. Which <group> … the most?"
// with every group ranked, not only the first: the first question asks for
// each group, the second for the order, and the ranked list answers both.
func (p *parser) listAndTop(f *frame) {
	if !f.rankAgg || f.limit != 1 || (f.groupTable == nil && f.groupCol == nil) {
		return
	}
	split := -1 // the first token of the second sentence
	for i, t := range p.toks {
		if (t.low == "?" || t.low == ".") && i+1 < len(p.toks) && !p.toks[i+1].punct {
			split = i + 1
			break
		}
	}
	if split < 0 {
		return
	}
	per := false // the first sentence groups
	for i := 0; i < split; i++ {
		if p.at(i, "per") || p.at(i, "each") || p.at(i, "by") {
			per = per || p.consumed[i]
		}
	}
	if per && (p.at(split, "which") || p.at(split, "what") || p.at(split, "who")) {
		f.limit = 0
	}
}
