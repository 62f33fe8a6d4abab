package nlp

import "strings"

// Ranking and ordering: top-N, superlatives, ORDER BY.

// ranking sets ORDER BY measure DESC/ASC LIMIT n for "top N", "which X
// has the most Y", "the N longest Z".
func (p *parser) ranking(f *frame) {
	var rankMarks []int
	rmark := func(i, n int) {
		p.mark(i, n)
		for k := i; k < i+n; k++ {
			rankMarks = append(rankMarks, k)
		}
	}
	n := len(p.toks)
	limit := 0
	desc := true
	for i := 0; i < n; i++ {
		t := p.toks[i]
		switch {
		case p.at(i, "top") && i+1 < n && p.toks[i+1].isNum:
			limit = int(p.toks[i+1].num)
			rmark(i, 2)
		case p.at(i, "top"):
			limit = 1
			rmark(i, 1)
		case t.isNum && i+1 < n && (superMax[p.toks[i+1].lem] || superMin[p.toks[i+1].lem]):
			limit = int(t.num)
			desc = !superMin[p.toks[i+1].lem]
			rmark(i, 2)
			if len(f.measures) == 0 {
				// "the 10 longest tracks": order by the column the word implies.
				if c, tb := p.impliedColumn(p.toks[i+1].lem, i+2); c != nil {
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				} else if c, tb := p.impliedColumn(p.tokLow(i+2), i+3); c != nil && (p.at(i+1, "most") || p.at(i+1, "least")) {
					// "the 3 most populated countries"
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc != agesReverse(p.tokLow(i+2), c)
					rmark(i+2, 1)
				} else if c, tb := p.rankColumn(f, i+2); c != nil {
					// "the top 3 largest population"
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				}
			}
			i++
		case (superMax[t.lem] || superMin[t.lem]) && !p.superlativeOfOtherColumn(f, i): // (superword.go)
			if limit == 0 {
				limit = 1
				p.oneImplied = true // "the longest": one row, by no number
			}
			desc = !superMin[t.lem]
			rmark(i, 1)
			if len(f.measures) == 0 && f.groupTable == nil && f.groupCol == nil {
				var adjCol *Column
				var adjTable *Table
				if (t.lem == "most" || t.lem == "least") && i+1 < n {
					adjCol, adjTable = p.impliedColumn(p.toks[i+1].low, i+2)
				}
				if adjCol != nil {
					// "most expensive product": the adjective names the column.
					f.orderBy = colExpr{adjTable.Name, adjCol.Name}
					f.orderDesc = desc
					rmark(i+1, 1)
				} else if c, tb := p.rankColumn(f, i+1); c != nil {
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				} else if m := p.nextMention(i+1, 2); m != nil && m.kind == mTable && (t.lem == "most" || t.lem == "fewest" || t.lem == "least" && !p.at(i-1, "at")) {
					// "which genre has the most tracks": count per named entity.
					p.groupByFirstOther(f, p.bestTable(m))
					if f.groupTable != nil {
						f.measures = append(f.measures, measure{fn: aggCount, counts: p.bestTable(m)})
						m.used = true
					} else if p.groupByColumnBefore(f, p.bestTable(m), i) || p.groupByChildColumnBefore(f, p.bestTable(m), i) { // (rankcol.go, rankchild.go) // "which category has the most products" (rankcol.go)
						m.used = true
					} else {
						// "the most purchased media type": nothing to count per.
						p.consumed[i] = false
					}
				} else if c, tb := p.impliedColumn(t.lem, i+1); c != nil {
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc != agesReverse(t.lem, c)
				}
			}
		}
	}
	if limit > 0 {
		f.limit = limit
	}
	if len(f.measures) > 0 && f.orderBy == nil {
		f.rankAgg = true
		f.orderDesc = desc
	}
	// "top 5 customers by total purchase amount": group by the named entity.
	if len(f.measures) == 0 && f.orderBy == nil {
		for i := 0; i < n; i++ {
			if p.at(i, "by") {
				if m := p.nextMention(i+1, 3); m != nil && m.kind == mColumn {
					// "top 5 products by price": the listed rows ordered by
					// their own column.
					if c, tb := p.ownNumeric(m); c != nil {
						p.mark(i, 1)
						m.used = true
						m.col, m.table = c, tb
						f.orderBy = colExpr{tb.Name, c.Name}
						f.orderDesc = desc
						continue
					}
					ms, err := p.numericAfter(f, m.start, aggSum)
					if err == nil && ms.col != nil {
						p.mark(i, 1)
						f.measures = append(f.measures, ms)
						f.rankAgg = true
						f.orderDesc = desc
					}
				} else if p.measureWord(min(i+1, n-1)) || p.measureAt(i+1, 3) {
					if ms, err := p.moneyMeasure(f, aggSum); err == nil {
						p.mark(i, 1)
						f.measures = append(f.measures, ms)
						f.rankAgg = true
						f.orderDesc = desc
					}
				}
			}
		}
	}
	if len(f.measures) > 0 && f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
		counted, mt := f.measures[0].counts, f.measures[0].table
		for _, m := range p.ms {
			if m.used || m.kind == mValue {
				continue
			}
			if m.kind == mTable {
				t := p.bestTable(m)
				if t == counted || t == mt {
					continue
				}
				f.groupTable = t
				m.used = true
				break
			}
			var pref []*Table
			if counted != nil {
				pref = append(pref, counted)
			}
			if mt != nil {
				pref = append(pref, mt)
			}
			p.resolveCol(m, pref, pref...)
			if m.col != nil && m.col.Kind == KindText {
				f.groupCol = m
				m.used = true
				break
			}
		}
	}
	if f.limit > 0 && len(f.measures) == 0 && f.orderBy == nil {
		// "the 5 largest countries" with nothing to order by: the
		// superlative is not understood, its words stay unaccounted.
		for _, k := range rankMarks {
			p.consumed[k] = false
		}
		f.limit = 0
	}
}

