package nlp

import "unicode"

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
