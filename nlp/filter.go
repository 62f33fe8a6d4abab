package nlp

import (
	"fmt"
	"strings"
)

// Filters: values, comparisons, ids, negations of values.

var compareOps = []struct {
	words []string
	op    string
	word  string // implied column word
}{
	{[]string{"more", "expensive", "than"}, ">", "expensive"},
	{[]string{"greater", "than", "or", "equal", "to"}, ">=", ""},
	{[]string{"less", "than", "or", "equal", "to"}, "<=", ""},
	{[]string{"more", "than"}, ">", ""}, {[]string{"greater", "than"}, ">", ""}, {[]string{"larger", "than"}, ">", ""},
	{[]string{"bigger", "than"}, ">", ""}, {[]string{"higher", "than"}, ">", ""}, {[]string{"longer", "than"}, ">", "longer"},
	{[]string{"shorter", "than"}, "<", "shorter"}, {[]string{"cheaper", "than"}, "<", "cheaper"},
	{[]string{"less", "than"}, "<", ""}, {[]string{"fewer", "than"}, "<", ""}, {[]string{"lower", "than"}, "<", ""},
	{[]string{"smaller", "than"}, "<", ""}, {[]string{"at", "least"}, ">=", ""}, {[]string{"at", "most"}, "<=", ""},
	{[]string{"no", "more", "than"}, "<=", ""}, {[]string{"over"}, ">", ""}, {[]string{"above"}, ">", ""},
	{[]string{"exceeding"}, ">", ""}, {[]string{"under"}, "<", ""}, {[]string{"below"}, "<", ""},
	{[]string{"exactly"}, "=", ""}, {[]string{"equal", "to"}, "=", ""},
	{[]string{"older", "than"}, ">", "older"}, {[]string{"younger", "than"}, "<", "younger"},
	{[]string{"heavier", "than"}, ">", "heavier"}, {[]string{"lighter", "than"}, "<", "lighter"},
	{[]string{"taller", "than"}, ">", "taller"},
}

