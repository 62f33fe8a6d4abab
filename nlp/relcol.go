package nlp

// Columns of a related row: "the model of the car", "the continent of the
// country" name a column that no table of the question has, but that a
// table has of which each row of the main table has exactly one (reached
// by steps from a child to its parent only, so no row is repeated). The
// nearest such table, when one alone is nearest, holds the column; the
// column's exact name is required (a word of a longer name is too weak to
// bring a table into the query).

// relatedColumn returns the table holding the column m names as an
// attribute of main's rows, or nil.
func (p *parser) relatedColumn(m *mention, main *Table) *Table {
	if main == nil {
		return nil
	}
	var best *Table
	bd, n := 0, 0
	for _, l := range m.links {
		if l.kind != linkColumn || l.score < 1 || l.table == main {
			continue
		}
		path := p.shortestPath(map[*Table]bool{main: true}, l.table)
		if path == nil {
			continue
		}
		toOne := true
		for _, e := range path {
			toOne = toOne && e.to == e.parent
		}
		if !toOne {
			continue
		}
		switch d := len(path); {
		case best == nil || d < bd:
			best, bd, n = l.table, d, 1
		case d == bd && l.table != best:
			n++
		}
	}
	if n != 1 {
		return nil
	}
	return best
}

// rankedNonNull keeps the rows without a value out of a ranking on a
// nullable column: "the car with the highest mpg" is never a car whose mpg
// is unknown, yet NULL sorts first in a descending order on Postgres and
// in an ascending one on MySQL.
func (p *parser) rankedNonNull(q *selectQ, f *frame) {
	if q.limit == 0 || len(q.order) != 1 || len(q.group) > 0 {
		return
	}
	c, ok := q.order[0].e.(colExpr)
	if !ok {
		return
	}
	t := p.s.Table(c.rel)
	if t == nil {
		return
	}
	if col := t.Column(c.col); col != nil && col.Nullable {
		q.where = append(q.where, postfixExpr{c, "IS NOT NULL"})
	}
}

// tableColumnPair reports whether table mention m is followed right away
// by a mention of a column ("car models", "product categories"): the pair
// names the column.
func (p *parser) tableColumnPair(m *mention) bool {
	if m == nil || m.kind != mTable || m.end >= len(p.toks) {
		return false
	}
	nm := p.byTok[m.end]
	return nm != nil && nm.kind == mColumn && nm.start == m.end
}
