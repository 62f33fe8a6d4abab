package nlp

// Counts per group over a LEFT JOIN keep the groups without rows (counted
// as 0), which an INNER JOIN would drop: a doubt (penEmptyGroups). When
// the query keeps only groups whose count of the joined rows is at least
// 1 ("countries with at least one car maker", "airlines with more than 10
// flights"), the groups without rows are dropped either way, and the
// doubt does not arise.

// leftJoined reports whether the query LEFT JOINs rel.
func (p *parser) leftJoined(rel string) bool {
	for _, j := range p.query.joins {
		if j.left && (j.rel == rel && j.as == "" || j.as == rel) {
			return true
		}
	}
	return false
}

// havingDropsEmpty reports whether the query's HAVING holds a count of
// the LEFT JOINed rows compared so that a count of 0 fails it.
func (p *parser) havingDropsEmpty() bool {
	if p.query == nil {
		return false
	}
	for _, h := range p.query.having {
		b, ok := h.(binExpr)
		if !ok {
			continue
		}
		a, ok := b.l.(aggExpr)
		if !ok || a.fn != "COUNT" || a.arg == nil {
			continue // COUNT(*) counts the group's one NULL-extended row
		}
		// The count must be of the rows the LEFT JOIN may leave out.
		c, ok := a.arg.(colExpr)
		if !ok || !p.leftJoined(c.rel) {
			continue
		}
		l, ok := b.r.(litExpr)
		if !ok {
			continue
		}
		n, ok := l.v.(float64)
		if !ok {
			continue
		}
		if (b.op == ">=" && n >= 1) || (b.op == ">" && n >= 0) || (b.op == "=" && n >= 1) {
			return true
		}
	}
	return false
}
