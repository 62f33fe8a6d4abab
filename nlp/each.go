package nlp

import "strings"

// Counts per entity named in a listing.

// anaphoricEach reads a trailing "each" that points back at what the
// question lists: "the template type codes and the number of templates for
// each", "the high schoolers and how many friends does each have", "the
// number of paragraphs corresponding to each". With a group already set the
// word is that group; with one count and no group, the first column or
// table named before the count is the group.
func (p *parser) anaphoricEach(f *frame) {
	for i := range p.toks {
		if !p.at(i, "each") || p.consumed[i] || !p.eachEndsClause(i) {
			continue
		}
		from := i
		switch {
		case p.at(i-2, "corresponding", "to") || p.at(i-2, "correspond", "to"):
			from = i - 2
		case p.at(i-1, "for") || p.at(i-1, "in") || p.at(i-1, "does") || p.at(i-1, "do") || p.at(i-1, "did"):
			from = i - 1
		default:
			continue
		}
		if f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
			if len(f.measures) != 1 || f.measures[0].fn != aggCount {
				continue
			}
			var g *mention
			for _, m := range p.ms {
				if m.start >= f.measures[0].pos {
					break
				}
				if !m.used && (m.kind == mColumn || m.kind == mTable) {
					g = m
					break
				}
			}
			if g == nil {
				continue
			}
			g.used = true
			if g.kind == mTable {
				t := p.bestTable(g)
				if t == f.measures[0].counts {
					g.used = false
					continue // "the templates and the number of templates for each"
				}
				f.groupTable = t
			} else {
				p.resolveCol(g, f.tables)
				if g.col == nil {
					g.used = false
					continue
				}
				f.groupCol = g
			}
		}
		p.mark(from, i-from+1)
		if p.at(i+1, "have") || p.at(i+1, "has") {
			p.mark(i+1, 1)
		}
	}
}

// eachEndsClause reports whether the "each" at i closes its clause: the
// end of the question, punctuation, "have", or "of them".
func (p *parser) eachEndsClause(i int) bool {
	k := i + 1
	if p.at(k, "have") || p.at(k, "has") {
		k++
	}
	if p.at(k, "of", "them") {
		k += 2
	}
	return k >= len(p.toks) || p.toks[k].punct
}

// statesRows reports whether the question says the answer's rows have rows
// of t ("high schoolers who have likes", "students who have any pet"): a
// count of t per entity then leaves out the entities without any, so the
// join need not keep them.
func (p *parser) statesRows(t *Table) bool {
	if t == nil {
		return false
	}
	for _, m := range p.ms {
		if m.kind != mTable || p.bestTable(m) != t {
			continue
		}
		k := m.start - 1
		for k >= 0 && (p.at(k, "any") || p.at(k, "some") || p.at(k, "a")) {
			k--
		}
		if k >= 1 && (p.at(k, "have") || p.at(k, "has")) && (p.at(k-1, "who") || p.at(k-1, "that") || p.at(k-1, "which")) {
			return true
		}
	}
	return false
}

// groupOwnRows reads a count of the main table's own rows ("the hometowns
// shared by at least two teachers", "the cities that have more than one
// employee under age 30") as a count per value of the column named before
// it: rows of a table grouped by themselves would each count one. It
// returns false when no such column is named.
func (p *parser) groupOwnRows(f *frame) bool {
	pk := pkExpr(f.main)
	if pk == nil || len(f.having) != 1 {
		return false
	}
	b, ok := f.having[0].(binExpr)
	if !ok {
		return false
	}
	if a, ok := b.l.(aggExpr); !ok || a.fn != "COUNT" || a.arg != pk {
		return false
	}
	// The column is one the question lists, and the only one.
	if len(f.extra) != 1 {
		return false
	}
	m := f.extra[0]
	if m.table != f.main || m.col == nil || isIDName(m.col.Name) || keyColumn(m.table, m.col) {
		return false
	}
	// A number column only when named in the plural ("grades that have at
	// least 4 students"): values, not one row's measure.
	if m.col.Kind != KindText && !(m.col.Kind == KindInt && p.toks[m.end-1].low != p.toks[m.end-1].lem) {
		return false
	}
	f.extra = nil
	f.groupCol = m
	p.markShared(m)
	return true
}