func (p *parser) filters(f *frame) error {
	n := len(p.toks)
	// Values.
	sameCol := map[*Column]int{}
	sameEnd := map[*Column]int{}
	for _, m := range p.ms {
		if m.kind != mValue {
			continue
		}
		if p.keyValue(f, m) { // "the airport 'AKO'" (keyvalue.go)
			continue
		}
		if len(m.vals) == 0 {
			// A quoted string that is no known value: compare it with the
			// text column named just before it.
			pm := p.prevMention(m.start-1, 1)
			if pm != nil && pm.kind == mColumn {
				p.resolveCol(pm, f.tables, f.main)
				if pm.col != nil && pm.col.Kind == KindText {
					pm.used = true
					f.filters = append(f.filters, filter{e: binExpr{colExpr{pm.table.Name, pm.col.Name}, "=", litExpr{p.toks[m.start].raw}},
						desc: pm.table.Name + "." + pm.col.Name + " = " + p.toks[m.start].raw, tbl: pm.table})
					continue
				}
			}
			if p.substring(f, m) {
				continue
			}
			return &Unanswerable{Reason: fmt.Sprintf("the value %q was found in no column", p.toks[m.start].raw), Tables: tableNames(p.s)}
		}
		if p.partOfValue(m) && p.substring(f, m) { // "the letter 'w'" (substring.go)
			continue
		}
		ref := p.pickValue(m, f)
		// A column named just before the value is the one it belongs to.
		if pm := p.prevMention(m.start-1, 1); pm != nil && pm.kind == mColumn {
			for _, v := range m.vals {
				if p.refersToOther(v, m.vals) {
					continue
				}
				for _, l := range pm.links {
					if l.col == v.col {
						ref = v
						pm.used = true
					}
				}
			}
		}
		if _, ok := sameCol[ref.col]; ok && p.negatedBetween(sameEnd[ref.col], m.start) {
			delete(sameCol, ref.col) // "a dog but not a cat": two conditions (possess.go)
		}
		sameEnd[ref.col] = m.end
		if k, ok := sameCol[ref.col]; ok {
			if b := p.bothBefore(m.start); b >= 0 && p.at(m.start-1, "and") && ref.table != f.main && !p.noFanOut(ref.table, f.main) {
				// "students who have both cats and dogs": one condition per
				// value, each over its own rows (semiJoins makes each an
				// EXISTS), so that both must hold.
				p.mark(b, 1)
				p.mark(m.start-1, 1)
				f.filters = append(f.filters, filter{e: inExpr{e: colExpr{ref.table.Name, ref.col.Name}, vals: []sqlExpr{litExpr{ref.value}}},
					desc: ref.table.Name + "." + ref.col.Name + " = " + ref.value, tbl: ref.table, each: true})
				f.filters[k].each = true
				continue
			}
			if p.bothImplied(f, m, ref, k) { // "English and Dutch" (both.go)
				continue
			}
			if m.start > 0 && p.at(m.start-1, "and") && (ref.table != f.main || p.otherContext(ref.table)) {
				// "documents with paragraphs 'Brazil' and 'Ireland'": rows
				// with both, or with either? Not decided here.
				return &Unanswerable{Reason: fmt.Sprintf("%q and the value before it are two values of %s.%s, which %s rows may have several of: both or either is not clear",
					joinRaw(p.toks[m.start:m.end]), ref.table.Name, ref.col.Name, f.main.Name), Understood: p.understood, Tables: tableNames(p.s)}
			}
			// "Rock or Jazz tracks": two values of one column are either.
			p.markEither(m)
			in := f.filters[k].e.(inExpr)
			in.vals = append(in.vals, litExpr{ref.value})
			f.filters[k].e = in
			f.filters[k].desc += " or " + ref.value
			continue
		}
		sameCol[ref.col] = len(f.filters)
		f.filters = append(f.filters, filter{e: inExpr{e: colExpr{ref.table.Name, ref.col.Name}, vals: []sqlExpr{litExpr{ref.value}}},
			desc: ref.table.Name + "." + ref.col.Name + " = " + ref.value, tbl: ref.table})
		if !containsTable(f.tables, ref.table) {
			f.tables = append(f.tables, ref.table)
		}
	}
	for i := 0; i < n; i++ {
		t := p.toks[i]
		// Comparisons with numbers, durations, money, dates and "the average".
		for _, co := range compareOps {
			if !p.at(i, co.words...) {
				continue
			}
			j := i + len(co.words)
			if err := p.comparison(f, i, j, co.op, co.word); err != nil {
				return err
			}
			i = j - 1
			break
		}
		if m := p.mentionAt(i + 1); (p.at(i, "greater") || p.at(i, "higher") || p.at(i, "larger") || p.at(i, "bigger") || p.at(i, "smaller") ||
			p.at(i, "lower") || p.at(i, "less")) && p.byTok[i] == nil && m != nil && m.kind == mColumn && p.at(m.end, "than") && m.end+1 < n && p.toks[m.end+1].isNum {
			// "a greater weight than 10": the column between the comparative and than.
			op := ">"
			if p.at(i, "smaller") || p.at(i, "lower") || p.at(i, "less") {
				op = "<"
			}
			if cands := numericLinks(m.links); len(cands) > 0 {
				mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
				p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
				if mm.col != nil {
					m.used = true
					k := m.end + 1
					p.mark(i, 1)
					p.mark(m.end, 2)
					f.filters = append(f.filters, filter{e: binExpr{colExpr{mm.table.Name, mm.col.Name}, op, litExpr{p.toks[k].num}},
						desc: fmt.Sprintf("%s.%s %s %s", mm.table.Name, mm.col.Name, op, p.toks[k].raw), tbl: mm.table})
					if !containsTable(f.tables, mm.table) {
						f.tables = append(f.tables, mm.table)
					}
					i = k
					continue
				}
			}
		}
		if t.isNum && !p.consumed[i] && i+2 < n && p.at(i+1, "or") && p.toks[i+2].isNum && p.numberList(f, i) {
			i += 2
			continue
		}
		if p.at(i, "between") && i+3 < n && p.toks[i+1].isNum && p.at(i+2, "and") && p.toks[i+3].isNum {
			p.between(f, i)
			i += 3
			continue
		}
		if t.isNum && t.hash || (t.isNum && i > 0 && (p.at(i-1, "id") || p.at(i-1, "number") || p.at(i-1, "no")) && !p.consumedAsLimit(i)) {
			p.idEquality(f, i)
		}
	}
	p.countVsAverage(f) // "more tracks than the average per album" (nested.go)
	p.hideIDs(f)        // "but displays no IDs" (listing.go)
	p.bothColumns()     // "show both the name and the id" (listing.go)
	p.flags(f)
	p.negatedFlag(f)
	p.encodingNote(f) // "1 stands for yes, and 0 stands for no" (encoding.go)
	p.dates(f)
	p.allNegatedValues(f) // (negmulti.go)
	p.negations(f)
	p.existence(f)
	p.verbExistence(f) // "dogs who went through any treatments" (existverb.go)
	p.nulls(f)
	p.sharedBy(f)     // "the citizenships shared by singers born before 1945 and after 1955" (setops.go)
	p.haveRows(f)     // "customers who placed orders" (setops.go)
	p.countColumns(f) // "cars with 8 cylinders" (countcol.go)
	// Column mention directly followed by a number: equality ("invoice id 37").
	for _, m := range p.ms {
		if m.kind == mColumn && !m.used && m.end < n && p.toks[m.end].isNum && !p.toks[m.end].hash {
			p.resolveCol(m, f.tables, f.main)
			if m.col != nil && (m.col.Kind == KindInt || m.col.Kind == KindNumber) {
				m.used = true
				p.mark(m.end, 1)
				f.filters = append(f.filters, filter{e: binExpr{colExpr{m.table.Name, m.col.Name}, "=", litExpr{p.toks[m.end].num}},
					desc: m.table.Name + "." + m.col.Name + " = " + p.toks[m.end].raw, tbl: m.table})
				if !containsTable(f.tables, m.table) {
					f.tables = append(f.tables, m.table)
				}
			}
		}
	}
	p.numberEquality(f) // "a population of 80000", "aged either 32 or 33" (numeq.go)
	return nil
}

