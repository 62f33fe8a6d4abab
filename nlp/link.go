package nlp

import (
	"sort"
	"strings"
)

// link is the linking stage: it finds the mentions of the question — the
// spans that name a table, a column or a value of the schema — longest first.

// cueWords are words the frame builder interprets; they never link to the
// schema by themselves.
var cueWords = toSet(`how many much number count average avg mean sum total minimum min maximum max smallest largest
lowest highest least most biggest greatest top first last sorted ordered order sort by per each every more less fewer greater
than over above under below after before since between during longer shorter cheaper older newer younger heavier lighter taller latest earliest oldest newest youngest
unique distinct different null empty missing unknown blank specified alphabetically ascending descending range year month day
week quarter monthly yearly annual daily weekly minute second hour millisecond expensive best worst never least`)

// link finds the mentions: schema phrases and values, longest first.
func (p *parser) link() {
	n := len(p.toks)
	p.byTok = make([]*mention, n)
	p.consumed = make([]bool, n)
	p.cue = make([]bool, n)
	for i := 0; i < n; {
		t := p.toks[i]
		if t.punct || t.isNum {
			i++
			continue
		}
		// Values first when longer than any schema phrase here.
		vn, vals := p.matchValue(i)
		sn, links := p.matchPhrase(i)
		switch {
		case vn > 0 && (vn > sn || (vn == sn && (t.cap || t.quoted))):
			m := &mention{kind: mValue, start: i, end: i + vn, vals: vals}
			p.add(m)
			i += vn
		case sn > 0:
			kind := mColumn
			for _, l := range links {
				if l.kind == linkTable {
					kind = mTable
				}
			}
			m := &mention{kind: kind, start: i, end: i + sn, links: links}
			p.add(m)
			i += sn
		default:
			if pv := p.pluralValue(i); len(pv) > 0 {
				p.add(&mention{kind: mValue, start: i, end: i + 1, vals: pv})
				i++
				continue
			}
			if gv := p.matchGender(i); len(gv) > 0 { // "female students" (demonym.go)
				p.add(&mention{kind: mValue, start: i, end: i + 1, vals: gv})
				i++
				continue
			}
			if dn, dvals := p.matchDemonym(i); dn > 0 {
				p.add(&mention{kind: mValue, start: i, end: i + dn, vals: dvals})
				i += dn
				continue
			}
			i++
		}
	}
	p.linkListedValues()
	p.mergeCompounds()
	p.unlinkSuperlatives() // (superword.go)
	p.linkRoles()          // (roles.go)
}

// linkListedValues links a lower-case word joined by "and"/"or" to a value
// of a column that also holds the word ("cat and dog pets", "books or
// games"): the list names values of one column.
func (p *parser) linkListedValues() {
	for i := len(p.toks) - 3; i >= 0; i-- {
		t := p.toks[i]
		if p.byTok[i] != nil || t.punct || t.isNum || stopWords[t.low] || !(p.at(i+1, "and") || p.at(i+1, "or")) {
			continue
		}
		next := p.byTok[i+2]
		if next == nil || next.kind != mValue {
			continue
		}
		var refs []valueRef
		for _, v := range p.lx.values[normValue(t.raw)] {
			for _, nv := range next.vals {
				if v.col == nv.col {
					refs = append(refs, v)
				}
			}
		}
		if len(refs) > 0 {
			m := &mention{kind: mValue, start: i, end: i + 1, vals: refs}
			p.add(m)
			// keep p.ms in question order
			sort.SliceStable(p.ms, func(a, b int) bool { return p.ms[a].start < p.ms[b].start })
		}
	}
}

// kill drops the mentions within tokens [i, i+n): the words were a cue.
func (p *parser) kill(i, n int) {
	for k := i; k < i+n && k < len(p.toks); k++ {
		m := p.byTok[k]
		if m == nil {
			continue
		}
		for j := m.start; j < m.end; j++ {
			p.byTok[j] = nil
		}
		for j, x := range p.ms {
			if x == m {
				p.ms = append(p.ms[:j], p.ms[j+1:]...)
				break
			}
		}
	}
	p.mark(i, n)
}

// hasAggCue reports whether the question asks for an aggregate at all.
func (p *parser) hasAggCue() bool {
	for i, t := range p.toks {
		switch t.lem {
		case "count", "number", "average", "avg", "mean", "sum", "total", "minimum", "maximum", "min", "max", "most",
			"highest", "lowest", "largest", "smallest", "top", "#", "breakdown":
			return true
		}
		if p.measureWord(i) || p.at(i, "how", "many") || p.at(i, "how", "much") {
			return true
		}
	}
	return false
}

