package nlp

import (
	"fmt"
	"strings"
)

// negationWords introduce an anti-join: "customers who never ordered",
// "artists without albums", "products with no orders".
var negationWords = toSet("never not no without")

// negationSkip are the words that may stand between a negation and what it
// negates ("have not placed any orders", "never been ordered").
var negationSkip = toSet("any a an been be have has had made placed ever single own owns owned use used using by for in through get got gotten")

// negations turns "<main> never <verb|table>" into NOT EXISTS over the
// rows of a table that refer to the main table, directly or along a
// foreign-key path. The negation, the skipped words and the negated
// table's words are consumed, and the conditions on the negated table
// (and on the tables between) move inside the NOT EXISTS. A negation that
// finds no such table is left unaccounted, so the question is declined.
func (p *parser) negations(f *frame) {
	for i, t := range p.toks {
		if !negationWords[t.low] || p.consumed[i] {
			continue
		}
		j := i + 1
		verbs := 0
		for j < len(p.toks) {
			if negationSkip[p.toks[j].low] {
				j++
				continue
			}
			// "not playing any cartoons": one verb the schema does not name.
			if t := p.toks[j]; verbs == 0 && p.byTok[j] == nil && !t.isNum && !t.punct && !p.lx.words[t.lem] && !cueWords[t.lem] &&
				(strings.HasSuffix(t.low, "ing") || strings.HasSuffix(t.low, "ed")) && j+1 < len(p.toks) && (p.byTok[j+1] != nil || negationSkip[p.toks[j+1].low]) ||
				verbs == 0 && p.negatedVerb(j) {
				verbs++
				j++
				continue
			}
			break
		}
		if j >= len(p.toks) {
			continue
		}
		target, m := p.negatedTable(j)
		if target == nil {
			target = p.soldTarget(j, f.main) // "never been purchased" (sales.go)
		}
		if target == nil || target == f.main || p.noFanOut(target, f.main) {
			continue // not rows that refer to the main table
		}
		sub, path := p.antiJoin(f.main, target)
		if sub == nil {
			continue
		}
		// "did not perform any treatment on dogs", "did not visit any
		// museum opened after 2010": the table the negated rows point to
		// is joined inside, with its conditions (existverb.go).
		after := j + 1
		if m != nil {
			after = m.end
		}
		pend, pq := p.subqueryParent(sub, target, after, f.main)
		if pq != nil {
			path[p.bestTable(pq)] = true
			pq.used = true
			p.mark(after, pend-after)
		}
		kept := f.filters[:0]
		for _, fl := range f.filters {
			if path[fl.tbl] {
				sub.where = append(sub.where, fl.e)
				continue
			}
			kept = append(kept, fl)
		}
		f.filters = append(kept, filter{e: existsExpr{not: true, q: sub}, desc: "no " + target.Name + " row refers to it", tbl: f.main})
		p.mark(i, j-i+1)
		if m != nil {
			m.used = true
			p.mark(m.start, m.end-m.start)
		}
		p.dropTables(f, path, m)
		p.understood = append(p.understood, f.main.Name+" without "+target.Name)
		return
	}
}

// negatedValues turns "not <value>" ("conductors that do not have the
// nationality USA") into col <> value when the column is the main table's
// (or a table each main row has one of), and into an anti-join when it is
// a table with many rows per main row ("students who do not have a cat
// pet": no pet of theirs is a cat). Between the negation and the value may
// stand function words and the value's column.
func (p *parser) negatedValues(f *frame) {
	for i, t := range p.toks {
		if t.low != "not" || p.consumed[i] {
			continue
		}
		var skipped []*mention
		verb := -1
		for j := i + 1; j < len(p.toks) && j <= i+5; j++ {
			m := p.byTok[j]
			if m == nil {
				if negationSkip[p.toks[j].low] || functionWords[p.toks[j].low] {
					continue
				}
				if verb < 0 && p.negatedVerb(j) {
					verb = j // "do not speak English"
					continue
				}
				break
			}
			if m.kind == mColumn || m.kind == mTable {
				skipped = append(skipped, m)
				j = m.end - 1
				continue
			}
			if m.kind != mValue {
				break
			}
			for k, fl := range f.filters {
				in, ok := fl.e.(inExpr)
				ce, _ := in.e.(colExpr)
				if !ok || in.not || !p.valueOf(m, ce) || !inHolds(in, m) {
					continue
				}
				if (fl.tbl == f.main || p.noFanOut(fl.tbl, f.main)) && verb >= 0 {
					return // "countries not playing cartoons by X": the verb relates rows of another table
				}
				if fl.tbl == f.main || p.noFanOut(fl.tbl, f.main) {
					in.not = true
					f.filters[k].e = in
					f.filters[k].desc = "not " + fl.desc
				} else {
					sub, path := p.antiJoin(f.main, fl.tbl)
					if sub == nil {
						return
					}
					sub.where = append(sub.where, fl.e)
					f.filters[k] = filter{e: existsExpr{not: true, q: sub}, desc: fmt.Sprintf("no %s row with %s", fl.tbl.Name, fl.desc), tbl: f.main}
					p.dropTables(f, path, nil)
				}
				p.mark(i, 1)
				if verb >= 0 {
					p.mark(verb, 1)
				}
				for _, c := range skipped {
					c.used = true
					p.mark(c.start, c.end-c.start)
				}
				return
			}
			break
		}
	}
}

