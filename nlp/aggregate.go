package nlp

import (
	"strings"
)

// Aggregates: counts, sums, averages, minima and maxima, money measures.

var superMax = toSet("maximum max largest highest biggest greatest longest latest newest youngest most")
var superMin = toSet("minimum min smallest lowest least shortest earliest oldest cheapest fewest")

func (p *parser) aggregates(f *frame) error {
	n := len(p.toks)
	rankMode := false
	for i := 0; i < n; i++ {
		if p.at(i, "top") || (i+1 < n && p.toks[i].isNum && (superMax[p.toks[i+1].lem] || superMin[p.toks[i+1].lem])) {
			rankMode = true
		}
	}
	if (p.at(0, "which") || p.at(0, "who") || p.at(0, "what")) && !p.at(1, "is") && !p.at(1, "are") {
		for i := 0; i < n; i++ {
			if superMax[p.toks[i].lem] || superMin[p.toks[i].lem] {
				rankMode = true
			}
		}
	}
	if f.groupTable != nil || f.groupCol != nil {
		for i := 0; i < n; i++ {
			if p.at(i, "most") || p.at(i, "highest") || p.at(i, "top") {
				rankMode = true
			}
		}
	}
	// "the cheapest product", "most expensive product": a superlative
	// before a table picks rows of it, it does not aggregate.
	for i := 0; i < n; i++ {
		if !superMax[p.toks[i].lem] && !superMin[p.toks[i].lem] {
			continue
		}
		for k := i + 1; k < n && k <= i+3; k++ {
			if m := p.byTok[k]; m != nil && m.kind == mTable {
				rankMode = true
			}
			if !(p.toks[i].lem == "most" || p.toks[i].lem == "least" || p.toks[i].lem == "fewest") || p.toks[k].isNum {
				break
			}
		}
		// "the singer with the largest net worth": the row with it.
		if i > 1 && (p.at(i-2, "with", "the") || p.at(i-2, "has", "the") || p.at(i-2, "have", "the") || p.at(i-2, "having", "the")) {
			if m := p.nextMention(i+1, 1); m != nil && m.kind == mColumn && len(numericLinks(m.links)) > 0 {
				rankMode = true
			}
		}
	}
	for i := 0; i < n; i++ {
		switch {
		case (p.at(i, "average", "number", "of") || p.at(i, "avg", "number", "of") || p.at(i, "mean", "number", "of")) && !p.comparedWith(i):
			// "average number of tracks per album": AVG over per-group counts.
			if m := p.nextMention(i+3, 2); m != nil && m.kind == mTable && f.groupTable != nil {
				f.main = p.bestTable(m)
				m.used = true
				f.nestedAvg = f.groupTable
				p.mark(i, 3)
				p.understood = append(p.understood, "average number of "+f.main.Name+" per "+f.groupTable.Name)
				return nil
			}
		}
	}
	for i := 0; i < n; i++ {
		t := p.toks[i]
		switch {
		case p.at(i, "how", "many") || p.at(i, "number", "of") || p.at(i, "count", "of") || p.at(i, "count") || t.low == "#" ||
			p.at(i, "total", "number", "of") || p.at(i, "total", "count", "of"):
			k := 1
			switch {
			case p.at(i, "how", "many") || p.at(i, "number", "of") || p.at(i, "count", "of"):
				k = 2
			case p.at(i, "total", "number", "of") || p.at(i, "total", "count", "of"):
				k = 3
			}
			if p.at(i, "number", "of") || p.at(i, "total", "number", "of") {
				// "the average number of products" with no products table but
				// a number_products column: not a count of rows.
				if nm := p.nextMention(i+k, 1); nm != nil && nm.kind == mColumn && len(numericLinks(nm.links)) > 0 {
					// The column is the number ("the number of products" of
					// a shop is its number_products, "the number of
					// cylinders" its cylinders): the words name it.
					p.mark(i, k)
					i += k - 1
					continue
				}
			}
			p.kill(i, k)
			if t.low == "#" && p.at(i+1, "of") {
				p.mark(i+1, 1)
				k = 2
			}
			if pm, ok := p.peopleCount(i, k); ok {
				// "how many people live in Asia": their population.
				f.measures = append(f.measures, pm)
				i += k
				continue
			}
			m := p.nextMention(i+k, 3)
			ms := measure{fn: aggCount, pos: i}
			if d := i + k; d < n && (p.at(d, "different") || p.at(d, "distinct") || p.at(d, "unique")) {
				// "how many different results": COUNT(DISTINCT result).
				cm := p.nextMention(d+1, 2)
				if cm != nil && p.isFlagWord(cm) {
					cm = p.nextMention(cm.end, 1) // "unique official languages": the languages
				}
				if cm != nil && cm.kind == mColumn && !cm.used {
					p.resolveCol(cm, f.tables)
					if cm.col != nil {
						cm.used = true
						p.mark(d, 1)
						f.measures = append(f.measures, measure{fn: aggCount, pos: i, table: cm.table, col: cm.col, distinct: true})
						p.understood = append(p.understood, "count of distinct "+cm.table.Name+"."+cm.col.Name)
						p.distinctList(f, cm, i) // "… series names and contents" (distinctlist.go)
						i += k - 1
						continue
					}
				}
			}
			if m != nil && m.kind == mTable && !m.used {
				ms.counts = p.bestTable(m)
				m.used = true
			} else if dm := p.countedValues(i, k, m, f); dm != nil {
				// "how many languages are spoken in Aruba": the different
				// values of a text column.
				f.measures = append(f.measures, *dm)
				p.understood = append(p.understood, "count of distinct "+dm.table.Name+"."+dm.col.Name)
				i += k - 1
				continue
			} else if m != nil && m.kind == mColumn && !m.used && p.at(i, "count") {
				p.resolveCol(m, nil)
				ms.counts = m.table
				m.used = true
			}
			if ms.counts != nil {
				f.measures = append(f.measures, ms)
				if f.main == nil && f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
					f.main = ms.counts
				}
				p.understood = append(p.understood, "count of "+ms.counts.Name)
			} else {
				f.measures = append(f.measures, ms)
				p.understood = append(p.understood, "count")
			}
			i += k - 1
		case (p.at(i, "most", "common") || p.at(i, "least", "common")) && f.groupCol == nil && f.groupTable == nil:
			// "the most common citizenship of singers": the value with the
			// most rows.
			cm := p.nextMention(i+2, 2)
			if cm == nil || cm.kind != mColumn {
				cm = p.modeColumnBefore(i) // "the nationality that is most common" (listing.go)
			}
			if cm != nil && cm.kind == mColumn && !cm.used {
				p.resolveCol(cm, f.tables)
				if cm.col != nil && cm.col.Kind == KindText {
					cm.used = true
					f.groupCol = cm
					f.measures = append(f.measures, measure{fn: aggCount, pos: i})
					f.rankAgg, f.orderDesc, f.limit = true, p.at(i, "most"), 1
					p.mark(i, 2)
					i++
				}
			}
		case p.at(i, "how", "much"):
			p.mark(i, 2)
			ms, err := p.moneyMeasure(f, aggSum)
			if err != nil {
				return err
			}
			f.measures = append(f.measures, ms)
		case (t.lem == "average" || t.lem == "avg" || t.lem == "mean") && !p.comparedWith(i):
			p.mark(i, 1)
			ms, err := p.numericAfter(f, i+1, aggAvg)
			if err != nil {
				return err
			}
			f.measures = append(f.measures, ms)
		case (t.lem == "sum" || t.lem == "total") && !p.at(i+1, "number"):
			// "total sales", "sum of price"; "in total"; a bare "total"
			// column ("the invoice total") stays a column.
			j := i + 1
			if p.at(j, "of") {
				j++
			}
			if p.hasAggBefore(f) && t.lem == "total" && !p.numericMentionAt(j) {
				continue // "the average invoice total": a column
			}
			inTotal := p.at(i-1, "in") && (i == len(p.toks)-1 || p.toks[i+1].punct)
			if inTotal && len(f.measures) > 0 {
				p.kill(i, 1)
				continue
			}
			if m := p.measureAt(j, 2); m || (t.lem == "sum") || inTotal {
				var ms measure
				var err error
				if cm := p.nextMention(j, 1); cm != nil && cm.kind == mColumn && !isMoneyMention(p, j) {
					ms, err = p.numericAfter(f, j, aggSum)
				} else {
					ms, err = p.moneyMeasure(f, aggSum)
				}
				if err != nil {
					return err
				}
				p.kill(i, 1)
				f.measures = append(f.measures, ms)
			}
		case t.lem == "range" && !rankMode:
			p.mark(i, 1)
			m := p.prevMention(i-1, 2)
			if m == nil || m.kind != mColumn {
				m = p.nextMention(i+1, 3)
			}
			if m != nil && m.kind == mColumn {
				p.resolveCol(m, f.tables)
				if m.col != nil {
					m.used = true
					f.measures = append(f.measures, measure{fn: aggMin, table: m.table, col: m.col}, measure{fn: aggMax, table: m.table, col: m.col})
				}
			}
		case (superMax[t.lem] || superMin[t.lem]) && !rankMode && t.lem != "most" && t.lem != "least" && p.impliedSuperlative(i):
			rankMode = true
		case (superMax[t.lem] || superMin[t.lem]) && !rankMode && t.lem != "most" && t.lem != "least":
			fn := aggMax
			if superMin[t.lem] {
				fn = aggMin
			}
			p.mark(i, 1)
			ms, err := p.numericAfter(f, i+1, fn)
			if err != nil {
				return err
			}
			f.measures = append(f.measures, ms)
		}
	}
	shareListedColumn(f.measures)
	// "smallest and largest invoice totals": both aggregates share the column.
	for k := range f.measures {
		if (f.measures[k].fn == aggMin || f.measures[k].fn == aggMax) && f.measures[k].col == nil {
			for _, o := range f.measures {
				if o.col != nil && (o.fn == aggMin || o.fn == aggMax) {
					f.measures[k].col, f.measures[k].table = o.col, o.table
				}
			}
		}
		if f.measures[k].fn != aggCount && f.measures[k].col == nil && f.measures[k].expr == nil {
			return &Unanswerable{Reason: "an aggregate names no numeric column", Unmapped: p.contentWords(), Tables: tableNames(p.s)}
		}
	}
	if p.salesRank(f) || p.moneyRank(f) { // "the best selling album", "the most in sales" (sales.go)
		rankMode = true
	}
	if rankMode {
		p.ranking(f)
		p.listAndTop(f) // "the total sales per country. Which country spent the most?" (rankcol.go)
	}
	return nil
}

