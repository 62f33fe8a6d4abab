package nlp

import "strings"

// The rows of the main table that some row of another table refers to,
// said with a verb the schema does not name: "dogs who have gone through
// any treatments", "dogs that received a treatment", "how many dogs went
// through treatments". The verb says only that the rows are related (a
// treatment of the dog), which EXISTS over the referring rows says; the
// table must end the clause, so that nothing the verb could carry
// ("treatments costing more than 100") is dropped. A qualifier naming a
// table the referring rows point to ("any treatment on dogs") joins that
// table inside the subquery: every treatment is on some dog, so the rows
// are the same, and the words are accounted for.

// irregularVerbs are past forms that do not end in -ed.
var irregularVerbs = toSet(`went gone got gotten done took taken made won held given gave bought sold seen saw undergone underwent`)

// verbParticles may follow such a verb ("gone through", "applied to").
var verbParticles = toSet(`through to on in at for with from into under`)

// relatingVerb reports whether token j is a verb that can only relate the
// rows: lower case, unlinked, not a word of the schema or a cue, and a
// past form or a relation verb.
func (p *parser) relatingVerb(j int) bool {
	if j < 0 || j >= len(p.toks) || p.byTok[j] != nil || p.consumed[j] {
		return false
	}
	t := p.toks[j]
	if t.isNum || t.punct || t.quoted || t.cap || !isWord(t.low) || stopWords[t.low] || cueWords[t.lem] || cueWords[t.low] || negationWords[t.low] {
		return false
	}
	if relationVerbs[t.low] || irregularVerbs[t.low] {
		return true
	}
	if p.lx.words[t.lem] || p.lx.words[t.low] || fillerWords[t.lem] ||
		p.lx.words[strings.TrimSuffix(t.low, "ed")] || p.lx.words[strings.TrimSuffix(t.low, "d")] {
		return false // "graded": a column's word, not a relation
	}
	return strings.HasSuffix(t.low, "ed") && len(t.low) > 4
}

// verbExistence reads "<main> (who|that|which)? (have|has|had)? (ever)?
// <verb> <particle>? (a|an|any|some)? <table>" as EXISTS over the table's
// rows that refer to the main row.
func (p *parser) verbExistence(f *frame) {
	if f.main == nil || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return
	}
	for _, ms := range f.measures {
		if ms.table != nil && ms.table != f.main || ms.counts != nil && ms.counts != f.main || ms.also != nil {
			return
		}
	}
	if p.tableThenVerb(f) {
		return
	}
	for i := range p.toks {
		if !p.relatingVerb(i) {
			continue
		}
		// What stands before the verb: the main table, or a relative
		// pronoun after it, with auxiliaries between.
		k := i - 1
		ever := p.at(k, "ever")
		if ever {
			k--
		}
		afterHave := false
		if p.at(k, "have") || p.at(k, "has") || p.at(k, "had") {
			k--
			afterHave = !ever
		}
		start := k + 1
		if p.at(k, "who") || p.at(k, "that") || p.at(k, "which") {
			k--
		}
		if k < 0 || p.byTok[k] == nil || p.byTok[k].kind != mTable || p.bestTable(p.byTok[k]) != f.main {
			continue
		}
		j := i + 1
		if j < len(p.toks) && verbParticles[p.toks[j].low] && p.byTok[j] == nil {
			j++
		}
		for p.at(j, "a") || p.at(j, "an") || p.at(j, "any") || p.at(j, "some") {
			j++
		}
		if afterHave && j == i+1 && !relationVerbs[p.toks[i].low] && !irregularVerbs[p.toks[i].low] {
			continue // "cars that have limited editions": an adjective, maybe
		}
		m := p.tableAt(j)
		if m == nil || m.used {
			continue
		}
		t := p.bestTable(m)
		if t == f.main || p.noFanOut(t, f.main) {
			continue
		}
		conditioned := false
		for _, fl := range f.filters {
			if fl.tbl == t {
				conditioned = true
			}
		}
		if conditioned {
			continue // semiJoins builds the EXISTS with the condition
		}
		sub, path := p.antiJoin(f.main, t)
		if sub == nil {
			continue
		}
		end, q := p.subqueryParent(sub, t, m.end, f.main)
		if end < len(p.toks) && !p.toks[end].punct && !p.at(end, "and") && !p.at(end, "but") {
			continue // "who received a treatment costing …": more than the relation
		}
		if q != nil {
			path[p.bestTable(q)] = true
			q.used = true
			p.mark(m.end, end-m.end)
		}
		f.filters = append(f.filters, filter{e: existsExpr{q: sub}, desc: "some " + t.Name + " row refers to it", tbl: f.main})
		m.used = true
		p.mark(start, m.end-start)
		p.dropTables(f, path, m)
		p.understood = append(p.understood, f.main.Name+" with "+t.Name)
		return
	}
}