// antiJoin builds SELECT 1 FROM <child of main> [JOIN … target] WHERE
// child.fk = main.key, the subquery of a NOT EXISTS, with the set of the
// tables it reads. Nil when no foreign-key path without ambiguity leads from
// main to target.
func (p *parser) antiJoin(main, target *Table) (*selectQ, map[*Table]bool) {
	path := p.shortestPath(map[*Table]bool{main: true}, target)
	if len(path) == 0 || path[0].parent != main || len(path[0].fk.Columns) != 1 || p.keysBetween(path[0].child, main) != 1 {
		return nil, nil
	}
	child := path[0].child
	fk := path[0].fk
	sub := &selectQ{from: child.Name, items: []selItem{{e: litExpr{int64(1)}}},
		where: []sqlExpr{binExpr{colExpr{child.Name, fk.Columns[0]}, "=", colExpr{main.Name, fk.RefColumns[0]}}}}
	in := map[*Table]bool{child: true}
	for _, e := range path[1:] {
		if p.keysBetween(e.child, e.parent) != 1 {
			return nil, nil
		}
		var on []sqlExpr
		for k := range e.fk.Columns {
			on = append(on, binExpr{colExpr{e.child.Name, e.fk.Columns[k]}, "=", colExpr{e.parent.Name, e.fk.RefColumns[k]}})
		}
		sub.joins = append(sub.joins, joinClause{rel: e.to.Name, on: on})
		in[e.to] = true
	}
	return sub, in
}

// dropTables removes the tables an anti-join reads from the tables joined
// to the answer; the mentions of those tables are consumed by it.
func (p *parser) dropTables(f *frame, tables map[*Table]bool, m *mention) {
	ts := f.tables[:0]
	for _, x := range f.tables {
		if x == f.main || !tables[x] {
			ts = append(ts, x)
		}
	}
	f.tables = ts
	for t := range tables {
		p.consumeTable(t)
	}
}

// valueOf reports whether mention m is a value of column ce.
func (p *parser) valueOf(m *mention, ce colExpr) bool {
	for _, v := range m.vals {
		if v.table.Name == ce.rel && v.col.Name == ce.col {
			return true
		}
	}
	return false
}

// negatedTable is the table token j names: a table mention, a column
// mention of one table ("cartoons directed by"), or a verb whose stem is a
// table's name ("ordered" -> orders).
func (p *parser) negatedTable(j int) (*Table, *mention) {
	if m := p.byTok[j]; m != nil {
		switch {
		case m.kind == mTable:
			return p.bestTable(m), m
		case m.kind == mColumn && p.unique(m) && len(m.links) > 0:
			return m.links[0].table, m
		}
		return nil, nil
	}
	w := p.toks[j].low
	for _, stem := range []string{strings.TrimSuffix(w, "ed"), strings.TrimSuffix(w, "d")} {
		if stem == w || len(stem) < 3 {
			continue
		}
		for _, l := range p.lx.phrases[lemma(stem)] {
			if l.kind == linkTable {
				return l.table, nil
			}
		}
	}
	return nil, nil
}

// namedElsewhere reports whether t has a table mention other than m.
func (p *parser) namedElsewhere(t *Table, m *mention) bool {
	for _, x := range p.ms {
		if x != m && x.kind == mTable && p.bestTable(x) == t && !x.used {
			return true
		}
	}
	return false
}

// keyTo is child's single-column foreign key to parent, or nil.
func keyTo(child, parent *Table) *ForeignKey {
	for i, fk := range child.ForeignKeys {
		if strings.EqualFold(fk.RefTable, parent.Name) && len(fk.Columns) == 1 && usableKey(child, &child.ForeignKeys[i]) {
			return &child.ForeignKeys[i]
		}
	}
	return nil
}

// semiJoins turns a condition on a table with many rows per main row
// ("countries that use English", "customers who bought Rock tracks") into
// EXISTS (…) when nothing else of the query reads that table: joining it
// would repeat each main row once per matching row, and counts and sums
// over the main rows would be multiplied.
func (p *parser) semiJoins(f *frame) {
	read := map[*Table]bool{}
	for _, m := range f.measures {
		read[m.table], read[m.counts], read[m.also] = true, true, true
	}
	if f.groupTable != nil {
		read[f.groupTable] = true
	}
	if f.groupCol != nil {
		read[f.groupCol.table] = true
	}
	for _, m := range f.distinct {
		read[m.table] = true
	}
	if oc, ok := f.orderBy.(colExpr); ok {
		read[p.s.Table(oc.rel)] = true
	}
	for k, fl := range f.filters {
		if fl.tbl == nil || fl.tbl == f.main || (read[fl.tbl] && !fl.each) || p.noFanOut(fl.tbl, f.main) {
			continue
		}
		if _, ok := fl.e.(existsExpr); ok {
			continue
		}
		sub, path := p.antiJoin(f.main, fl.tbl)
		if sub == nil {
			continue
		}
		sub.where = append(sub.where, fl.e)
		f.filters[k] = filter{e: existsExpr{q: sub}, desc: fmt.Sprintf("some %s row with %s", fl.tbl.Name, fl.desc), tbl: f.main}
		keep := map[*Table]bool{}
		for t := range path {
			if !read[t] {
				keep[t] = true
			}
		}
		p.dropTables(f, keep, nil)
	}
}