// comparedWith reports whether the word at i is the right side of a
// comparison ("above the average price", "more than the average"): a
// nested average, not a measure of the answer.
func (p *parser) comparedWith(i int) bool {
	for k := i - 1; k >= 0 && k >= i-2; k-- {
		switch p.toks[k].low {
		case "than", "above", "below", "over", "under", "exceeding", "exceeds":
			return true
		}
	}
	return false
}

// numericMentionAt reports whether a numeric column is named at token j.
func (p *parser) numericMentionAt(j int) bool {
	if j < 0 || j >= len(p.toks) {
		return false
	}
	m := p.byTok[j]
	return m != nil && m.kind == mColumn && len(numericLinks(m.links)) > 0
}

func (p *parser) hasAggBefore(f *frame) bool {
	for _, m := range f.measures {
		if m.fn == aggAvg || m.fn == aggMin || m.fn == aggMax {
			return true
		}
	}
	return false
}

func isMoneyMention(p *parser, j int) bool {
	return p.measureWord(j)
}

// measureWord reports whether token i names an amount of money: a measure
// word that does not qualify the table named after it ("sales agent").
func (p *parser) measureWord(i int) bool {
	if i < 0 || i >= len(p.toks) || !measureWords[p.toks[i].lem] || p.namesNumericColumn(i) {
		return false
	}
	if i+1 < len(p.toks) {
		if m := p.byTok[i+1]; m != nil && m.kind == mTable {
			return false
		}
	}
	return true
}

