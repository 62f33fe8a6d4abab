package nlp

import "fmt"

// Nested averages of counts: "albums that have more tracks than the average
// tracks per album", "teachers with fewer courses than average" compare
// each row's count of related rows with the average of those counts, taken
// over the rows that have any (a GROUP BY over the related table's key):
//
//	HAVING COUNT(child.pk) > (SELECT AVG(cnt) FROM
//	    (SELECT COUNT(*) AS cnt FROM child GROUP BY child.fk) AS per_main)

// countVsAverage reads "more|fewer|less <child> than [the] average|mean
// [number of] [<child>] [per|for each|of a <main>]" where child rows refer
// to the main table by one foreign key.
func (p *parser) countVsAverage(f *frame) {
	n := len(p.toks)
	for i := 0; i+3 < n; i++ {
		op := ""
		switch {
		case p.at(i, "more"):
			op = ">"
		case p.at(i, "fewer") || p.at(i, "less"):
			op = "<"
		}
		m := p.tableAt(i + 1)
		if op == "" || p.consumed[i] || m == nil {
			continue
		}
		child := p.bestTable(m)
		fk := keyTo(child, f.main)
		if child == f.main || fk == nil || p.keysBetween(child, f.main) != 1 {
			continue
		}
		j := m.end
		if !p.at(j, "than") {
			continue
		}
		j++
		if p.at(j, "the") {
			j++
		}
		if !p.at(j, "average") && !p.at(j, "mean") {
			continue
		}
		j++
		if p.at(j, "number", "of") {
			j += 2
		}
		// The child named again ("the average tracks").
		if c := p.tableAt(j); c != nil && c.start == j && p.bestTable(c) == child {
			c.used = true
			p.mark(c.start, c.end-c.start)
			j = c.end
		}
		// What the average is per: the main table, once more.
		k := j
		switch {
		case p.at(k, "per"):
			k++
		case p.at(k, "for", "each") || p.at(k, "of", "an") || p.at(k, "of", "a"):
			k += 2
		case p.at(k, "for", "an") || p.at(k, "for", "a"):
			k += 2
		}
		if k > j {
			c := p.tableAt(k)
			if c == nil || p.bestTable(c) != f.main {
				continue // an average per something else
			}
			c.used = true
			p.mark(c.start, c.end-c.start)
			j = c.end
		}
		inner := &selectQ{from: child.Name, items: []selItem{{e: aggExpr{fn: "COUNT"}, alias: "cnt"}},
			group: []sqlExpr{colExpr{child.Name, fk.Columns[0]}}}
		avg := &selectQ{from: "per_" + snake(f.main.Name), fromSub: inner,
			items: []selItem{{e: aggExpr{fn: "AVG", arg: colExpr{"per_" + snake(f.main.Name), "cnt"}}}}}
		f.having = append(f.having, binExpr{aggExpr{fn: "COUNT", arg: pkExpr(child)}, op, subqExpr{avg}})
		f.havDesc = fmt.Sprintf("count of %s %s the average per %s", child.Name, op, f.main.Name)
		if !containsTable(f.tables, child) {
			f.tables = append(f.tables, child)
		}
		m.used = true
		p.mark(i, j-i)
		return
	}
}

// tableAt is the table mention that starts at token j, or nil.
func (p *parser) tableAt(j int) *mention {
	if j < 0 || j >= len(p.toks) {
		return nil
	}
	if m := p.byTok[j]; m != nil && m.kind == mTable && m.start == j {
		return m
	}
	return nil
}
