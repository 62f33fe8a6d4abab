package nlp

import (
	"fmt"
	"strings"
)

// A numeric column equal to a number or one of several: "a population of
// 80000", "teachers aged either 32 or 33", "whose age is 32 or 33". The
// column is a mention of a numeric column, or a verb form of a numeric
// column of the main table ("aged" for age); between it and the numbers
// may stand "of", "is"/"are", "equal to" and "either"; the numbers are
// joined by "or". A number a construct already read is left alone.

// numberEquality adds col = n (or col IN (…)) for each such phrase.
func (p *parser) numberEquality(f *frame) {
	n := len(p.toks)
	for i := 0; i < n; i++ {
		tb, col, end := p.numericAt(f, i)
		if col == nil {
			continue
		}
		j := end
		for k := 0; k < 3 && j < n; k++ {
			if p.at(j, "of") || p.at(j, "is") || p.at(j, "are") || p.at(j, "either") || p.at(j, "equal", "to") {
				if p.at(j, "equal", "to") {
					j++
				}
				j++
				continue
			}
			break
		}
		var nums []token
		k := j
		for k < n && p.toks[k].isNum && !p.consumed[k] && !p.toks[k].hash {
			nums = append(nums, p.toks[k])
			if k+2 < n && p.at(k+1, "or") && p.toks[k+2].isNum {
				k += 2
				continue
			}
			k++
			break
		}
		if len(nums) == 0 {
			continue
		}
		if m := p.byTok[i]; m != nil {
			m.used = true
			m.table, m.col = tb, col
		}
		p.mark(i, k-i)
		ce := colExpr{tb.Name, col.Name}
		var raws []string
		for _, t := range nums {
			raws = append(raws, t.raw)
		}
		if len(nums) == 1 {
			f.filters = append(f.filters, filter{e: binExpr{ce, "=", litExpr{nums[0].num}}, desc: fmt.Sprintf("%s.%s = %s", tb.Name, col.Name, raws[0]), tbl: tb})
		} else {
			var vals []sqlExpr
			for _, t := range nums {
				vals = append(vals, litExpr{t.num})
			}
			f.filters = append(f.filters, filter{e: inExpr{e: ce, vals: vals}, desc: fmt.Sprintf("%s.%s = %s", tb.Name, col.Name, strings.Join(raws, " or ")), tbl: tb})
		}
		if !containsTable(f.tables, tb) {
			f.tables = append(f.tables, tb)
		}
		i = k - 1
	}
}

// numericAt is the numeric column named at token i and the token after
// its words: an unused column mention, or a word ending in "d"/"ed" whose
// stem is the name of a numeric column of the main table ("aged").
func (p *parser) numericAt(f *frame, i int) (*Table, *Column, int) {
	if m := p.byTok[i]; m != nil {
		if m.kind != mColumn || m.used || m.start != i {
			return nil, nil, 0
		}
		cands := numericLinks(m.links)
		if len(cands) == 0 {
			return nil, nil, 0
		}
		mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
		p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
		if mm.col == nil || isIDName(mm.col.Name) {
			return nil, nil, 0
		}
		return mm.table, mm.col, m.end
	}
	t := p.toks[i]
	if p.consumed[i] || t.quoted || !strings.HasSuffix(t.low, "d") {
		return nil, nil, 0
	}
	for _, stem := range []string{strings.TrimSuffix(t.low, "d"), strings.TrimSuffix(t.low, "ed")} {
		for _, c := range f.main.Columns {
			if (c.Kind == KindInt || c.Kind == KindNumber) && strings.EqualFold(c.Name, stem) && len(stem) >= 3 {
				return f.main, c, i + 1
			}
		}
	}
	return nil, nil, 0
}