// markShared consumes "shared by" or "that are shared by" right after the
// group's column ("the record company shared by the most orchestras").
func (p *parser) markShared(m *mention) {
	for k := m.end; k < len(p.toks) && k <= m.end+3; k++ {
		if p.at(k, "shared", "by") {
			p.mark(k, 2)
			return
		}
	}
}

// countedValues reads "how many <text column>" right after the cue ("how
// many languages", "how many cities") as the number of different values of
// that column, when the word names no table and the column is plural in
// the question.
func (p *parser) countedValues(i, k int, m *mention, f *frame) *measure {
	if m == nil || m.kind != mColumn || m.used || !p.at(i, "how", "many") || m.start != i+k {
		return nil
	}
	last := p.toks[m.end-1]
	if last.lem == last.low { // not a plural
		return nil
	}
	p.resolveCol(m, f.tables)
	if m.col == nil || m.col.Kind != KindText || isIDName(m.col.Name) || namesTable(m.table, m.col) {
		m.col, m.table = nil, nil
		return nil
	}
	m.used = true
	return &measure{fn: aggCount, pos: i, table: m.table, col: m.col, distinct: true}
}

// namesTable reports whether column c's words are words of its table's name
// (state of area_code_state): its rows are the things the column names, so
// counting them is counting rows, which the question does not decide.
func namesTable(t *Table, c *Column) bool {
	tw := map[string]bool{}
	for _, w := range lemmas(splitName(t.Name)) {
		tw[w] = true
	}
	for _, w := range lemmas(splitName(c.Name)) {
		if !tw[w] {
			return false
		}
	}
	return true
}

// labelKey is the primary key of t when c is the label that names t's rows
// (a name or title, not the key itself): grouping by the label is grouping
// by the rows it names.
func labelKey(t *Table, c *Column) *Column {
	if len(t.PrimaryKey) != 1 || strings.EqualFold(t.PrimaryKey[0], c.Name) {
		return nil
	}
	for _, l := range labelCols(t) {
		if l == c {
			return t.Column(t.PrimaryKey[0])
		}
	}
	return nil
}

// hasAggregate reports whether what a query shows holds an aggregate.
func hasAggregate(uses string) bool {
	for _, fn := range []string{"COUNT(", "SUM(", "AVG(", "MIN(", "MAX("} {
		if strings.Contains(uses, fn) {
			return true
		}
	}
	return false
}

// peopleCount reads "how many people" as the sum of the population column
// of the one table the question names that has one ("how many people live
// in countries that do not speak English"), when no table or column is
// named people: the people are counted by the population, not by rows.
// Also "the total number of people", and with no table named, the one
// table of the values named ("how many people live in Asia").
func (p *parser) peopleCount(i, k int) (measure, bool) {
	j := i + k
	if !(p.at(i, "how", "many") || p.at(i, "number", "of") || p.at(i, "total", "number", "of")) || j >= len(p.toks) || p.byTok[j] != nil {
		return measure{}, false
	}
	if w := p.toks[j].low; w != "people" && w != "inhabitants" && w != "residents" {
		return measure{}, false
	}
	var col *Column
	var tb *Table
	for _, t := range p.peopleTables() {
		for _, c := range t.Columns {
			if w := lemmas(splitName(c.Name)); w[len(w)-1] == "population" && c.Kind != KindText {
				if tb != nil && tb != t {
					return measure{}, false // two tables with a population
				}
				col, tb = c, t
			}
		}
	}
	if col == nil {
		return measure{}, false
	}
	p.mark(i, k+1)
	p.understood = append(p.understood, "sum of "+tb.Name+"."+col.Name)
	return measure{fn: aggSum, pos: i, table: tb, col: col}, true
}

// peopleTables are the tables the question names, or when it names none,
// the tables whose values it names (each value in one table).
func (p *parser) peopleTables() []*Table {
	var out []*Table
	for _, m := range p.ms {
		if m.kind == mTable && !containsTable(out, p.bestTable(m)) {
			out = append(out, p.bestTable(m))
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range p.ms {
		if m.kind != mValue || len(m.vals) == 0 {
			continue
		}
		t := m.vals[0].table
		for _, v := range m.vals {
			if v.table != t {
				return nil
			}
		}
		if !containsTable(out, t) {
			out = append(out, t)
		}
	}
	return out
}
