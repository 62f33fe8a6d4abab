package nlp

// Counts per group read through a LEFT JOIN keep the groups without rows
// (their count is 0). Whether the question meant them is a doubt
// (penEmptyGroups) — unless the query itself leaves them out: a HAVING
// that no count of 0 meets ("at least two treatments", "more than one
// song"), or the single group with the highest count ("the owner with the
// most dogs"), which is a group with rows whenever any group has one.

// emptyGroupsExcluded reports whether the groups without rows of q's
// LEFT JOINs cannot reach the answer.
func emptyGroupsExcluded(q *selectQ) bool {
	if q == nil || len(q.group) == 0 {
		return false
	}
	left := map[string]bool{}
	for _, j := range q.joins {
		if j.left {
			left[j.name()] = true
		}
	}
	if len(left) == 0 {
		return false
	}
	// zeroCount: e counts a LEFT-joined table's column, so a group without
	// rows counts 0 (COUNT(*) would count 1).
	zeroCount := func(e sqlExpr) bool {
		a, ok := e.(aggExpr)
		if !ok || a.fn != "COUNT" {
			return false
		}
		c, ok := a.arg.(colExpr)
		return ok && left[c.rel]
	}
	for _, h := range q.having {
		b, ok := h.(binExpr)
		if !ok || !zeroCount(b.l) {
			continue
		}
		if n, ok := number(b.r); ok && excludesZero(b.op, n) {
			return true
		}
	}
	if q.limit == 1 && len(q.order) == 1 && q.order[0].desc {
		e := q.order[0].e
		if a, ok := e.(rawAlias); ok {
			for _, it := range q.items {
				if it.alias == a.name {
					e = it.e
				}
			}
		}
		if zeroCount(e) {
			return true
		}
	}
	return false
}

// excludesZero reports whether "count op n" is false for a count of 0.
func excludesZero(op string, n float64) bool {
	switch op {
	case ">":
		return n >= 0
	case ">=", "=":
		return n > 0
	}
	return false
}

// number is the value of a numeric literal.
func number(e sqlExpr) (float64, bool) {
	l, ok := e.(litExpr)
	if !ok {
		return 0, false
	}
	switch v := l.v.(type) {
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}
