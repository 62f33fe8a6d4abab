package nlp

// Demonyms: "Asian countries", "French singers", "European cities" name a
// value (Asia, France, Europe) by its adjective. The adjective links to the
// stored value only when the word itself is no value of the schema ("French"
// is a language where the schema lists languages) and the value is stored.

var demonyms = map[string][]string{
	"asian": {"Asia"}, "african": {"Africa"}, "european": {"Europe"}, "oceanian": {"Oceania"},
	"antarctic": {"Antarctica"}, "north american": {"North America"}, "south american": {"South America"},
	"french": {"France"}, "german": {"Germany"}, "italian": {"Italy"}, "spanish": {"Spain"},
	"british": {"United Kingdom", "UK"}, "english": {"England"}, "dutch": {"Netherlands"},
	"american": {"United States", "USA", "US"}, "canadian": {"Canada"}, "mexican": {"Mexico"},
	"brazilian": {"Brazil"}, "argentinian": {"Argentina"}, "chinese": {"China"}, "japanese": {"Japan"},
	"korean": {"Korea"}, "indian": {"India"}, "russian": {"Russia"}, "australian": {"Australia"},
	"swedish": {"Sweden"}, "norwegian": {"Norway"}, "danish": {"Denmark"}, "finnish": {"Finland"},
	"polish": {"Poland"}, "irish": {"Ireland"}, "portuguese": {"Portugal"}, "greek": {"Greece"},
	"turkish": {"Turkey"}, "egyptian": {"Egypt"}, "swiss": {"Switzerland"}, "belgian": {"Belgium"},
	"austrian": {"Austria"}, "hungarian": {"Hungary"}, "czech": {"Czech Republic"},
}

// matchDemonym links the capitalised adjective at i ("North American" over
// two words) to the stored values it names: the number of words and the
// values, or 0.
func (p *parser) matchDemonym(i int) (int, []valueRef) {
	t := p.toks[i]
	if t.quoted || !(t.cap || i == 0) {
		return 0, nil
	}
	for n := 2; n >= 1; n-- {
		if i+n > len(p.toks) {
			continue
		}
		key := t.low
		if n == 2 {
			key += " " + p.toks[i+1].low
		}
		var out []valueRef
		for _, v := range demonyms[key] {
			out = append(out, p.lx.values[normValue(v)]...)
		}
		if len(out) > 0 {
			return n, out
		}
	}
	return 0, nil
}

// pluralValue links a capitalised or table-adjacent plural to the stored
// value of its singular ("countries that are Republics", "cats and dogs"
// where pet types are cat and dog), with the same care as a value word.
func (p *parser) pluralValue(i int) []valueRef {
	t := p.toks[i]
	if t.quoted || t.isNum || t.lem == t.low || len(t.lem) < 3 || stopWords[t.low] || cueWords[t.lem] {
		return nil
	}
	refs := p.lx.values[normValue(t.lem)]
	if len(refs) == 0 {
		return nil
	}
	if !t.cap && !p.nextToTable(i) && !p.nextToColumn(i, refs) && !p.afterCopula(i) && !p.afterPossession(i, refs) && !p.valueAfterSuperlative(i, refs) {
		return nil
	}
	return refs
}

// afterCopula reports whether token i follows "are"/"is" (or "are not"):
// "countries which are republics".
func (p *parser) afterCopula(i int) bool {
	k := i - 1
	if p.at(k, "not") {
		k--
	}
	return p.at(k, "are") || p.at(k, "is")
}

// genderWords name the stored codes of a sex or gender column ("female
// students": sex = 'F'), linked only when one column stores the code.
var genderWords = map[string][]string{
	"female": {"F", "Female"}, "females": {"F", "Female"}, "woman": {"F", "Female"}, "women": {"F", "Female"},
	"male": {"M", "Male"}, "males": {"M", "Male"}, "man": {"M", "Male"}, "men": {"M", "Male"},
}

// matchGender links a gender word to the code its column stores, when
// exactly one column of a sex or gender name holds it.
func (p *parser) matchGender(i int) []valueRef {
	t := p.toks[i]
	if t.quoted {
		return nil
	}
	var out []valueRef
	for _, v := range genderWords[t.low] {
		for _, r := range p.lx.values[normValue(v)] {
			w := lemmas(splitName(r.col.Name))
			if last := w[len(w)-1]; last == "sex" || last == "gender" {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	for _, r := range out[1:] {
		if r.col != out[0].col {
			return nil
		}
	}
	return out[:1]
}
