package nlp

import (
	"strings"
	"unicode"
)

// negatedVerb reports whether token j is the one verb a negation may pass
// over on its way to what it negates ("do not speak English", "did not
// lose any ship", "do not play poker"): a verb that relates rows of two
// tables, or a lower-case word the schema does not name, followed by a
// schema mention or a word a negation skips. The verb means only that the
// rows are related, which the anti-join says.
func (p *parser) negatedVerb(j int) bool {
	if j+1 >= len(p.toks) || p.byTok[j] != nil {
		return false
	}
	t := p.toks[j]
	if t.isNum || t.punct || t.quoted || t.cap || stopWords[t.low] || cueWords[t.lem] || negationWords[t.low] || !isWord(t.low) {
		return false
	}
	if !relationVerbs[t.low] && (p.lx.words[t.lem] || fillerWords[t.lem]) {
		return false
	}
	return p.byTok[j+1] != nil || negationSkip[p.toks[j+1].low]
}

// isWord reports whether w is made of letters only.
func isWord(w string) bool {
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return w != ""
}

// verbOfReadTable reports whether token i is a verb whose stem begins the
// name of a table the query reads and that the query relates to another
// ("conductors that have conducted more than one orchestra" reads
// conductor, "performed in" reads performance): the verb says the rows
// are related, which the join says.
func (p *parser) verbOfReadTable(i int, uses string) bool {
	t := p.toks[i]
	if p.byTok[i] != nil || t.quoted || t.isNum || !isWord(t.low) {
		return false
	}
	stem := ""
	for _, suf := range []string{"ed", "d", "ing", "s"} {
		if s := strings.TrimSuffix(t.low, suf); s != t.low && len(s) >= 5 {
			stem = s
			break
		}
	}
	if stem == "" {
		return false
	}
	read := 0
	named := false
	for _, tb := range p.s.Tables {
		if !strings.Contains(uses, p.r.q(tb.Name)+".") {
			continue
		}
		read++
		for _, w := range splitName(tb.Name) {
			if strings.HasPrefix(w, stem) {
				named = true
			}
		}
	}
	return named && read >= 2
}

// doVerbs say only that rows of two tables are related ("professionals who
// have done two treatments", "the shop hiring the most employees"): where
// the query joins or correlates tables, the join says it.
var doVerbs = toSet(`do does did done doing perform performs performed performing operate operates operated operating
give gives gave given giving have has had having hold holds held hire hires hired hiring host hosts hosted
manage manages managed managing offer offers offered offering receive receives received get gets got`)

func (p *parser) genericRelation(i int, sql string) bool {
	t := p.toks[i]
	if p.byTok[i] != nil {
		return false
	}
	if doVerbs[t.low] && (strings.Contains(sql, " JOIN ") || strings.Contains(sql, "EXISTS (")) {
		return true
	}
	// "each language and the number of TV channels using it", "how many
	// concerts play there": the counted rows relate to the group.
	return (doVerbs[t.low] || relationVerbs[t.low] || strings.HasSuffix(t.low, "ing")) && strings.Contains(sql, " GROUP BY ") &&
		(p.at(i+1, "it") || p.at(i+1, "them") || p.at(i+1, "there"))
}
