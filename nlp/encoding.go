package nlp

import (
	"strconv"
	"strings"
)

// A note on how a flag is stored ("1 stands for yes, and 0 stands for
// no", "Note that 1 stands for yes") is accounted for by the condition that
// uses it: when a condition of the query compares a column with the yes
// value the note gives (or, negated, with its no value), the note's words
// are consumed. A note the query contradicts stays unaccounted, so the
// question is declined.

// encodingVerbs say what a stored value stands for.
var encodingVerbs = [][]string{{"stands", "for"}, {"stand", "for"}, {"represents"}, {"denotes"}, {"indicates"}, {"is", "for"}, {"for"}}

// encodingNote consumes the notes that the filters agree with.
func (p *parser) encodingNote(f *frame) {
	var conds []string
	for _, fl := range f.filters {
		conds = append(conds, fl.e.render(p.r))
	}
	agrees := func(num float64, yes bool) bool {
		lit := strconv.FormatFloat(num, 'f', -1, 64)
		for _, c := range conds {
			for _, form := range []string{lit, "'" + lit + "'", lit + ".0"} {
				if yes && (strings.HasSuffix(c, " = "+form+")") || strings.Contains(c, " = "+form+")")) {
					return true
				}
				if !yes && strings.Contains(c, " <> "+form+")") {
					return true
				}
			}
		}
		return false
	}
	type note struct {
		start, end int
		num        float64
		yes        bool
	}
	var notes []note
	for i, t := range p.toks {
		if !t.isNum || p.consumed[i] {
			continue
		}
		for _, v := range encodingVerbs {
			if !p.at(i+1, v...) {
				continue
			}
			k := i + 1 + len(v)
			if p.at(k, "yes") || p.at(k, "true") || p.at(k, "no") || p.at(k, "false") {
				notes = append(notes, note{start: i, end: k + 1, num: t.num, yes: p.at(k, "yes") || p.at(k, "true")})
			}
			break
		}
	}
	if len(notes) == 0 {
		return
	}
	// The note holds when the query uses its yes value (or the no value of
	// a negated flag) and the other values it gives are not that one.
	ok := false
	for _, n := range notes {
		if agrees(n.num, n.yes) || !n.yes && agrees(n.num, false) {
			ok = true
		}
	}
	for _, a := range notes {
		for _, b := range notes {
			if a.yes != b.yes && a.num == b.num {
				ok = false // "1 stands for yes and 1 for no"
			}
		}
	}
	if !ok {
		return
	}
	for _, n := range notes {
		p.mark(n.start, n.end-n.start)
	}
	for i, t := range p.toks {
		if t.low == "note" && p.at(i+1, "that") && (i == 0 || p.toks[i-1].punct) {
			p.mark(i, 2) // "Note that …"
		}
	}
}