func (p *parser) consumedAsLimit(i int) bool { return false }

// idEquality: "customer #5", "invoice number 12", "order id 7".
func (p *parser) idEquality(f *frame, i int) {
	k := i - 1
	if !p.toks[i].hash {
		k = i - 2
	}
	m := p.prevMention(k, 1)
	if m == nil {
		return
	}
	var t *Table
	switch m.kind {
	case mTable:
		t = p.bestTable(m)
	case mColumn:
		p.resolveCol(m, f.tables, f.main)
		if m.col != nil && (m.col.Kind == KindInt || m.col.Kind == KindNumber) {
			m.used = true
			f.filters = append(f.filters, filter{e: binExpr{colExpr{m.table.Name, m.col.Name}, "=", litExpr{p.toks[i].num}},
				desc: m.table.Name + "." + m.col.Name + " = " + p.toks[i].raw, tbl: m.table})
			p.mark(i-1, 2)
			return
		}
	}
	if t == nil || len(t.PrimaryKey) != 1 {
		return
	}
	p.mark(i-1, 2)
	f.filters = append(f.filters, filter{e: binExpr{colExpr{t.Name, t.PrimaryKey[0]}, "=", litExpr{p.toks[i].num}},
		desc: t.Name + "." + t.PrimaryKey[0] + " = " + p.toks[i].raw, tbl: t})
}

