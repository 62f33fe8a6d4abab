package nlp

import "strings"

// Places written in lower case: "car makers in france", "models produced
// in the usa", "airlines from usa". A lone lower-case word is a stored
// value after "in" or "from" (and an article), ending its phrase, when it
// is no word of the schema's names and all the columns holding it are of
// one table: the
// preposition says where, which a stored place answers. Otherwise such a
// word stays a value only next to a table it qualifies (link.go).

func (p *parser) valueAfterPlace(i int, refs []valueRef) bool {
	t := p.toks[i]
	if t.cap || t.quoted || t.isNum || p.lx.words[t.lem] || p.lx.words[t.low] || fillerWords[t.lem] || !isWord(t.low) || len(t.low) < 3 {
		return false
	}
	// The place ends its phrase: "in the music store" names a store.
	if i+1 < len(p.toks) && !p.toks[i+1].punct && !stopWords[p.toks[i+1].low] {
		return false
	}
	j := i - 1
	if j >= 0 && p.at(j, "the") {
		j--
	}
	if j < 0 || !(p.at(j, "in") || p.at(j, "from")) {
		return false
	}
	for _, v := range refs {
		if v.table != refs[0].table || v.col.Kind != KindText {
			return false
		}
	}
	return len(refs) > 0
}

// attributeVerbs say that a row has an attribute ("which country does
// JetBlue Airways belong to", "what country is it affiliated with",
// "which abbreviation corresponds to JetBlue").
var attributeVerbs = toSet(`belong belongs belonged affiliated correspond corresponds corresponded`)

// attributeOfValue reports whether token i is a verb of attributeVerbs
// right after or before a value the SQL uses, in a query that reads one
// table: the value picks the row, and the verb only says that the asked
// column is the row's.
func (p *parser) attributeOfValue(i int, ok []bool, sql string) bool {
	if !attributeVerbs[p.toks[i].low] || strings.Contains(sql, " JOIN ") || strings.Contains(sql, "EXISTS (") {
		return false
	}
	if p.nextRealised(i, ok) {
		return true
	}
	for k := i - 1; k >= 0; k-- {
		if m := p.byTok[k]; m != nil {
			return ok[k] && m.kind == mValue
		}
		if !p.isFunctionWord(p.toks[k]) {
			return false
		}
	}
	return false
}

// numberName is the phrase a column named "<table word>no" or "<table
// word> no" answers to ("flightno" of flights: "flight number"), or nil.
func numberName(cw, tw []string) []string {
	var stem string
	switch {
	case len(cw) == 2 && cw[1] == "no":
		stem = cw[0]
	case len(cw) == 1 && len(cw[0]) >= 6 && strings.HasSuffix(cw[0], "no"):
		stem = strings.TrimSuffix(cw[0], "no")
	default:
		return nil
	}
	if len(tw) == 0 || tw[0] != stem {
		return nil
	}
	return []string{stem, "number"}
}
