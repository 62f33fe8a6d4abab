package nlp

import "strings"

// The coverage check is the first step of verification: every word of the
// question must be accounted for by the interpretation that produced the
// SQL — a construct consumed it (an aggregate, an ordering, a limit, a
// comparison, a date range, a grouping, a negation), or it named a table,
// column or value that the SQL uses — or the question is declined. Only
// function words, which cannot change the result, may stay unaccounted.

// functionWords may stay unaccounted: articles, pronouns, auxiliaries,
// question words, polite and display verbs, and prepositions whose meaning
// is carried by the words around them. Negations, quantifiers that change a
// result ("only", "both", "each", "per", "by") are not among them.
var functionWords = toSet(`a an the of in on at to for from with and or all any me us we our i you your
show list give display find get provide return fetch see view tell what which who whom whose where when how is are was were be been
do does did have has had that this these those there their them they it its as about query also please want would like
can could will shall should may might must just including include includes included along together resultant result results table
tables database db store data record records entry entries info information detail details available exist existing currently
some such s whole set complete full everything anything thing things make made then than
music catalog catalogue system company business shop app application overall respective
among associated associate related relate corresponding column columns field fields row rows value values name names title titles
showing shows displays displaying listing listed looking look calculate compute item items contain contains containing appear appears but across`)

// nounStops are function words that are also nouns a schema may name
// ("result", "record"): where the schema has such a name, they link to it
// and are no longer function words.
var nounStops = toSet(`result results record records entry entries info information detail details data set store stores`)

// isFunctionWord reports whether token t may stay unaccounted.
func (p *parser) isFunctionWord(t token) bool {
	if !functionWords[t.low] && !functionWords[t.lem] {
		return false
	}
	return !nounStops[t.low] || !p.lx.words[t.lem]
}

// nextRealised reports whether the first word after i that is not a
// function word belongs to a value the SQL uses ("channels that use the
// English language").
func (p *parser) nextRealised(i int, ok []bool) bool {
	for k := i + 1; k < len(p.toks); k++ {
		if m := p.byTok[k]; m != nil {
			return ok[k] && m.kind == mValue
		}
		if !p.isFunctionWord(p.toks[k]) {
			return false
		}
	}
	return false
}

// relationVerbs say that rows of one table belong to rows of another.
var relationVerbs = toSet(`own owns owned owning use uses used using belong belongs belonging buy buys bought purchase purchases purchased
take takes taking took taken attend attends attended teach teaches taught teaching speak speaks spoke spoken speaking
visit visits visited work works worked working enroll enrolls enrolled register registers registered place places placed placing
raise raises raised raising`)

// displayVerbs are the verbs an "only" may qualify without restricting
// anything ("only showing the customers from Brazil").
var displayVerbs = toSet(`show showing shows display displays displaying list listing return returns give`)

// unaccounted returns the words of the question that neither a construct
// nor a mention realised in the query accounts for; uses is what the query
// does with its tables (selectQ.uses), sql the whole statement.
func (p *parser) unaccounted(sql, uses string) []string {
	ok := make([]bool, len(p.toks))
	copy(ok, p.consumed)
	for _, m := range p.ms {
		if p.realised(m, sql, uses) || p.valuesColumn(m, sql, uses) {
			for k := m.start; k < m.end; k++ {
				ok[k] = true
			}
		}
	}
	var out []string
	for i, t := range p.toks {
		if p.orUnread(i, ok) { // either of two conditions (orcond.go)
			out = append(out, t.raw)
			continue
		}
		if ok[i] || t.punct || p.isFunctionWord(t) && !p.clauseOr(i) {
			continue
		}
		// "tracks by AC/DC", "the document named Summer Show": a word
		// before a value the SQL uses.
		if (t.low == "by" || t.low == "named" || t.low == "called" || t.low == "titled") && i+1 < len(p.toks) && ok[i+1] && p.byTok[i+1] != nil && p.byTok[i+1].kind == mValue {
			continue
		}
		// "the ids of the documents": a listing of every column shows them.
		if (t.low == "id" || t.low == "ids") && (!strings.Contains(sql, "GROUP BY") || p.starGroupedWhole(sql, uses)) && strings.Contains(uses, ".*") {
			continue
		}
		if t.low == "only" && i+1 < len(p.toks) && displayVerbs[p.toks[i+1].low] {
			continue
		}
		// "pets owned by students", "templates used by documents": the
		// verb names the foreign key the query joins along.
		related := strings.Contains(sql, " JOIN ") || strings.Contains(sql, "EXISTS (")
		if relationVerbs[t.low] && (related || p.nextRealised(i, ok) || p.verbBesideValue(i, ok) || p.groupCountVerb(i, sql, uses)) {
			continue
		}
		if p.attributeOfValue(i, ok, sql) || related && attributeVerbs[t.low] { // valueprep.go
			continue
		}
		if (t.low == "by" || t.low == "for") && i > 0 && relationVerbs[p.toks[i-1].low] && (related || p.groupCountVerb(i-1, sql, uses)) {
			continue
		}
		// "the quantity ordered", "pets owned": a verb whose stem names a
		// table the query reads.
		if t, _ := p.negatedTable(i); t != nil && p.byTok[i] == nil && strings.Contains(sql, p.r.q(t.Name)+".") {
			continue
		}
		if p.verbOfReadTable(i, uses) || p.genericRelation(i, sql) || p.participleOfColumn(i, uses) {
			continue
		}
		if p.wordOfMainTable(t, uses) { // "cars" of cars_data (listing.go)
			continue
		}
		// "the name of each battle": in a listing, each row is each one.
		if (t.low == "each" || t.low == "every") && (!strings.Contains(sql, "GROUP BY") && !hasAggregate(uses) || p.starGroupedWhole(sql, uses)) {
			k := i + 1
			if k < len(p.toks) && measureWords[p.toks[k].lem] {
				k++ // "each sales agent"
			}
			if k < len(p.toks) && ok[k] && p.byTok[k] != nil && p.byTok[k].kind == mTable {
				continue
			}
		}
		// "sales agent": a money word qualifying the table named after it.
		if measureWords[t.lem] && i+1 < len(p.toks) && ok[i+1] && p.byTok[i+1] != nil && (p.byTok[i+1].kind == mTable || p.agentsName(p.byTok[i+1])) {
			continue
		}
		out = append(out, t.raw)
	}
	return out
}

