package nlp

// A question followed by a request that only names what to show ("Which
// owner owns the most dogs? List the owner id, first name and last
// name.") is one question: the request picks the answer's columns, which
// the one SELECT shows. The doubt of two questions in one does not apply.

// displayTail reports whether the question is one sentence followed by a
// display request (list, give, show, return, tell, display) whose words
// are only column or table names and function words — no number, value
// or cue (but one the first sentence has: a restatement) that would ask
// something of its own.
func (p *parser) displayTail() bool {
	cut := -1
	for i, t := range p.toks {
		if (t.low == "?" || t.low == ".") && i+1 < len(p.toks) && !p.toks[i+1].punct {
			if cut >= 0 {
				return false // more than two sentences
			}
			cut = i + 1
		}
	}
	if cut < 0 || !displayRequests[p.toks[cut].low] {
		return false
	}
	first := map[string]bool{} // "Find the maximum weight … List the maximum weight": restated
	for _, t := range p.toks[:cut] {
		first[t.lem] = true
	}
	for k := cut + 1; k < len(p.toks); k++ {
		t := p.toks[k]
		if t.punct {
			continue
		}
		if m := p.byTok[k]; m != nil {
			if m.kind != mColumn && m.kind != mTable {
				return false
			}
			continue
		}
		if (cueWords[t.low] || cueWords[t.lem]) && !first[t.lem] {
			return false // a cue the first sentence does not have asks something new
		}
		if t.isNum || t.quoted || !(p.isFunctionWord(t) || possessives[t.low] || cueWords[t.lem]) {
			return false
		}
	}
	return true
}

var displayRequests = toSet("list give show return tell display")

var possessives = toSet("his her their its")
