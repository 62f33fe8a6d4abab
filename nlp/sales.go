package nlp

import (
	"fmt"
	"strings"
)

// Sales: the verbs of buying and selling ("tracks never purchased", "the
// best selling artists", "customers who made at least one purchase") name
// no table of the schema; they name the rows that record a sale of the
// table they qualify. Those rows are found by structure: the nearest table
// below it along foreign keys whose name is a sales record (an invoice
// line, an order, a purchase). When two such tables are equally near, the
// verb stays unaccounted and the question is declined.

// saleNames are the words a table name of sales records contains.
var saleNames = toSet("invoice order sale purchase transaction receipt")

// saleVerbs are the verbs and nouns of buying and selling, by lemma and by
// word form.
var saleVerbs = toSet("buy bought purchase purchased sell selling sold sale ordered")

// isSaleTable reports whether t's name says its rows record sales.
func isSaleTable(t *Table) bool {
	for _, w := range lemmas(splitName(t.Name)) {
		if saleNames[w] {
			return true
		}
	}
	return false
}

// soldRows is the sales table nearest below t along foreign keys (t's own
// rows when t is one), or nil when none is, or two are equally near.
func (p *parser) soldRows(t *Table) *Table {
	if t == nil {
		return nil
	}
	if isSaleTable(t) {
		return t
	}
	seen := map[*Table]bool{t: true}
	level := []*Table{t}
	for depth := 0; depth < 4 && len(level) > 0; depth++ {
		var next []*Table
		var found *Table
		for _, parent := range level {
			for _, c := range p.s.Tables {
				if seen[c] || keyTo(c, parent) == nil {
					continue
				}
				seen[c] = true
				next = append(next, c)
				if isSaleTable(c) {
					if found != nil {
						return nil // two sales tables: which one is not clear
					}
					found = c
				}
			}
		}
		if found != nil {
			return found
		}
		level = next
	}
	return nil
}

// saleWord reports whether token i is a verb or noun of buying and selling
// that no mention of the schema covers.
func (p *parser) saleWord(i int) bool {
	if i < 0 || i >= len(p.toks) || p.byTok[i] != nil {
		return false
	}
	t := p.toks[i]
	return !t.quoted && (saleVerbs[t.low] || saleVerbs[t.lem])
}

// soldTarget is the table of sales records a sale word at j stands for
// when it qualifies main ("tracks that have never been purchased").
func (p *parser) soldTarget(j int, main *Table) *Table {
	if !p.saleWord(j) {
		return nil
	}
	if t := p.soldRows(main); t != main {
		return t
	}
	return nil
}

// salesRank turns "the most purchased media type", "the top 3 best selling
// artists" into a count of the sales rows of each row of the table named
// after the verb, for ranking to order by. "best" before a sale verb is the
// superlative of selling.
func (p *parser) salesRank(f *frame) bool {
	if len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return false
	}
	n := len(p.toks)
	for i := 1; i < n; i++ {
		if !p.saleWord(i) || p.consumed[i] {
			continue
		}
		prev := p.toks[i-1]
		best := prev.low == "best"
		if !best && !superMax[prev.lem] && !superMin[prev.lem] {
			continue
		}
		m := p.nextMention(i+1, 1)
		if m == nil || m.kind != mTable || m.used {
			continue
		}
		x := p.bestTable(m)
		sold := p.soldRows(x)
		if sold == nil || sold == x || !p.parentOf(x, sold) {
			continue
		}
		f.groupTable = x
		m.used = true
		f.measures = append(f.measures, measure{pos: i, fn: aggCount, counts: sold, label: "sales_count"})
		p.mark(i, 1)
		if best {
			p.mark(i-1, 1)
			// "the best selling album": the first; "the best selling
			// albums": in order, as many as "top N" says.
			if f.limit == 0 && !p.hasTopN() && !p.plural(m) {
				f.limit = 1
			}
		}
		p.understood = append(p.understood, "sales ("+sold.Name+" rows) per "+x.Name)
		return true
	}
	return false
}