// agentsName reports whether m is a person table's name column named
// after its table by a synonym ("Sale Agent name": the employee's name).
func (p *parser) agentsName(m *mention) bool {
	if m.kind != mColumn || !p.unique(m) || len(m.links) == 0 || m.end-m.start != 2 {
		return false
	}
	t := m.links[0].table
	return isPerson(t) && isLabel(t, m.links[0].col)
}

// realised reports whether the schema element a mention links to is used
// by the query: its table or its column (qualified by its table) outside a
// join condition, or its value anywhere in the statement.
func (p *parser) realised(m *mention, sql, uses string) bool {
	q := p.r.q
	hasCol := func(t *Table, c *Column) bool {
		return t != nil && c != nil && strings.Contains(uses, q(t.Name)+"."+q(c.Name))
	}
	switch m.kind {
	case mValue:
		for _, v := range m.vals {
			if strings.Contains(sql, p.r.str(v.value)) || (v.col != nil && v.col.Kind != KindText && strings.Contains(sql, v.value)) {
				return true
			}
		}
		return false
	case mTable:
		if m.table != nil && strings.Contains(uses, q(m.table.Name)+".") {
			return true
		}
		for _, l := range m.links {
			if l.kind == linkTable && strings.Contains(uses, q(l.table.Name)+".") {
				return true
			}
		}
		return false
	}
	if m.col != nil {
		if hasCol(m.table, m.col) || p.starShows(m, sql, uses) || m.used && p.colCompared(sql, m.table, m.col) {
			return true
		}
		if ref := p.fkTarget(m.table, m.col); ref != nil && m.used && strings.Contains(uses, q(ref.Name)+".") {
			return true
		}
		return false
	}
	for _, l := range m.links {
		if hasCol(l.table, l.col) {
			return m.used || p.unique(m)
		}
	}
	if m.used {
		for _, l := range m.links {
			if p.colCompared(sql, l.table, l.col) {
				return true
			}
		}
	}
	return p.starShows(m, sql, uses)
}

// starShows reports whether the query shows every column of a table column
// mention m may stand for: a listing ("the ids of the students who …"),
// or a group by a table for a column named after that table ("the stadium
// name and the number of concerts in each stadium").
func (p *parser) starShows(m *mention, sql, uses string) bool {
	if p.predicateColumn(m) {
		return false
	}
	if strings.Contains(sql, " GROUP BY ") && (m.head == nil && !p.afterTable(m) && !p.groupedWhole(m, sql, uses) || p.afterSuperlative(m)) {
		return false
	}
	for _, l := range m.links {
		if l.col != nil && (m.col == nil || l.col == m.col) && strings.Contains(uses, p.r.q(l.table.Name)+".*") {
			return true
		}
	}
	return false
}

// predicateColumn reports whether column mention m is what a relative
// clause says of the rows ("products that are discontinued", "tracks which
// are explicit"): a condition, which showing every column does not state.
func (p *parser) predicateColumn(m *mention) bool {
	i := m.start
	if i < 2 || !copulas[p.toks[i-1].low] {
		return false
	}
	w := p.toks[i-2].low
	if w == "that" || w == "which" || w == "who" {
		return true
	}
	// "which products are discontinued": the copula after the table.
	b := p.byTok[i-2]
	return b != nil && b.kind == mTable && b.end == i-1
}

var copulas = toSet("is are was were")