// measureAt reports whether a money word or numeric column comes within
// max tokens of i.
func (p *parser) measureAt(i, max int) bool {
	for k := i; k < len(p.toks) && k < i+max; k++ {
		if p.measureWord(k) {
			return true
		}
		if m := p.byTok[k]; m != nil && m.kind == mColumn {
			for _, l := range m.links {
				if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) {
					return true
				}
			}
		}
		if p.toks[k].punct {
			return false
		}
	}
	return false
}

// numericAfter finds the numeric column an aggregate applies to: the next
// numeric column mention, a money word, or a duration.
func (p *parser) numericAfter(f *frame, i int, fn aggKind) (measure, error) {
	for k := i; k < len(p.toks) && k < i+5; k++ {
		t := p.toks[k]
		if t.punct {
			break
		}
		if p.measureWord(k) && p.at(k+1, "of") && p.numericMentionAt(k+2) {
			p.mark(k, 2) // "the largest amount of horsepower": the column
			continue
		}
		if p.measureWord(k) {
			p.mark(k, 1)
			return p.moneyMeasure(f, fn)
		}
		m := p.byTok[k]
		if m == nil || m.kind == mValue {
			continue
		}
		if m.kind == mColumn {
			var tables []*Table
			tables = append(tables, f.tables...)
			if pm := p.prevMention(m.start-1, 1); pm != nil && pm.kind == mTable {
				tables = append([]*Table{p.bestTable(pm)}, tables...)
			}
			cands := numericLinks(m.links)
			if len(cands) == 0 {
				continue
			}
			mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
			p.byTok[m.start] = m
			p.resolveColIn(mm, tables)
			if mm.col == nil {
				continue
			}
			m.used = true
			m.table, m.col = mm.table, mm.col
			ms := measure{fn: fn, table: mm.table, col: mm.col}
			p.unitConvert(&ms, m.end)
			p.understood = append(p.understood, strings.ToLower(string(fn))+" of "+mm.table.Name+"."+mm.col.Name)
			return ms, nil
		}
		if m.kind == mTable {
			// "average invoice total": the table qualifies the next word.
			continue
		}
	}
	return measure{fn: fn}, nil
}