// plural reports whether the last word of mention m is a plural.
func (p *parser) plural(m *mention) bool {
	t := p.toks[m.end-1]
	return t.low != t.lem
}

// hasTopN reports whether the question asks for the top N.
func (p *parser) hasTopN() bool {
	for i := range p.toks {
		if p.at(i, "top") || (p.toks[i].isNum && i+1 < len(p.toks) && strings.HasPrefix(p.toks[i+1].low, "best")) {
			return true
		}
	}
	return false
}

// atLeastOne turns "at least one purchase" (count >= 1, or > 0) into
// EXISTS over the sales rows of each main row: no grouping, so no doubt
// about groups without rows.
func (p *parser) atLeastOne(f *frame, sold *Table, op string, num float64) bool {
	if !(op == ">=" && num == 1) && !(op == ">" && num == 0) {
		return false
	}
	sub, _ := p.antiJoin(f.main, sold)
	if sub == nil {
		return false
	}
	f.filters = append(f.filters, filter{e: existsExpr{q: sub}, desc: "some " + sold.Name + " row refers to it", tbl: f.main})
	return true
}

// moneyRank reads "which sales agent made the most in sales", "the
// customer with the highest revenue": a superlative, then a money word,
// ranks the rows of the table the question names by the sum of the money
// column (moneyMeasure) of their rows.
func (p *parser) moneyRank(f *frame) bool {
	if len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return false
	}
	n := len(p.toks)
	for i := 0; i+1 < n; i++ {
		if p.consumed[i] || p.byTok[i] != nil || !(p.at(i, "most") || p.at(i, "highest") || p.at(i, "largest") || p.at(i, "biggest")) {
			continue
		}
		k := i + 1
		if p.at(k, "in") || p.at(k, "of") || p.at(k, "total") {
			k++
		}
		if !p.measureWord(k) || p.byTok[k] != nil {
			continue
		}
		ms, err := p.moneyMeasure(f, aggSum)
		if err != nil || ms.table == nil {
			return false
		}
		var group *mention
		for _, m := range p.ms {
			if m.kind == mTable && !m.used && m.start < i {
				if t := p.bestTable(m); t != ms.table && t != ms.also && p.parentOf(t, ms.table) {
					group = m
					break
				}
			}
		}
		if group == nil {
			return false
		}
		f.groupTable = p.bestTable(group)
		group.used = true
		ms.pos = k
		f.measures = append(f.measures, ms)
		p.mark(i+1, k-i) // the money word (and "in"); ranking takes the superlative
		return true
	}
	return false
}

// orderedByRows reports whether "ordered by <m>" at i says who ordered
// ("products ordered by customers from Brazil") rather than how to sort:
// the verb names a table of the schema (orders) or a sale, and m names a
// table, not a column.
func (p *parser) orderedByRows(i int, m *mention) bool {
	if !p.at(i, "ordered") || m.kind != mTable {
		return false
	}
	if t, _ := p.negatedTable(i); t != nil {
		return true
	}
	return p.saleWord(i)
}

// timesCount reads "<verb> more than N times" ("products ordered more than
// 10 times", "tracks purchased at least 2 times") as a count of the rows
// the verb names — a table its stem names, else the sales table below the
// main one — compared with N.
func (p *parser) timesCount(f *frame, i, j int, op string, num float64) bool {
	if !p.at(j+1, "times") || i == 0 || p.byTok[i-1] != nil {
		return false
	}
	t, _ := p.negatedTable(i - 1)
	if t == nil {
		t = p.soldTarget(i-1, f.main)
	}
	if t == nil || t == f.main || !p.parentOf(f.main, t) {
		return false
	}
	f.having = append(f.having, binExpr{aggExpr{fn: "COUNT", arg: pkExpr(t)}, op, litExpr{num}})
	f.havDesc = fmt.Sprintf("count of %s %s %s", t.Name, op, p.toks[j].raw)
	if !containsTable(f.tables, t) {
		f.tables = append(f.tables, t)
	}
	p.mark(i-1, 1)
	p.mark(j+1, 1)
	return true
}