func (p *parser) comparison(f *frame, i, j int, op, word string) error {
	n := len(p.toks)
	if j >= n {
		return nil
	}
	// "longer than the average track length"
	if p.at(j, "the", "average") || p.at(j, "average") || p.at(j, "the", "mean") {
		k := j + 1
		if p.at(j, "the") {
			k = j + 2
		}
		col, tb := p.compareColumn(f, i, k, word)
		if col == nil {
			return &Unanswerable{Reason: "cannot tell which column to compare with the average", Tables: tableNames(p.s)}
		}
		p.mark(i, k-i)
		sub := &selectQ{items: []selItem{{e: aggExpr{fn: "AVG", arg: colExpr{tb.Name, col.Name}}}}, from: tb.Name}
		f.filters = append(f.filters, filter{e: binExpr{colExpr{tb.Name, col.Name}, op, subqExpr{sub}},
			desc: tb.Name + "." + col.Name + " " + op + " its average", tbl: tb})
		return nil
	}
	// "above age 20": the column between the comparison and the number.
	if m := p.byTok[j]; m != nil && m.kind == mColumn && m.end < n && p.toks[m.end].isNum {
		cands := numericLinks(m.links)
		if len(cands) > 0 {
			mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
			p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
			if mm.col != nil {
				k := m.end
				m.used = true
				p.mark(i, k-i+1)
				f.filters = append(f.filters, filter{e: binExpr{colExpr{mm.table.Name, mm.col.Name}, op, litExpr{p.toks[k].num}},
					desc: fmt.Sprintf("%s.%s %s %s", mm.table.Name, mm.col.Name, op, p.toks[k].raw), tbl: mm.table})
				if !containsTable(f.tables, mm.table) {
					f.tables = append(f.tables, mm.table)
				}
				return nil
			}
		}
	}
	if !p.toks[j].isNum {
		return nil
	}
	num := p.toks[j].num
	p.mark(i, j-i+1)
	if i > 0 && p.at(i-1, "not") && !p.consumed[i-1] {
		// "not higher than 4"
		op = map[string]string{">": "<=", "<": ">=", ">=": "<", "<=": ">", "=": "<>"}[op]
		p.mark(i-1, 1)
	}
	// "with more than 10 albums": a count of related rows.
	if m := p.nextMention(j+1, 1); m != nil && m.kind == mTable && !p.toks[j].money {
		t := p.bestTable(m)
		m.used = true
		f.having = append(f.having, binExpr{aggExpr{fn: "COUNT", arg: pkExpr(t)}, op, litExpr{num}})
		f.havDesc = fmt.Sprintf("count of %s %s %s", t.Name, op, p.toks[j].raw)
		if !containsTable(f.tables, t) {
			f.tables = append(f.tables, t)
		}
		return nil
	}
	// "products ordered more than 10 times": a count of the rows the verb names (sales.go).
	if p.timesCount(f, i, j, op, num) {
		return nil
	}
	// "who made at least one purchase": a count of the sales rows (sales.go).
	if t := p.soldTarget(j+1, f.main); t != nil && !p.toks[j].money {
		p.mark(j+1, 1)
		if p.atLeastOne(f, t, op, num) {
			return nil
		}
		f.having = append(f.having, binExpr{aggExpr{fn: "COUNT", arg: pkExpr(t)}, op, litExpr{num}})
		f.havDesc = fmt.Sprintf("count of %s %s %s", t.Name, op, p.toks[j].raw)
		if !containsTable(f.tables, t) {
			f.tables = append(f.tables, t)
		}
		return nil
	}
	// A year compared with a date: "after 2002".
	col, tb := p.compareColumn(f, i, j+1, word)
	if col == nil {
		return &Unanswerable{Reason: fmt.Sprintf("cannot tell which column to compare with %s", p.toks[j].raw), Tables: tableNames(p.s)}
	}
	// "government forms whose average life expectancy is above 72": a
	// condition on the groups' aggregate.
	if fn := p.aggregateBefore(i); fn != "" && (f.groupCol != nil || f.groupTable != nil || f.groupTime != "") {
		f.having = append(f.having, binExpr{aggExpr{fn: fn, arg: colExpr{tb.Name, col.Name}}, op, litExpr{num}})
		f.havDesc = fmt.Sprintf("%s(%s.%s) %s %s", strings.ToLower(fn), tb.Name, col.Name, op, p.toks[j].raw)
		return nil
	}
	val := num
	if u := durationUnit(col); u > 0 && j+1 < n {
		if s := unitSeconds(p.toks[j+1].lem); s > 0 {
			val = num * s / u
			p.mark(j+1, 1)
		}
	}
	f.filters = append(f.filters, filter{e: binExpr{colExpr{tb.Name, col.Name}, op, litExpr{val}},
		desc: fmt.Sprintf("%s.%s %s %v", tb.Name, col.Name, op, val), tbl: tb})
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
	return nil
}

func pkExpr(t *Table) sqlExpr {
	if len(t.PrimaryKey) > 0 {
		return colExpr{t.Name, t.PrimaryKey[0]}
	}
	return nil
}

