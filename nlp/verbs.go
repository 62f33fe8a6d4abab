package nlp

import "strings"

// More verbs that only relate rows of two tables ("channels playing
// cartoons", "cartoons shown on a channel", "the concerts held in a
// stadium"), and the places such a verb is accounted for without a join:
// right after the value it relates ("Anguilla belongs to", "Kabul is
// located in") or before a column named with its value ("channels using
// language English").

func init() {
	for w := range toSet(`playing air airs aired airing broadcast broadcasts broadcasting
showed shown locate located situate situated support supports supported supporting happen happens happened occur occurs occurred
feature features featured featuring`) {
		relationVerbs[w] = true
	}
}

// verbBesideValue reports whether the relation verb at i qualifies a value
// the query compares with: the value is the word before it (after
// auxiliaries: "Kabul is located in"), or the words after it are a column
// the query uses followed by a value of that column ("using language
// English"). ok says which tokens the query accounts for.
func (p *parser) verbBesideValue(i int, ok []bool) bool {
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		if m := p.byTok[k]; m != nil {
			if m.kind == mValue && ok[k] {
				return true
			}
			break
		}
		if !p.at(k, "is") && !p.at(k, "are") && !p.at(k, "was") && !p.at(k, "were") && !p.at(k, "been") && !p.at(k, "be") {
			break
		}
	}
	k := i + 1
	for k < len(p.toks) && p.byTok[k] == nil && p.isFunctionWord(p.toks[k]) {
		k++
	}
	c := p.mentionAt(k)
	if c == nil || c.kind != mColumn || !ok[k] {
		return false
	}
	v := p.mentionAt(c.end)
	if v == nil || v.kind != mValue || !ok[c.end] {
		return false
	}
	for _, r := range v.vals {
		if sharesColumn(c, r.col) {
			return true
		}
	}
	return false
}

// groupCountVerb reports whether the relation verb at i stands between a
// column the query groups by and the table whose rows it counts per value
// ("the record company used by the most orchestras", "the language used
// by the least number of TV channels"): the count says how the two relate.
func (p *parser) groupCountVerb(i int, sql, uses string) bool {
	_, group, ok := strings.Cut(sql, " GROUP BY ")
	if !ok || !relationVerbs[p.toks[i].low] || !strings.Contains(uses, "COUNT(") {
		return false
	}
	var before *mention
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		if m := p.byTok[k]; m != nil {
			before = m
			break
		}
		if !p.isFunctionWord(p.toks[k]) {
			return false
		}
	}
	if before == nil || before.kind != mColumn || before.col == nil || !strings.Contains(group, p.r.q(before.table.Name)+"."+p.r.q(before.col.Name)) {
		return false
	}
	for k := i + 1; k < len(p.toks) && k <= i+6; k++ {
		if m := p.byTok[k]; m != nil {
			return m.kind == mTable && strings.Contains(uses, "COUNT("+p.r.q(p.bestTable(m).Name)+".")
		}
		t := p.toks[k]
		if !p.isFunctionWord(t) && !p.at(k, "by") && !superMax[t.lem] && !superMin[t.lem] && t.lem != "number" && t.lem != "least" && t.lem != "fewest" {
			return false
		}
	}
	return false
}

// placeWords name columns that say where a row comes from: "country of
// origin", "city of origin" are the column.
var placeWords = toSet(`country nation nationality city town hometown place region state`)

// markOrigin consumes "of origin" right after a mention of such a column.
func (p *parser) markOrigin() {
	for i := 1; i+1 < len(p.toks); i++ {
		m := p.byTok[i-1]
		if !p.at(i, "of", "origin") || m == nil || m.kind != mColumn {
			continue
		}
		for _, l := range m.links {
			if l.col == nil {
				continue
			}
			if w := splitName(l.col.Name); len(w) > 0 && placeWords[lemma(w[len(w)-1])] {
				p.mark(i, 2)
				break
			}
		}
	}
}
