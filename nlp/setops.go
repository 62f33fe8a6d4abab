package nlp

import "strings"

// Values shared by two sets of rows: "the citizenships shared by singers
// with a birth year before 1945 and after 1955" are the values of the
// column that rows of each condition have — an INTERSECT, written as two
// IN subqueries so that each condition is asked of its own rows:
//
//	SELECT DISTINCT t.c FROM t
//	WHERE t.c IN (SELECT t.c FROM t WHERE cond1) AND t.c IN (SELECT t.c FROM t WHERE cond2)
//
// Without the two conditions on the one table of the column, the words
// stay unaccounted and the question is declined.

// sharedBy rewrites the two conditions of "<column> shared by <rows> with
// <cond1> and <cond2>".
func (p *parser) sharedBy(f *frame) {
	for i := 1; i+1 < len(p.toks); i++ {
		if !p.at(i, "shared", "by") || p.consumed[i] {
			continue
		}
		// The column listed before the verb: "the citizenship(s) (that are) shared by".
		var cm *mention
		for k := i - 1; k >= 0 && k >= i-4; k-- {
			if m := p.byTok[k]; m != nil {
				if m.kind == mColumn {
					cm = m
				}
				break
			}
		}
		// Two conditions, or one that is two bounds of a year column
		// ("before 1945 and after 1955": years.go joins them with AND).
		if len(f.filters) == 1 {
			if b, ok := f.filters[0].e.(binExpr); ok && b.op == "AND" {
				fl := f.filters[0]
				plain := func(e sqlExpr) string { return strings.ReplaceAll(e.render(p.r), p.r.q(""), "") }
				f.filters = []filter{{e: b.l, desc: plain(b.l), tbl: fl.tbl}, {e: b.r, desc: plain(b.r), tbl: fl.tbl}}
			}
		}
		if cm == nil || len(f.filters) != 2 || len(f.measures) > 0 || f.groupCol != nil || f.groupTable != nil {
			return
		}
		p.resolveCol(cm, f.tables, f.main)
		t := cm.table
		if cm.col == nil || t != f.main {
			return
		}
		for _, fl := range f.filters {
			if fl.tbl != t {
				return
			}
			if _, ok := fl.e.(binExpr); !ok {
				return
			}
		}
		ce := colExpr{t.Name, cm.col.Name}
		for k, fl := range f.filters {
			sub := &selectQ{from: t.Name, items: []selItem{{e: ce}}, where: []sqlExpr{fl.e}}
			f.filters[k] = filter{e: binExpr{ce, "IN", subqExpr{sub}}, desc: "some " + t.Name + " row with " + fl.desc + " has it", tbl: t}
		}
		cm.used = true
		f.distinct = append(f.distinct, cm)
		p.mark(i, 2)
		p.understood = append(p.understood, t.Name+"."+cm.col.Name+" values both sets share")
		return
	}
}

// haveRows reads what existence (exists.go) leaves: "customers who placed
// orders", "teachers who teach courses" (a verb that relates rows), "who
// had orders", "students with any enrollment", as EXISTS over the rows of the
// named table that refer to the main row (directly or along a foreign-key
// path). Only a table nothing else of the query reads, named right after
// the verb (or an explicit "some"/"any"), is read so: "customers with
// their orders" and "customers with more than 3 orders" are other
// constructs.
func (p *parser) haveRows(f *frame) {
	if len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return
	}
	for i := 0; i+1 < len(p.toks); i++ {
		if p.consumed[i] {
			continue
		}
		k := i + 1
		switch {
		case p.at(i, "had") || relationVerbs[p.toks[i].low] || p.at(i, "made"):
			if i == 0 || !(p.at(i-1, "who") || p.at(i-1, "that") || p.at(i-1, "which")) {
				continue
			}
			if p.at(k, "some") || p.at(k, "any") || p.at(k, "a") || p.at(k, "an") {
				k++
			}
		case p.at(i, "with") && (p.at(k, "some") || p.at(k, "any")):
			k++
		default:
			continue
		}
		m := p.tableAt(k)
		if m == nil || m.used {
			continue
		}
		t := p.bestTable(m)
		if t == f.main || p.noFanOut(t, f.main) {
			continue // a row each main row has one of is a join, not a condition
		}
		// The clause ends with the table: what follows ("orders in 2024")
		// could qualify those rows or the main ones, which is not read here.
		if e := m.end; e < len(p.toks) && !p.toks[e].punct && !p.at(e, "and") && !p.at(e, "or") && !p.at(e, "but") {
			continue
		}
		sub, path := p.antiJoin(f.main, t)
		if sub == nil {
			continue
		}
		// Conditions on the tables between belong inside, as for a negation.
		kept := f.filters[:0]
		for _, fl := range f.filters {
			if path[fl.tbl] {
				sub.where = append(sub.where, fl.e)
				continue
			}
			kept = append(kept, fl)
		}
		f.filters = append(kept, filter{e: existsExpr{q: sub}, desc: "some " + t.Name + " row refers to it", tbl: f.main})
		m.used = true
		p.mark(i, m.end-i)
		p.dropTables(f, path, m)
		p.understood = append(p.understood, f.main.Name+" with "+t.Name)
		return
	}
}