// rankColumn is the numeric column named right after token i-1 (a
// superlative): "the largest net worth" orders by net_worth. The mention is
// consumed.
func (p *parser) rankColumn(f *frame, i int) (*Column, *Table) {
	m := p.nextMention(i, 1)
	if m == nil || m.kind != mColumn {
		return nil, nil
	}
	cands := numericLinks(m.links)
	if len(cands) == 0 {
		return nil, nil
	}
	mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
	p.resolveColIn(mm, append([]*Table{f.main}, p.namedTables()...))
	if mm.col == nil {
		return nil, nil
	}
	m.used, m.col, m.table = true, mm.col, mm.table
	if !containsTable(f.tables, mm.table) {
		f.tables = append(f.tables, mm.table)
	}
	return mm.col, mm.table
}

// ownNumeric is the numeric column m names in a table the question names as
// a table ("products by price"), or nil.
func (p *parser) ownNumeric(m *mention) (*Column, *Table) {
	named := p.namedTables()
	for _, l := range m.links {
		if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) && containsTable(named, l.table) {
			return l.col, l.table
		}
	}
	return nil, nil
}

// groupByFirstOther groups by the first named table other than counted.
func (p *parser) groupByFirstOther(f *frame, counted *Table) {
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) != counted {
			f.groupTable = p.bestTable(m)
			m.used = true
			return
		}
	}
}

// impliedColumn is the column a comparative or superlative word implies:
// longest -> a duration, most expensive -> a price, latest -> a date.
func (p *parser) impliedColumn(word string, after int) (*Column, *Table) {
	if word == "recently" {
		word = "recent" // "the most recently aired cartoon"
	}
	c, t := p.impliedColumn1(word, after)
	return c, t
}

// hasAge reports whether t has a numeric age column.
func hasAge(t *Table) bool {
	for _, c := range t.Columns {
		if isAgeColumn(c) {
			return true
		}
	}
	return false
}

// agesReverse reports whether word orders col the other way round: the
// oldest has the highest age, the earliest date of birth.
func agesReverse(word string, c *Column) bool {
	if c == nil || (c.Kind != KindInt && c.Kind != KindNumber) {
		return false
	}
	switch word {
	case "oldest", "youngest", "older", "younger":
		return true
	}
	return false
}