// subqueryParent reads "(on|to|for|of) (a|an|any|the)? <table>" or
// "any <table>" at token i, after the table t of an EXISTS or NOT EXISTS subquery ("any treatment
// on dogs"), when t refers to that table by exactly one foreign key and it
// is not main: the table is joined inside sub. It returns the token after
// the qualifier (i when there is none) and the qualifier's table mention.
func (p *parser) subqueryParent(sub *selectQ, t *Table, i int, main *Table) (int, *mention) {
	j := i + 1
	switch {
	case p.at(i, "on") || p.at(i, "to") || p.at(i, "for") || p.at(i, "of"):
	case p.at(i, "any"):
		j = i // "did not visit any museum": the verb's object
	default:
		return i, nil
	}
	for p.at(j, "a") || p.at(j, "an") || p.at(j, "any") || p.at(j, "the") {
		j++
	}
	m := p.tableAt(j)
	if m == nil || m.used {
		return i, nil
	}
	parent := p.bestTable(m)
	if parent == main || parent == t || p.keysBetween(t, parent) != 1 {
		return i, nil
	}
	for _, fk := range t.ForeignKeys {
		if !strings.EqualFold(fk.RefTable, parent.Name) || len(fk.Columns) != 1 {
			continue
		}
		for _, jn := range sub.joins {
			if jn.rel == parent.Name {
				return m.end, m // already on the path
			}
		}
		if sub.from != t.Name {
			return i, nil // t is not the subquery's own table
		}
		sub.joins = append(sub.joins, joinClause{rel: parent.Name, on: []sqlExpr{
			binExpr{colExpr{t.Name, fk.Columns[0]}, "=", colExpr{parent.Name, fk.RefColumns[0]}}}})
		return m.end, m
	}
	return i, nil
}

// tableThenVerb reads "(who|that|which) (ever)? (have|has|had) (a|an|any|
// some)? <table> <verb> <particle>?" at the end of a clause ("courses
// that have some students enrolled", "which ever have students enrolled
// in") as EXISTS over the table's rows that refer to the main row.
func (p *parser) tableThenVerb(f *frame) bool {
	for i := range p.toks {
		if !(p.at(i, "have") || p.at(i, "has") || p.at(i, "had")) || p.consumed[i] {
			continue
		}
		k := i - 1
		if p.at(k, "ever") {
			k--
		}
		if !(p.at(k, "who") || p.at(k, "that") || p.at(k, "which")) {
			continue
		}
		j := i + 1
		for p.at(j, "a") || p.at(j, "an") || p.at(j, "any") || p.at(j, "some") {
			j++
		}
		m := p.tableAt(j)
		if m == nil || m.used || !p.relatingVerb(m.end) {
			continue
		}
		end := m.end + 1
		if end < len(p.toks) && verbParticles[p.toks[end].low] && p.byTok[end] == nil {
			end++
		}
		if end < len(p.toks) && !p.toks[end].punct && !p.at(end, "and") && !p.at(end, "but") {
			continue
		}
		t := p.bestTable(m)
		if t == f.main || p.noFanOut(t, f.main) {
			continue
		}
		for _, fl := range f.filters {
			if fl.tbl == t {
				return false
			}
		}
		sub, path := p.antiJoin(f.main, t)
		if sub == nil {
			continue
		}
		f.filters = append(f.filters, filter{e: existsExpr{q: sub}, desc: "some " + t.Name + " row refers to it", tbl: f.main})
		m.used = true
		p.mark(k+1, end-k-1)
		p.dropTables(f, path, m)
		p.understood = append(p.understood, f.main.Name+" with "+t.Name)
		return true
	}
	return false
}

// participleOfColumn reports whether token i is a verb between a column of
// a table and that table's own name ("the total bonus given in all
// evaluations", "the number of tickets bought in all visits"): the verb
// says only that the values are the table's, which the query reads there.
func (p *parser) participleOfColumn(i int, uses string) bool {
	if !p.relatingVerb(i) && !(p.byTok[i] == nil && irregularVerbs[p.toks[i].low]) || i == 0 {
		return false
	}
	cm := p.byTok[i-1]
	if cm == nil || cm.kind != mColumn {
		return false
	}
	j := i + 1
	if j < len(p.toks) && verbParticles[p.toks[j].low] {
		j++
	}
	for p.at(j, "all") || p.at(j, "the") || p.at(j, "every") || p.at(j, "each") {
		j++
	}
	tm := p.tableAt(j)
	if tm == nil {
		return false
	}
	t := p.bestTable(tm)
	for _, l := range cm.links {
		if l.kind == linkColumn && l.table == t && strings.Contains(uses, p.r.q(t.Name)+"."+p.r.q(l.col.Name)) {
			return true
		}
	}
	return false
}