// compareColumn finds the numeric column of a comparison: a numeric column
// named just before the cue ("tracks that cost more than"), one after the
// number, or the column the comparative implies ("longer" -> duration).
func (p *parser) compareColumn(f *frame, i, after int, word string) (*Column, *Table) {
	if word != "" {
		if c, t := p.impliedColumn(word, after); c != nil {
			return c, t
		}
	}
	try := func(m *mention) (*Column, *Table) {
		if m == nil || m.kind != mColumn {
			return nil, nil
		}
		cands := numericLinks(m.links)
		if len(cands) == 0 {
			return nil, nil
		}
		mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
		p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
		if mm.col != nil {
			m.used = true
		}
		return mm.col, mm.table
	}
	if c, t := try(p.prevMention(i-1, 2)); c != nil {
		return c, t
	}
	if c, t := try(p.nextMention(after, 2)); c != nil {
		return c, t
	}
	return nil, nil
}

func (p *parser) pickValue(m *mention, f *frame) valueRef {
	best, bs := m.vals[0], -1.0
	for _, v := range m.vals {
		if p.refersToOther(v, m.vals) {
			continue // the same value in the key it refers to
		}
		s := 0.0
		if v.table == f.main {
			s += 2
		}
		if containsTable(f.tables, v.table) {
			s += 1
		}
		if pm := p.prevMention(m.start-1, 4); pm != nil && pm.kind == mTable && p.bestTable(pm) == v.table {
			s += 2.5
		}
		if v.value == p.toks[m.start].raw || strings.EqualFold(v.value, joinRaw(p.toks[m.start:m.end])) {
			s += 0.5
		}
		// A value that is an entity's name ("AC/DC" the artist) rather than
		// an attribute of another table's rows (a track's composer).
		if ls := labelCols(v.table); len(ls) == 1 && ls[0] == v.col {
			s += 0.4
		}
		s -= float64(len(v.col.Values)) / 10000
		if s > bs {
			best, bs = v, s
		}
	}
	return best
}

// refersToOther reports whether v's column is a foreign key to the column of
// another of vals: the value is the parent's, the child only refers to it.
func (p *parser) refersToOther(v valueRef, vals []valueRef) bool {
	for _, fk := range v.table.ForeignKeys {
		if len(fk.Columns) != 1 || !strings.EqualFold(fk.Columns[0], v.col.Name) {
			continue
		}
		for _, o := range vals {
			if strings.EqualFold(o.table.Name, fk.RefTable) && strings.EqualFold(o.col.Name, fk.RefColumns[0]) {
				return true
			}
		}
	}
	return false
}

func joinRaw(ts []token) string {
	var ps []string
	for _, t := range ts {
		ps = append(ps, t.raw)
	}
	return strings.Join(ps, " ")
}

// nulls: "with NULL composer", "whose company is not specified", "who do
// not have a manager", "without a fax".
func (p *parser) nulls(f *frame) {
	n := len(p.toks)
	add := func(m *mention, emptyToo bool) {
		p.resolveCol(m, f.tables, f.main)
		if m.col == nil || !m.col.Nullable {
			return
		}
		m.used = true
		ce := colExpr{m.table.Name, m.col.Name}
		var e sqlExpr = postfixExpr{ce, "IS NULL"}
		desc := m.table.Name + "." + m.col.Name + " is null"
		if emptyToo && m.col.Kind == KindText {
			e = binExpr{e, "OR", binExpr{ce, "=", litExpr{""}}}
			desc += " or empty"
		}
		f.filters = append(f.filters, filter{e: e, desc: desc, tbl: m.table})
	}
	for i := 0; i < n; i++ {
		if p.consumed[i] {
			continue
		}
		switch {
		case p.at(i, "null") || p.at(i, "no") || p.at(i, "without") || p.at(i, "missing") && p.byTok[i+1] != nil:
			if m := p.nextMention(i+1, 1); m != nil && m.kind == mColumn {
				p.mark(i, 1)
				add(m, p.at(i, "missing"))
			}
		case p.at(i, "not", "have") || p.at(i, "don't", "have") || p.at(i, "doesn't", "have") || p.at(i, "has", "no") || p.at(i, "have", "no"):
			if m := p.nextMention(i+2, 1); m != nil && m.kind == mColumn {
				p.mark(i, 2)
				add(m, false)
			}
		case p.at(i, "is", "null") || p.at(i, "is", "not", "specified") || p.at(i, "not", "specified") || p.at(i, "is", "empty") ||
			p.at(i, "is", "missing") || p.at(i, "is", "unknown") || p.at(i, "is", "blank") || p.at(i, "unspecified"):
			if m := p.prevMention(i-1, 1); m != nil && m.kind == mColumn {
				k := 2
				if p.at(i, "is", "not", "specified") {
					k = 3
				}
				p.mark(i, k)
				add(m, !p.at(i, "is", "null"))
			}
		}
	}
}