func numericLinks(ls []link) []link {
	var out []link
	for _, l := range ls {
		if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) {
			out = append(out, l)
		}
	}
	return out
}

func (p *parser) resolveColIn(m *mention, tables []*Table) {
	if m.start > 0 {
		if pm := p.byTok[m.start-1]; pm != nil && pm.kind == mTable {
			t := p.bestTable(pm)
			for _, l := range m.links {
				if l.table == t {
					m.table, m.col = l.table, l.col
					return
				}
			}
		}
	}
	p.resolveCol(m, tables)
}

// unitConvert applies "in minutes" / "in hours" to a duration measure.
func (p *parser) unitConvert(ms *measure, after int) {
	unit := durationUnit(ms.col)
	if unit == 0 {
		return
	}
	for k := after; k < len(p.toks) && k < after+3; k++ {
		if p.at(k, "in") {
			if d := unitSeconds(p.toks[k+1].lem); d > 0 && k+1 < len(p.toks) {
				p.mark(k, 2)
				ms.expr = binExpr{colExpr{ms.table.Name, ms.col.Name}, "/", litExpr{d / unit}}
				ms.label = strings.ToLower(string(ms.fn)) + "_" + p.toks[k+1].lem + "s"
				return
			}
		}
	}
}

func unitSeconds(w string) float64 {
	switch w {
	case "millisecond":
		return 0.001
	case "second", "sec":
		return 1
	case "minute", "min":
		return 60
	case "hour":
		return 3600
	case "day":
		return 86400
	}
	return 0
}

// durationUnit is the unit of a duration column in seconds (0: not one).
func durationUnit(c *Column) float64 {
	if c == nil || (c.Kind != KindInt && c.Kind != KindNumber) {
		return 0
	}
	w := lemmas(splitName(c.Name))
	for _, x := range w {
		switch x {
		case "millisecond", "milli", "msec":
			return 0.001
		case "second", "sec":
			return 1
		case "minute":
			return 60
		}
	}
	return 0
}

