package nlp

// rewriteComparisons puts postfix comparisons into the prefix form the
// comparison stage reads: "3 or more friends" is "at least 3 friends", "2
// or fewer sections" is "at most 2 sections", and "more than a single
// performance" is "more than 1 performance". "Come from" is "from", "live in" is "in", "the greatest number of" is
// "the most number of", "as well as" is "and".
func rewriteComparisons(toks []token) []token {
	word := func(w string) token { return token{raw: w, low: w, lem: w} }
	at := func(i int, w string) bool { return i >= 0 && i < len(toks) && !toks[i].quoted && toks[i].low == w }
	var out []token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.isNum && at(i+1, "or") && (at(i+2, "more") || at(i+2, "greater") || at(i+2, "higher") || at(i+2, "above")) {
			out = append(out, word("at"), word("least"), t)
			i += 2
			continue
		}
		if t.isNum && at(i+1, "or") && (at(i+2, "fewer") || at(i+2, "less") || at(i+2, "lower") || at(i+2, "below")) {
			out = append(out, word("at"), word("most"), t)
			i += 2
			continue
		}
		if (at(i, "a") || at(i, "one")) && at(i+1, "single") && i >= 1 && at(i-1, "than") {
			out = append(out, token{raw: "1", low: "1", lem: "1", isNum: true, num: 1})
			i++
			continue
		}
		if (at(i, "greatest") || at(i, "largest") || at(i, "highest") || at(i, "biggest")) && at(i+1, "number") && at(i+2, "of") {
			out = append(out, word("most")) // "the greatest number of orchestras"
			continue
		}
		if (at(i, "smallest") || at(i, "lowest") || at(i, "fewest")) && at(i+1, "number") && at(i+2, "of") {
			out = append(out, word("least"))
			continue
		}
		if at(i, "as") && at(i+1, "well") && at(i+2, "as") && i > 0 {
			out = append(out, word("and")) // "the names, as well as the number of …"
			i += 2
			continue
		}
		if at(i, "his") || at(i, "her") || at(i, "hers") {
			continue // "list his or her role": a pronoun for the rows listed
		}
		if (at(i, "live") || at(i, "lives") || at(i, "living") || at(i, "located") || at(i, "based")) && (at(i+1, "in") || at(i+1, "at")) {
			continue // "professionals who live in the state of Hawaii": in says it
		}
		if (at(i, "come") || at(i, "comes") || at(i, "came")) && (at(i+1, "from") || at(i-1, "from") || at(i+1, "?") || at(i+1, ".")) {
			continue // "the countries the customers come from": from says it
		}
		if (at(i, "after") || at(i, "before") || at(i, "since") || at(i, "in") || at(i, "until")) && at(i+1, "the") && at(i+2, "year") &&
			i+3 < len(toks) && toks[i+3].isNum && toks[i+3].num >= 1000 && toks[i+3].num < 3000 {
			out = append(out, t) // "founded after the year 2008": after 2008
			i += 2
			continue
		}
		if at(i, "as") && at(i+1, "well") && (i+2 >= len(toks) || toks[i+2].punct) {
			out = append(out, word("also")) // "show the shop name as well"
			i++
			continue
		}
		if at(i, "at") && (at(i+1, "this") || at(i+1, "the")) && at(i+2, "moment") {
			out = append(out, word("currently")) // "who do not own any dogs at this moment"
			i += 2
			continue
		}
		out = append(out, t)
	}
	return out
}
