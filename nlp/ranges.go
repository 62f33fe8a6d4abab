package nlp

import (
	"fmt"
	"time"
)

// Ranges: "not between 10 and 20" is NOT BETWEEN; "between 2023 and 2024"
// with no numeric column to compare is a range of whole years on the date
// column the question or its table has, both years included.

// notExpr is NOT (e).
type notExpr struct{ e sqlExpr }

func (n notExpr) render(r *renderer) string { return "(NOT " + n.e.render(r) + ")" }

// notBefore reports whether a "not" no construct consumed stands right
// before token i (or before "is"/"are" and it: "is not between"), and
// consumes it.
func (p *parser) notBefore(i int) bool {
	if i > 0 && p.at(i-1, "not") && !p.consumed[i-1] {
		p.mark(i-1, 1)
		return true
	}
	return false
}

// betweenYears reads "between <year> and <year>" as the years from the
// first to the second on a date column, when both numbers are years.
func (p *parser) betweenYears(f *frame, i int) {
	lo, hi := p.toks[i+1], p.toks[i+3]
	if !isYear(lo) || !isYear(hi) || lo.num > hi.num {
		return
	}
	var col *Column
	var tb *Table
	for _, m := range p.ms {
		if m.kind != mColumn {
			continue
		}
		for _, l := range m.links {
			if l.col != nil && (l.col.Kind == KindDate || l.col.Kind == KindTime) && (col == nil || l.table == f.main) {
				col, tb = l.col, l.table
				m.used = true
			}
		}
	}
	if col == nil {
		col, tb = dateColumn(f.main)
	}
	if col == nil {
		return
	}
	from := time.Date(int(lo.num), 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(int(hi.num)+1, 1, 1, 0, 0, 0, 0, time.UTC)
	ce := colExpr{tb.Name, col.Name}
	f.filters = append(f.filters, filter{e: binExpr{binExpr{ce, ">=", litExpr{from.Format("2006-01-02")}}, "AND", binExpr{ce, "<", litExpr{to.Format("2006-01-02")}}},
		desc: fmt.Sprintf("%s.%s from %s through %s", tb.Name, col.Name, lo.raw, hi.raw), tbl: tb})
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
	p.mark(i, 4)
}
