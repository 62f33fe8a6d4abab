package nlp

// A lone lower-case word is a value only next to a table it can qualify
// (link.go). After a verb of having it is what the rows have: "students
// who have a dog", "who own cats", "has both cats and dogs" name the pet
// type, when one column holds the word (a word of several columns stays
// unlinked, as before).

// possessionVerbs are the verbs whose object may be a stored value.
var possessionVerbs = toSet("have has had own owns owned having owning")

// afterPossession reports whether token i is the object of a verb of
// having ("have a dog", "has no cat", "own both cats") and every ref is
// of one column.
func (p *parser) afterPossession(i int, refs []valueRef) bool {
	if len(refs) == 0 {
		return false
	}
	for _, r := range refs[1:] {
		if r.col != refs[0].col {
			return false
		}
	}
	// The value ends the clause: "a cat that is age 3" could give the
	// age of the cat or of the student, which is not read here.
	if e := i + 1; e < len(p.toks) && !p.toks[e].punct && !p.at(e, "and") && !p.at(e, "but") && !p.at(e, "or") && !p.at(e, "as") {
		return false
	}
	k := i - 1
	if p.at(k, "a") || p.at(k, "an") || p.at(k, "any") || p.at(k, "no") || p.at(k, "both") || p.at(k, "some") {
		k--
	}
	return k >= 0 && possessionVerbs[p.toks[k].low] && !p.toks[k].quoted
}

// negatedBetween reports whether a negation or "but" stands between
// tokens from and to: "a dog but does not have a cat" names two
// conditions, not one value or the other.
func (p *parser) negatedBetween(from, to int) bool {
	for k := from; k < to && k < len(p.toks); k++ {
		if k >= 0 && (negationWords[p.toks[k].low] || p.toks[k].low == "but") {
			return true
		}
	}
	return false
}

// inHolds reports whether the IN list holds one of m's values: of two
// conditions on one column ("a dog but not a cat"), a negation reaches
// the one whose value it precedes.
func inHolds(in inExpr, m *mention) bool {
	for _, e := range in.vals {
		l, ok := e.(litExpr)
		if !ok {
			continue
		}
		for _, v := range m.vals {
			if s, ok := l.v.(string); ok && s == v.value {
				return true
			}
		}
	}
	return false
}

// superlativeHeads are the adjectives after which a lone lower-case word is
// the noun they pick a row of ("the youngest dog": the pet type dog).
var superlativeHeads = toSet("youngest oldest heaviest lightest tallest shortest longest newest latest earliest cheapest")

// valueAfterSuperlative reports whether token i follows such an adjective, ends
// its phrase, and every ref is of one column.
func (p *parser) valueAfterSuperlative(i int, refs []valueRef) bool {
	if i == 0 || !superlativeHeads[p.toks[i-1].low] || len(refs) == 0 {
		return false
	}
	for _, r := range refs[1:] {
		if r.col != refs[0].col {
			return false
		}
	}
	e := i + 1
	return e >= len(p.toks) || p.toks[e].punct || p.at(e, "and") || possessionVerbs[p.toks[e].low] || p.at(e, "weigh") || p.at(e, "is")
}