// moneyMeasure resolves "sales", "revenue", "money", "amount" to the best
// money column reachable without counting a row twice.
func (p *parser) moneyMeasure(f *frame, fn aggKind) (measure, error) {
	type cand struct {
		t      *Table
		c      *Column
		qty    *Column
		priceT *Table // the table of c when it is not t (the product of the line t)
		score  int
	}
	var cands []cand
	for _, t := range p.s.Tables {
		var qty *Column
		for _, c := range t.Columns {
			w := strings.Join(lemmas(splitName(c.Name)), " ")
			if w == "qty" || w == "quantity" || strings.HasSuffix(w, " qty") {
				qty = c
			}
		}
		for _, c := range t.Columns {
			if c.Kind != KindNumber && c.Kind != KindInt {
				continue
			}
			w := lemmas(splitName(c.Name))
			last := w[len(w)-1]
			score := 0
			switch last {
			case "total", "amount", "revenue", "sale", "sum":
				score = 3
			case "price", "cost":
				score = 1
				if qty != nil {
					score = 2
				} else if lq, lt := p.lineQuantity(t); lq != nil {
					// price on the product, quantity on the order line
					cands = append(cands, cand{lt, c, lq, t, 2 + 2*b2i(containsTable(p.namedTables(), t) || containsTable(p.namedTables(), lt))})
					continue
				}
			default:
				continue
			}
			if containsTable(p.namedTables(), t) {
				score += 2
			}
			cands = append(cands, cand{t, c, qty, nil, score})
		}
	}
	anchor := f.groupTable
	if anchor == nil && f.groupCol != nil {
		p.resolveCol(f.groupCol, p.namedTables())
		anchor = f.groupCol.table
	}
	best := -1
	for i, c := range cands {
		if anchor != nil && !p.noFanOut(anchor, c.t) {
			continue
		}
		if best < 0 || c.score > cands[best].score {
			best = i
		}
	}
	if best < 0 {
		return measure{}, &Unanswerable{Reason: "no money column (total, amount, price) can answer this", Unmapped: p.contentWords(), Tables: tableNames(p.s)}
	}
	c := cands[best]
	for i, t := range p.toks {
		if p.measureWord(i) || t.lem == "breakdown" {
			p.mark(i, 1)
		}
	}
	ms := measure{fn: fn, table: c.t, col: c.c}
	if c.priceT != nil {
		ms.expr = binExpr{colExpr{c.priceT.Name, c.c.Name}, "*", colExpr{c.t.Name, c.qty.Name}}
		ms.also = c.priceT
		ms.label = strings.ToLower(string(fn)) + "_revenue"
	} else if c.score%3 == 2 && c.qty != nil && c.score != 3 {
		ms.expr = binExpr{colExpr{c.t.Name, c.c.Name}, "*", colExpr{c.t.Name, c.qty.Name}}
		ms.label = strings.ToLower(string(fn)) + "_revenue"
	}
	p.understood = append(p.understood, strings.ToLower(string(fn))+" of "+c.t.Name+"."+c.c.Name)
	return ms, nil
}

// consumeTable marks the mentions of t as consumed: the SQL uses the table
// through a key of another (an average per group of a foreign key).
func (p *parser) consumeTable(t *Table) {
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) == t {
			p.mark(m.start, m.end-m.start)
		}
	}
}

// lineQuantity is the quantity column of a table with a foreign key to t
// (the order lines of a product), when exactly one table has one.
func (p *parser) lineQuantity(t *Table) (*Column, *Table) {
	var qc *Column
	var qt *Table
	for _, o := range p.s.Tables {
		if o == t || keyTo(o, t) == nil {
			continue
		}
		for _, c := range o.Columns {
			w := strings.Join(lemmas(splitName(c.Name)), " ")
			if (w == "qty" || w == "quantity" || strings.HasSuffix(w, " qty") || strings.HasSuffix(w, " quantity")) && c.Kind == KindInt {
				if qc != nil {
					return nil, nil
				}
				qc, qt = c, o
			}
		}
	}
	return qc, qt
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *parser) namedTables() []*Table {
	var out []*Table
	for _, m := range p.ms {
		if m.kind == mTable {
			out = append(out, p.bestTable(m))
		}
	}
	return out
}