// mentionAt is the mention covering token i, or nil (also past the end).
func (p *parser) mentionAt(i int) *mention {
	if i < 0 || i >= len(p.byTok) {
		return nil
	}
	return p.byTok[i]
}

// aggregateBefore is the aggregate named right before the column a
// comparison at i is about ("whose average age is over 30"), or "".
func (p *parser) aggregateBefore(i int) string {
	k := i - 1
	for k >= 0 && (p.at(k, "is") || p.at(k, "are") || p.at(k, "was")) {
		k--
	}
	if k < 0 || p.byTok[k] == nil || p.byTok[k].kind != mColumn {
		return ""
	}
	a := p.byTok[k].start - 1
	if a < 0 {
		return ""
	}
	switch p.toks[a].lem {
	case "average", "avg", "mean":
		return "AVG"
	case "total", "sum":
		return "SUM"
	case "maximum", "max", "highest":
		return "MAX"
	case "minimum", "min", "lowest":
		return "MIN"
	}
	return ""
}

// numberList: "whose birth year is either 1948 or 1949", "in year 2014 or
// 2015": a numeric column named just before two numbers joined by or is
// IN both. Reports whether it applied.
func (p *parser) numberList(f *frame, i int) bool {
	k := i - 1
	for k >= 0 && (p.at(k, "either") || p.at(k, "is") || p.at(k, "are") || p.at(k, "in") || p.at(k, "of")) && p.byTok[k] == nil {
		k--
	}
	m := p.mentionAt(k)
	if m == nil || m.kind != mColumn {
		return false
	}
	cands := numericLinks(m.links)
	if len(cands) == 0 {
		return false
	}
	mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
	p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
	if mm.col == nil {
		return false
	}
	m.used = true
	f.filters = append(f.filters, filter{e: inExpr{e: colExpr{mm.table.Name, mm.col.Name}, vals: []sqlExpr{litExpr{p.toks[i].num}, litExpr{p.toks[i+2].num}}},
		desc: fmt.Sprintf("%s.%s in (%s, %s)", mm.table.Name, mm.col.Name, p.toks[i].raw, p.toks[i+2].raw), tbl: mm.table})
	if !containsTable(f.tables, mm.table) {
		f.tables = append(f.tables, mm.table)
	}
	p.mark(k+1, i+3-(k+1))
	return true
}

// bothBefore is the index of "both" within the four words before i, or -1.
func (p *parser) bothBefore(i int) int {
	for k := i - 1; k >= 0 && k >= i-4; k-- {
		if p.at(k, "both") {
			return k
		}
	}
	return -1
}

// between: "products with a price between 10 and 20", "credits between 2
// and 4": the numeric column named just before, BETWEEN both numbers.
func (p *parser) between(f *frame, i int) {
	col, tb := p.compareColumn(f, i, i+4, "")
	if col == nil {
		p.betweenYears(f, i) // "orders between 2023 and 2024" (ranges.go)
		return               // else the words stay unaccounted: declined
	}
	lo, hi := p.toks[i+1].num, p.toks[i+3].num
	var e sqlExpr = betweenExpr{colExpr{tb.Name, col.Name}, litExpr{lo}, litExpr{hi}}
	desc := fmt.Sprintf("%s.%s between %s and %s", tb.Name, col.Name, p.toks[i+1].raw, p.toks[i+3].raw)
	if p.notBefore(i) { // "whose price is not between 10 and 20" (ranges.go)
		e, desc = notExpr{e}, "not "+desc
	}
	f.filters = append(f.filters, filter{e: e, desc: desc, tbl: tb})
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
	p.mark(i, 4)
}