func (p *parser) add(m *mention) {
	p.ms = append(p.ms, m)
	for k := m.start; k < m.end; k++ {
		p.byTok[k] = m
	}
}

func (p *parser) matchPhrase(i int) (int, []link) {
	max := p.lx.maxN
	if max < 3 {
		max = 3 // words joined into one name: "life expectancy" is lifeexpectancy
	}
	if i+max > len(p.toks) {
		max = len(p.toks) - i
	}
	for n := max; n >= 1; n-- {
		ok := true
		words := make([]string, n)
		for k := 0; k < n; k++ {
			t := p.toks[i+k]
			if t.punct || t.isNum || t.quoted {
				ok = false
				break
			}
			words[k] = t.lem
		}
		if !ok {
			continue
		}
		if n == 1 && cueWords[words[0]] && !p.lx.words[words[0]] {
			return 0, nil
		}
		if n == 1 && stopWords[p.toks[i].low] && !(nounStops[p.toks[i].low] && p.lx.words[words[0]]) {
			return 0, nil
		}
		ls := p.lx.phrases[strings.Join(words, " ")]
		if len(ls) == 0 && n >= 2 {
			// "high schoolers" is the highschooler table.
			for _, l := range p.lx.phrases[strings.Join(words, "")] {
				if l.score >= 1 {
					ls = append(ls, l)
				}
			}
		}
		if len(ls) == 0 && n >= 2 {
			ls = p.nameTail(words)
		}
		if len(ls) > 0 {
			if n == 1 && cueWords[words[0]] {
				// A cue word links only to a column of exactly its name.
				var exact []link
				for _, l := range ls {
					if l.score >= 1 {
						exact = append(exact, l)
					}
				}
				if len(exact) == 0 {
					return 0, nil
				}
				ls = exact
			}
			return n, ls
		}
		if n == 1 {
			var out []link
			for _, syn := range synonyms[words[0]] {
				for _, l := range p.lx.phrases[syn] {
					l.score *= 0.8
					out = append(out, l)
				}
			}
			if len(out) > 0 {
				return 1, out
			}
			if out := p.compoundPart(words[0]); len(out) > 0 {
				return 1, out
			}
		}
	}
	return 0, nil
}

func (p *parser) matchValue(i int) (int, []valueRef) {
	t := p.toks[i]
	if t.quoted {
		return 1, p.lx.values[normValue(t.raw)]
	}
	max := p.lx.maxVal
	if i+max > len(p.toks) {
		max = len(p.toks) - i
	}
	for n := max; n >= 1; n-- {
		parts := make([]string, 0, n)
		ok := true
		for k := 0; k < n; k++ {
			tk := p.toks[i+k]
			if tk.quoted || (tk.punct && tk.low != "&") {
				ok = false
				break
			}
			parts = append(parts, tk.raw)
		}
		if !ok {
			continue
		}
		refs := p.lx.values[normValue(strings.Join(parts, " "))]
		if len(refs) == 0 {
			continue
		}
		if n == 1 {
			if t.isNum || stopWords[t.low] || cueWords[t.lem] || len(t.low) < 2 {
				continue
			}
			// A lone lower-case word is a value only next to a table it
			// can qualify ("rock tracks", "tracks of jazz").
			if !t.cap && !p.nextToTable(i) && !p.nextToColumn(i, refs) && !p.valueAfterPlace(i, refs) && // valueprep.go
				!p.afterPossession(i, refs) && !p.valueAfterSuperlative(i, refs) { // possess.go
				continue
			}
		}
		return n, refs
	}
	return 0, nil
}

// nextToColumn reports whether a word next to token i names the column of
// one of refs ("the books category").
func (p *parser) nextToColumn(i int, refs []valueRef) bool {
	for _, j := range []int{i + 1, i - 1} {
		if j < 0 || j >= len(p.toks) {
			continue
		}
		if _, ls := p.matchPhrase(j); len(ls) > 0 {
			for _, l := range ls {
				for _, v := range refs {
					if l.col != nil && l.col == v.col {
						return true
					}
				}
			}
		}
	}
	return false
}

func (p *parser) nextToTable(i int) bool {
	js := []int{i + 1, i - 1}
	if p.at(i+1, "as", "a") || p.at(i+1, "as", "an") {
		js = append(js, i+3) // "a cat as a pet"
	} else if p.at(i+1, "as") {
		js = append(js, i+2) // "cats and dogs as pets"
	}
	for _, j := range js {
		if j < 0 || j >= len(p.toks) {
			continue
		}
		if _, ls := p.matchPhrase(j); len(ls) > 0 {
			for _, l := range ls {
				if l.kind == linkTable {
					return true
				}
			}
		}
	}
	return false
}

// --- the frame: what the question asks ---
