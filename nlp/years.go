package nlp

import (
	"fmt"
	"strconv"
	"strings"
)

// Year columns: a number column that holds a year (year, open_year,
// IndepYear, year_of_founded) answers "after 2013", "before 1950", "in 2014
// or 2015" where no date column does. The verb of the event before the
// comparison ("opened after 2013", "orchestras founded before 2003") picks
// the column whose name shares its stem, and is then accounted for.

// yearSpan is [from, to) in whole years; op/year a bound (col op year).
type yearSpan struct{ from, to int }
type yearBound struct {
	op   string
	year int
}

func isYearColumn(c *Column) bool {
	if c.Kind != KindInt && c.Kind != KindNumber {
		return false
	}
	w := lemmas(splitName(c.Name))
	for _, x := range w {
		if x == "year" || x == "yr" {
			return true
		}
	}
	// a folded name: indepyear, openyear
	return len(w) == 1 && strings.HasSuffix(w[0], "year")
}

// eventVerb is the index of the verb right before the comparison at i
// ("opened after", "founded before", "produced in"), or -1.
func (p *parser) eventVerb(i int) int {
	k := i - 1
	for k >= 0 && !p.consumed[k] && (p.at(k, "both") || p.at(k, "in") || p.at(k, "on") || p.at(k, "during") || p.at(k, "the") || p.at(k, "of") || p.at(k, "years")) {
		k-- // "occurred in both 2014 and 2015", "happened in the years of"
	}
	if k >= 0 && p.byTok[k] == nil && !p.consumed[k] {
		t := p.toks[k]
		if !t.quoted && !t.isNum && isWord(t.low) && (strings.HasSuffix(t.low, "ed") || t.low == "made" || t.low == "built" || t.low == "held") {
			return k
		}
	}
	return -1
}

// verbStem is the verb without its past ending ("opened" -> "open",
// "founded" -> "found", "released" -> "releas").
func verbStem(w string) string {
	for _, suf := range []string{"ed", "d"} {
		if s := strings.TrimSuffix(w, suf); s != w && len(s) >= 3 {
			return s
		}
	}
	return w
}

// yearColumnFor picks the year column: one whose name shares the event
// verb's stem, else one the question names, else the only one of the main
// table or of a table it names.
func (p *parser) yearColumnFor(f *frame, verb int) (*Column, *Table) {
	if verb >= 0 {
		stem := verbStem(p.toks[verb].low)
		for _, t := range p.s.Tables {
			for _, c := range t.Columns {
				if !isYearColumn(c) {
					continue
				}
				for _, w := range splitName(c.Name) {
					if len(stem) >= 4 && strings.HasPrefix(w, stem) {
						return c, t
					}
				}
			}
		}
	}
	for _, m := range p.ms {
		if m.kind != mColumn {
			continue
		}
		for _, l := range m.links {
			if l.col != nil && isYearColumn(l.col) && (l.table == f.main || containsTable(f.tables, l.table)) {
				m.used = true
				return l.col, l.table
			}
		}
	}
	for _, t := range append([]*Table{f.main}, f.tables...) {
		var ys []*Column
		for _, c := range t.Columns {
			if isYearColumn(c) {
				ys = append(ys, c)
			}
		}
		if len(ys) == 1 {
			return ys[0], t
		}
	}
	return nil, nil
}

// yearFilters adds the year conditions on a year column; false when none
// fits (the caller then doubts the reading). at is the token of the first
// comparison, for the event verb before it.
func (p *parser) yearFilters(f *frame, spans []yearSpan, bounds []yearBound, at int) bool {
	verb := -1
	if at >= 0 {
		verb = p.eventVerb(at)
	}
	for _, t := range p.toks {
		if negationWords[t.low] {
			return false // which rows a negation keeps the year of is not decided here
		}
	}
	col, tb := p.yearColumnFor(f, verb)
	if col == nil {
		return false
	}
	ce := colExpr{tb.Name, col.Name}
	for _, fl := range f.filters {
		if strings.Contains(fl.e.render(p.r), ce.render(p.r)) {
			// "in year 2014 or 2015": the years are already a list.
			spans, bounds = nil, nil
		}
	}
	if b := p.bothBeforeYear(at); b >= 0 && len(spans)+len(bounds) == 2 && tb != f.main && !p.noFanOut(tb, f.main) {
		// "stadiums that had concerts in both 2014 and 2015": one
		// condition per year, each over its own rows.
		var es []sqlExpr
		for _, sp := range spans {
			es = append(es, binExpr{ce, "=", litExpr{int64(sp.from)}})
		}
		for _, bd := range bounds {
			es = append(es, binExpr{ce, bd.op, litExpr{int64(bd.year)}})
		}
		for _, e := range es {
			f.filters = append(f.filters, filter{e: e, desc: tb.Name + "." + col.Name + " " + e.render(p.r), tbl: tb, each: true})
		}
		p.mark(b, 1)
		spans, bounds = nil, nil
	}
	if len(spans) > 0 {
		var e sqlExpr
		var descs []string
		for _, s := range spans {
			var x sqlExpr = binExpr{ce, "=", litExpr{int64(s.from)}}
			if s.to != s.from+1 {
				x = binExpr{binExpr{ce, ">=", litExpr{int64(s.from)}}, "AND", binExpr{ce, "<", litExpr{int64(s.to)}}}
			}
			if e == nil {
				e = x
			} else {
				e = binExpr{e, "OR", x}
			}
			descs = append(descs, strconv.Itoa(s.from))
		}
		f.filters = append(f.filters, filter{e: e, desc: tb.Name + "." + col.Name + " in " + strings.Join(descs, " or "), tbl: tb})
	}
	var be sqlExpr
	var bdesc []string
	for _, b := range bounds {
		x := binExpr{ce, b.op, litExpr{int64(b.year)}}
		switch {
		case be == nil:
			be = x
		case p.orBetweenBounds():
			be = binExpr{be, "OR", x} // "after 2013 or before 2008"
		default:
			be = binExpr{be, "AND", x}
		}
		bdesc = append(bdesc, fmt.Sprintf("%s %d", b.op, b.year))
	}
	if be != nil {
		f.filters = append(f.filters, filter{e: be, desc: tb.Name + "." + col.Name + " " + strings.Join(bdesc, ", "), tbl: tb})
	}
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
	if verb >= 0 {
		p.mark(verb, 1)
	}
	return true
}

// orBetweenBounds reports whether two period bounds are joined by "or"
// ("opened after 2013 or before 2008").
func (p *parser) orBetweenBounds() bool {
	for i := range p.toks {
		if p.at(i, "or") && (p.at(i+1, "before") || p.at(i+1, "after") || p.at(i+1, "since")) {
			return true
		}
	}
	return false
}

// bothBeforeYear is the index of a "both" within three words before the
// period at token at ("in both 2014 and 2015", "in the years of both"), or
// -1.
func (p *parser) bothBeforeYear(at int) int {
	for k := at; k >= 0 && k >= at-3; k-- {
		if p.at(k, "both") && !p.consumed[k] {
			return k
		}
	}
	for k := at; k < len(p.toks) && k <= at+2; k++ {
		if p.at(k, "both") && !p.consumed[k] {
			return k
		}
	}
	return -1
}
