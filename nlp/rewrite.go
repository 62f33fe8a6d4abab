package nlp

// rewriteComparisons puts postfix comparisons into the prefix form the
// comparison stage reads: "3 or more friends" is "at least 3 friends", "2
// or fewer sections" is "at most 2 sections", and "more than a single
// performance" is "more than 1 performance".
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
		out = append(out, t)
	}
	return out
}
