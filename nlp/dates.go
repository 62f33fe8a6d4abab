package nlp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Dates: years, months, ranges, relative periods, and NULL tests.

var monthNames = map[string]int{"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
	"august": 8, "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
	"jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}

func isYear(t token) bool {
	return t.isNum && t.num == math.Trunc(t.num) && t.num >= 1900 && t.num <= 2100 && !t.money
}

// dates turns calendar and relative phrases into ranges on the date column.
func (p *parser) dates(f *frame) {
	n := len(p.toks)
	type rng struct {
		from, to time.Time
		desc     string
	}
	var ranges []rng
	var bound []filter
	var dateMention *mention
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	today := day(p.now.Year(), int(p.now.Month()), p.now.Day())
	firstDate := -1 // the first token of a period, for a year column's event verb
	for i := 0; i < n; i++ {
		t := p.toks[i]
		if firstDate < 0 && !p.consumed[i] && (isYear(t) || p.at(i, "after") || p.at(i, "since") || p.at(i, "before")) {
			if isYear(t) && i > 0 && (p.at(i-1, "in") || p.at(i-1, "on") || p.at(i-1, "during")) {
				firstDate = i - 1
			} else if !isYear(t) && i+1 < n && isYear(p.toks[i+1]) || isYear(t) {
				firstDate = i
			}
		}
		switch {
		case (p.at(i, "after") || p.at(i, "since") || p.at(i, "before")) && i+1 < n && isYear(p.toks[i+1]):
			y := int(p.toks[i+1].num)
			p.mark(i, 2)
			switch {
			case p.at(i, "after"):
				bound = append(bound, filter{e: litExpr{day(y+1, 1, 1).Format("2006-01-02")}, desc: ">="})
			case p.at(i, "since"):
				bound = append(bound, filter{e: litExpr{day(y, 1, 1).Format("2006-01-02")}, desc: ">="})
			default:
				bound = append(bound, filter{e: litExpr{day(y, 1, 1).Format("2006-01-02")}, desc: "<"})
			}
			i++
		case p.at(i, "last") && i+2 < n && p.toks[i+1].isNum && unitSeconds(p.toks[i+2].lem) >= 86400 || p.at(i, "last") && i+2 < n && p.toks[i+1].isNum && (p.at(i+2, "week") || p.at(i+2, "month") || p.at(i+2, "year")):
			k := int(p.toks[i+1].num)
			var from time.Time
			switch p.toks[i+2].lem {
			case "day":
				from = today.AddDate(0, 0, -k)
			case "week":
				from = today.AddDate(0, 0, -7*k)
			case "month":
				from = today.AddDate(0, -k, 0)
			case "year":
				from = today.AddDate(-k, 0, 0)
			}
			p.mark(i, 3)
			ranges = append(ranges, rng{from, today.AddDate(0, 0, 1), fmt.Sprintf("the last %d %ss", k, p.toks[i+2].lem)})
			i += 2
		case (p.at(i, "last") || p.at(i, "this") || p.at(i, "previous") || p.at(i, "past")) && i+1 < n && (p.at(i+1, "month") || p.at(i+1, "year") || p.at(i+1, "week") || p.at(i+1, "quarter")):
			cur := !p.at(i, "last") && !p.at(i, "previous") && !p.at(i, "past")
			var from, to time.Time
			switch p.toks[i+1].lem {
			case "month":
				from = day(p.now.Year(), int(p.now.Month()), 1)
				to = from.AddDate(0, 1, 0)
				if !cur {
					from, to = from.AddDate(0, -1, 0), from
				}
			case "year":
				from = day(p.now.Year(), 1, 1)
				to = from.AddDate(1, 0, 0)
				if !cur {
					from, to = from.AddDate(-1, 0, 0), from
				}
			case "week":
				wd := (int(today.Weekday()) + 6) % 7
				from = today.AddDate(0, 0, -wd)
				to = from.AddDate(0, 0, 7)
				if !cur {
					from, to = from.AddDate(0, 0, -7), from
				}
			case "quarter":
				q := (int(p.now.Month()) - 1) / 3
				from = day(p.now.Year(), q*3+1, 1)
				to = from.AddDate(0, 3, 0)
				if !cur {
					from, to = from.AddDate(0, -3, 0), from
				}
			}
			p.mark(i, 2)
			ranges = append(ranges, rng{from, to, p.toks[i].low + " " + p.toks[i+1].lem})
			i++
		case p.at(i, "today"):
			p.mark(i, 1)
			ranges = append(ranges, rng{today, today.AddDate(0, 0, 1), "today"})
		case p.at(i, "yesterday"):
			p.mark(i, 1)
			ranges = append(ranges, rng{today.AddDate(0, 0, -1), today, "yesterday"})
		case len(t.low) == 2 && (t.low[0] == 'q') && t.low[1] >= '1' && t.low[1] <= '4':
			q := int(t.low[1] - '0')
			y := p.now.Year()
			if i+1 < n && isYear(p.toks[i+1]) {
				y = int(p.toks[i+1].num)
				p.mark(i+1, 1)
			} else if i > 0 && isYear(p.toks[i-1]) {
				y = int(p.toks[i-1].num)
			} else {
				p.yearless(t)
			}
			p.mark(i, 1)
			from := day(y, (q-1)*3+1, 1)
			ranges = append(ranges, rng{from, from.AddDate(0, 3, 0), fmt.Sprintf("Q%d %d", q, y)})
		case monthNames[t.low] > 0 && (t.cap || i+1 < n && isYear(p.toks[i+1])) && !(t.low == "may" && !t.cap):
			y := p.now.Year()
			if i+1 < n && isYear(p.toks[i+1]) {
				y = int(p.toks[i+1].num)
				p.mark(i+1, 1)
			} else {
				p.yearless(t)
			}
			if m := p.byTok[i]; m != nil && m.kind == mValue {
				// "rentals in June" where a customer is named June: the
				// month and the stored value are two readings of one word
				// (a doubt when the SQL uses both, confidence.go).
				p.monthValues = append(p.monthValues, m)
			}
			p.mark(i, 1)
			from := day(y, monthNames[t.low], 1)
			ranges = append(ranges, rng{from, from.AddDate(0, 1, 0), fmt.Sprintf("%s %d", t.raw, y)})
			i++
		case isYear(t) && !p.consumed[i] || isYear(t) && i > 0 && (p.at(i-1, "in") || p.at(i-1, "year") || p.at(i-1, "during") || p.at(i-1, "of") || p.at(i-1, "from")):
			if p.byTok[i] != nil {
				continue
			}
			// A bare year: "in 2023", "from the year 2022", "2021 and 2023".
			if i > 0 && (p.at(i-1, "top") || p.at(i-1, "first")) {
				continue
			}
			y := int(t.num)
			p.mark(i, 1)
			if i > 0 && p.at(i-1, "year") {
				p.mark(i-1, 1)
			}
			ranges = append(ranges, rng{day(y, 1, 1), day(y+1, 1, 1), strconv.Itoa(y)})
		}
	}
	if len(ranges) == 0 && len(bound) == 0 {
		return
	}
	// The date column: one named in the question, else the main table's.
	var col *Column
	var tb *Table
	for _, m := range p.ms {
		if m.kind != mColumn {
			continue
		}
		for _, l := range m.links {
			if l.col != nil && (l.col.Kind == KindDate || l.col.Kind == KindTime) && (col == nil || l.table == f.main) {
				col, tb, dateMention = l.col, l.table, m
			}
		}
	}
	if col == nil {
		col, tb = dateColumn(f.main)
		if col == nil {
			for _, t := range f.tables {
				if col, tb = dateColumn(t); col != nil {
					break
				}
			}
		}
		if col == nil && len(f.measures) > 0 && f.measures[0].table != nil {
			col, tb = dateColumn(f.measures[0].table)
		}
	}
	if col == nil {
		// No date column: a year column, when every period is whole years.
		var spans []yearSpan
		var bounds []yearBound
		whole := f.groupTime == ""
		for _, r := range ranges {
			whole = whole && r.from.YearDay() == 1 && r.to.YearDay() == 1
			spans = append(spans, yearSpan{r.from.Year(), r.to.Year()})
		}
		for _, b := range bound {
			y, _ := strconv.Atoi(b.e.(litExpr).v.(string)[:4])
			bounds = append(bounds, yearBound{b.desc, y})
		}
		if !whole || !p.yearFilters(f, spans, bounds, firstDate) {
			p.penalty += 0.6
		}
		return
	}
	if dateMention != nil {
		dateMention.used = true
	}
	ce := colExpr{tb.Name, col.Name}
	if len(ranges) > 0 {
		var e sqlExpr
		var descs []string
		for _, r := range ranges {
			x := binExpr{binExpr{ce, ">=", litExpr{r.from.Format("2006-01-02")}}, "AND", binExpr{ce, "<", litExpr{r.to.Format("2006-01-02")}}}
			if e == nil {
				e = x
			} else {
				e = binExpr{e, "OR", x}
			}
			descs = append(descs, r.desc)
		}
		f.filters = append(f.filters, filter{e: e, desc: tb.Name + "." + col.Name + " in " + strings.Join(descs, " or "), tbl: tb})
	}
	for _, b := range bound {
		f.filters = append(f.filters, filter{e: binExpr{ce, b.desc, b.e}, desc: tb.Name + "." + col.Name + " " + b.desc + " " + b.e.render(p.r), tbl: tb})
	}
	if f.groupTime != "" && f.groupTimeC == nil {
		f.groupTimeC = col
	}
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
}

// yearless records the doubt of a month or quarter named without a year
// ("rentals in June"): the year is taken to be this year, which the data
// may not hold at all.
func (p *parser) yearless(t token) {
	p.dateDoubts = append(p.dateDoubts, doubt{pen: penRelativeDate, word: t.raw,
		why: fmt.Sprintf("%s has no year: this year is assumed", t.raw)})
}

// dateColumn is a table's date column: the only one, or the one named after
// the table ("invoice_date" in invoice).
func dateColumn(t *Table) (*Column, *Table) {
	if t == nil {
		return nil, nil
	}
	var ds []*Column
	for _, c := range t.Columns {
		if c.Kind == KindDate || c.Kind == KindTime {
			ds = append(ds, c)
		}
	}
	if len(ds) == 1 {
		return ds[0], t
	}
	tw := strings.Join(lemmas(splitName(t.Name)), " ")
	for _, c := range ds {
		w := strings.Join(lemmas(splitName(c.Name)), " ")
		if strings.HasPrefix(w, tw) || w == "date" || w == "created at" || w == "order date" {
			return c, t
		}
	}
	return nil, nil
}
