package nlp

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