func (p *parser) impliedColumn1(word string, after int) (*Column, *Table) {
	var tables []*Table
	if m := p.nextMention(after, 3); m != nil && m.kind == mTable {
		tables = append(tables, p.bestTable(m))
	} else if m != nil && m.kind == mValue && len(m.vals) > 0 {
		tables = append(tables, m.vals[0].table) // "the youngest dog": a pet type
	}
	tables = append(tables, p.namedTables()...)
	tables = append(tables, p.parentsOf(tables)...) // "the tallest poker player": the person's height (oftable.go)
	for _, t := range tables {
		for _, c := range t.Columns {
			switch word {
			case "longest", "shortest", "long", "longer", "shorter":
				if durationUnit(c) > 0 {
					return c, t
				}
			case "older", "younger":
				if strings.EqualFold(c.Name, "age") && c.Kind != KindText {
					return c, t
				}
			case "heavier", "lighter", "heaviest", "lightest":
				if w := lemmas(splitName(c.Name)); w[len(w)-1] == "weight" && c.Kind != KindText {
					return c, t
				}
			case "taller", "tallest":
				if w := lemmas(splitName(c.Name)); w[len(w)-1] == "height" && c.Kind != KindText {
					return c, t
				}
			case "populated", "populous", "populace":
				if w := lemmas(splitName(c.Name)); w[len(w)-1] == "population" && c.Kind != KindText {
					return c, t
				}
			case "expensive", "cheapest", "cheaper", "pricey":
				if w := lemmas(splitName(c.Name)); (w[len(w)-1] == "price" || w[len(w)-1] == "cost") && c.Kind != KindText {
					return c, t
				}
			case "latest", "newest", "earliest", "oldest", "recent", "youngest":
				if (word == "oldest" || word == "youngest") && isAgeColumn(c) {
					return c, t
				}
				if (c.Kind == KindDate || c.Kind == KindTime) && !hasAge(t) {
					return c, t
				}
			}
		}
	}
	return nil, nil
}

// --- filters ---

// ordering: "sorted by title", "alphabetically", "first 10 tracks",
// "in descending order".
func (p *parser) ordering(f *frame) {
	n := len(p.toks)
	for i := 0; i < n; i++ {
		switch {
		case p.at(i, "alphabetically") || p.at(i, "alphabetical"):
			p.mark(i, 1)
			if f.orderBy == nil {
				if l := labelCols(f.main); len(l) > 0 {
					f.orderBy = colExpr{f.main.Name, l[len(l)-1].Name}
				}
			}
		case p.at(i, "descending") || p.at(i, "desc") || p.at(i, "reverse"):
			p.mark(i, 1)
			f.orderDesc = true
		case p.at(i, "ascending") || p.at(i, "asc"):
			p.mark(i, 1)
			f.orderDesc = false
		case (p.at(i, "first") || p.at(i, "last")) && i+1 < n && p.toks[i+1].isNum && !(i+2 < n && (p.timeUnit(i+2) != "" || p.at(i+2, "week"))):
			f.limit = int(p.toks[i+1].num)
			p.mark(i, 2)
			if f.orderBy == nil && len(f.main.PrimaryKey) > 0 {
				f.orderBy = colExpr{f.main.Name, f.main.PrimaryKey[0]}
				f.orderDesc = p.at(i, "last")
			}
		case p.at(i, "from", "high", "to", "low") || p.at(i, "from", "highest", "to", "lowest") || p.at(i, "from", "largest", "to", "smallest"):
			p.mark(i, 4)
			f.orderDesc = true
		case p.at(i, "from", "low", "to", "high") || p.at(i, "from", "lowest", "to", "highest") || p.at(i, "from", "smallest", "to", "largest"):
			p.mark(i, 4)
			f.orderDesc = false
		case (p.at(i, "sorted") || p.at(i, "ordered") || p.at(i, "sort") || p.at(i, "order")) && (f.orderBy != nil || f.rankAgg):
			// "in descending order": the order is understood.
			p.mark(i, 1)
		}
	}
}

// --- building the SQL ---
