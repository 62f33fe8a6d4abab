package nlp

import (
	"fmt"
	"sort"
	"strings"
)

// The interpret stage: the intent frame records what the question asks
// (the main table, measures, groups, filters, ordering, limit) and which
// words each part consumed (parser.mark).

type aggKind string

const (
	aggNone  aggKind = ""
	aggCount aggKind = "COUNT"
	aggSum   aggKind = "SUM"
	aggAvg   aggKind = "AVG"
	aggMin   aggKind = "MIN"
	aggMax   aggKind = "MAX"
)

type measure struct {
	pos    int // token index of the cue
	fn     aggKind
	table  *Table
	col    *Column
	expr   sqlExpr // overrides col (price * quantity, unit conversion)
	label  string
	counts *Table // COUNT of this table's rows
	also   *Table // a second table expr reads (price on the product, quantity on the line)
	// distinct counts the distinct values of col (COUNT(DISTINCT col)).
	distinct bool
}

type filter struct {
	e    sqlExpr
	desc string
	tbl  *Table
	// each: the condition must hold for some row of tbl on its own (one of
	// several values that must all be present: "both cats and dogs").
	each bool
}

type frame struct {
	main     *Table
	measures []measure
	percent  bool // the share of main's rows that meet the filters

	groupTable *Table
	groupCol   *mention
	groupTime  string // YEAR, MONTH, QUARTER, DAY
	groupTimeC *Column

	filters []filter
	having  []sqlExpr
	havDesc string

	distinct []*mention
	extra    []*mention // columns to show besides main.*
	tables   []*Table   // tables the question names

	orderBy    sqlExpr
	orderDesc  bool
	orderDesc2 string
	rankAgg    bool // order by the (first) measure
	limit      int

	selfParent *mention // main's key to itself, whose parent rows are shown (hierarchy.go)
	hideIDs    bool     // "no IDs": a listing leaves out the keys (listing.go)

	nestedAvg *Table   // average number of main rows per nestedAvg
	fkNamed   []*Table // tables named through a foreign-key column
	perIsPer  bool
}

func (p *parser) frame() (*frame, error) {
	f := &frame{}
	p.cueMark()
	if t := p.percentOf(); t != nil {
		f.main, f.percent = t, true
	}
	// Group targets: "by X", "per X", "for each X", "each X", "every X".
	groupStart := -1
	aggCue := p.hasAggCue()
	for i := range p.toks {
		k := 1 // "order the results by X", "sort them by X"
		for k < 3 && i+k < len(p.toks) && (p.at(i+k, "the") || p.at(i+k, "results") || p.at(i+k, "them") || p.at(i+k, "rows") || p.at(i+k, "all")) {
			k++
		}
		if (p.at(i, "sorted") || p.at(i, "ordered") || p.at(i, "order") || p.at(i, "sort") || p.at(i, "rank") || p.at(i, "ranked")) && p.at(i+k, "by") ||
			p.at(i, "order", "of") {
			if p.at(i, "order", "of") {
				k = 1
			}
			if m := p.nextMention(i+k+1, 3); m != nil && p.orderedByRows(i, m) {
				p.mark(i, k+1) // who ordered: the table's mention must still be used (sales.go)
			} else if m != nil && (m.kind == mColumn || m.kind == mTable) {
				p.mark(i, k+1)
				f.orderBy = p.colOrLabel(m)
				m.used = true
				if m.kind == mColumn {
					p.resolveCol(m, nil)
					f.extra = append(f.extra, m)
				}
			}
			continue
		}
		if !(p.at(i, "by") || p.at(i, "per") || p.at(i, "each") || p.at(i, "every")) {
			continue
		}
		if i > 0 && p.at(i-1, "each") {
			continue
		}
		if p.at(i, "by") && i > 0 && (relationVerbs[p.toks[i-1].low] || strings.HasSuffix(p.toks[i-1].low, "ed")) {
			continue // "pets owned by students", "cartoons directed by": who, not per what
		}
		if !aggCue {
			continue
		}
		j := i + 1
		if p.at(j, "each") || p.at(j, "every") {
			j++
		}
		for k := 0; k < 3 && (p.at(j, "of") || p.at(j, "those") || p.at(j, "these") || p.at(j, "the")); k++ {
			j++
		}
		if p.at(i, "by") && (p.at(j, "number") || p.at(j, "count") || p.at(j, "total") || p.at(j, "sum") || p.at(j, "average") || p.measureWord(j)) {
			p.mark(i, 1)
			continue // "top 5 countries by number of customers": what to rank by
		}
		if tu := p.timeUnit(j); tu != "" && !p.nextIsNumber(j) {
			f.groupTime = tu
			p.mark(i, j-i+1)
			groupStart = i
			continue
		}
		m := p.nextMention(j, 2)
		if m == nil || m.kind == mValue || m.used {
			continue
		}
		if p.at(i, "by") && f.groupTable == nil && f.groupCol == nil && p.isRankMeasure(m) {
			p.mark(i, 1)
			continue // "top 5 customers by total purchase amount": a measure, not a group
		}
		p.mark(i, j-i)
		m.used = true
		groupStart = i
		if m.kind == mTable {
			f.groupTable = p.bestTable(m)
		} else {
			f.groupCol = m
		}
		if p.at(i, "per") {
			f.perIsPer = true
		}
	}
	for i := range p.toks {
		switch {
		case p.at(i, "monthly"):
			f.groupTime = "MONTH"
			p.mark(i, 1)
		case p.at(i, "yearly") || p.at(i, "annual") || p.at(i, "annually"):
			f.groupTime = "YEAR"
			p.mark(i, 1)
		}
	}
	_ = groupStart

	// Aggregates.
	if err := p.aggregates(f); err != nil {
		return nil, err
	}
	p.anaphoricEach(f)
	// Tables the question names, in order; a foreign-key column names the
	// table it references ("support representative" -> employee).
	for _, m := range p.ms {
		if m.kind == mTable {
			t := p.bestTable(m)
			if !containsTable(f.tables, t) {
				f.tables = append(f.tables, t)
			}
		}
	}
	for _, m := range p.ms {
		if m.kind != mColumn || m.used {
			continue
		}
		p.resolveCol(m, f.tables)
		if m.col == nil {
			continue
		}
		if ref := p.fkTarget(m.table, m.col); ref != nil {
			if ref == m.table {
				if p.selfRef(f, m) { // a safe reading of a hierarchy (hierarchy.go)
					continue
				}
				return nil, &Unanswerable{Reason: fmt.Sprintf("%s.%s refers to its own table; questions about such hierarchies are not supported", m.table.Name, m.col.Name),
					Tables: tableNames(p.s)}
			}
			if !containsTable(f.tables, m.table) {
				m.col, m.table = nil, nil
				continue
			}
			m.used = true
			if !containsTable(f.tables, ref) {
				f.tables = append(f.tables, ref)
				f.fkNamed = append(f.fkNamed, ref)
			}
		} else if !p.unique(m) && !containsTable(f.tables, m.table) {
			m.col, m.table = nil, nil
		}
	}
	// "all invoices with the # of invoice line items": count the children
	// of each listed parent.
	if len(f.measures) == 1 && f.measures[0].counts != nil && f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
		for _, m := range p.ms {
			if m.kind != mTable || m.used || m.start >= f.measures[0].pos {
				continue
			}
			t := p.bestTable(m)
			if t != f.measures[0].counts && p.parentOf(t, f.measures[0].counts) {
				f.groupTable = t
				m.used = true
				if f.main == f.measures[0].counts {
					f.main = nil
				}
			}
			break
		}
	}
	if len(f.measures) == 0 && (f.groupTable != nil || f.groupCol != nil || f.groupTime != "") {
		for i := range p.toks {
			if p.measureWord(i) {
				ms, err := p.moneyMeasure(f, aggSum)
				if err != nil {
					return nil, err
				}
				f.measures = append(f.measures, ms)
				break
			}
		}
	}

	// Main table.
	if f.main == nil {
		f.main = p.eachRow(f) // "… with each invoice line item" (listing.go)
	}
	if f.main == nil {
		for _, m := range p.ms {
			if m.kind == mTable && !m.used {
				f.main = p.bestTable(m)
				break
			}
			if m.head != nil && !m.used {
				f.main = m.head
				break
			}
		}
	}
	if f.main == nil && len(f.measures) > 0 && f.measures[0].counts != nil {
		f.main = f.measures[0].counts
	}
	if f.main == nil && f.groupTable != nil && len(f.measures) == 0 {
		f.main = f.groupTable
		f.groupTable = nil
	}
	if f.main == nil {
		for _, m := range p.ms {
			if m.kind == mColumn {
				p.resolveCol(m, f.tables)
				if m.table != nil {
					f.main = m.table
					break
				}
			}
		}
	}
	if f.main == nil {
		for _, ms := range f.measures {
			if ms.table != nil {
				f.main = ms.table
				break
			}
		}
	}
	if f.main == nil {
		for _, m := range p.ms {
			if m.kind == mValue && len(m.vals) > 0 {
				f.main = m.vals[0].table
				break
			}
		}
	}
	if f.main == nil {
		return nil, &Unanswerable{Reason: "no table or column of the schema is named in the question",
			Unmapped: p.contentWords(), Tables: tableNames(p.s)}
	}
	if t := p.pairTable(f); t != f.main { // "each owner's first name and their dog's name" (pairs.go)
		f.tables = append(f.tables, f.main)
		p.markPairWords(f.main)
		f.main = t
	}
	p.understood = append(p.understood, "rows of "+f.main.Name)
	if !containsTable(f.tables, f.main) {
		f.tables = append([]*Table{f.main}, f.tables...)
	}
	if err := p.filters(f); err != nil {
		return nil, err
	}
	p.ordering(f)
	// Columns named for display.
	for _, m := range p.ms {
		if m.kind == mColumn && !m.used {
			if !p.unique(m) && !p.linksAny(m, f.tables) {
				t := p.relatedColumn(m, f.main) // "the model of the car" (relcol.go)
				if t == nil {
					continue
				}
				f.tables = append(f.tables, t)
			}
			p.resolveCol(m, f.tables, f.main)
			if m.col != nil {
				m.used = true
				f.extra = append(f.extra, m)
			}
		}
	}
	for i, t := range p.toks {
		if (p.at(i, "unique") || p.at(i, "distinct") || p.at(i, "different")) && !p.consumed[i] {
			if m := p.nextMention(i+1, 3); m != nil && m.kind == mTable && len(f.measures) == 0 && p.bestTable(m) == f.main && !p.tableColumnPair(m) {
				p.mark(i, 1) // "all the different media types": a table's rows differ
			}
			m := p.nextMention(i+1, 3)
			if m != nil && p.tableColumnPair(m) {
				m = p.byTok[m.end] // "distinct car models": the column after its table (relcol.go)
			}
			if m != nil && m.kind == mColumn {
				p.resolveCol(m, f.tables, f.main)
				switch {
				case m.col == nil:
				case len(f.measures) == 0:
					f.distinct = append(f.distinct, m)
					p.mark(i, 1)
				case f.groupCol != nil && (f.groupCol == m || f.groupCol.col == m.col || sharesColumn(f.groupCol, m.col)):
					// "different hometowns … from each hometown"
					p.mark(i, 1)
					m.used = true
				case f.groupCol == nil && f.groupTable == nil && f.groupTime == "":
					// "the maximum accelerate for different numbers of
					// cylinders", "the different record companies and the
					// number of orchestras": one row per value.
					f.groupCol = m
					m.used = true
					p.mark(i, 1)
				}
			}
		}
		_ = t
	}
	p.orderByListed(f)
	p.headColumnDistinct(f)
	return f, nil
}

// cueMark marks tokens that are cue or unit words as understood.
func (p *parser) cueMark() {
	for i, t := range p.toks {
		if cueWords[t.lem] || cueWords[t.low] || t.low == "#" {
			p.cue[i] = true
		}
	}
}

// fkTarget is the table a single-column foreign key on c references.
func (p *parser) fkTarget(t *Table, c *Column) *Table {
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && strings.EqualFold(fk.Columns[0], c.Name) {
			return p.s.Table(fk.RefTable)
		}
	}
	return nil
}

// linksAny reports whether a mention can stand for a column of one of ts.
func (p *parser) linksAny(m *mention, ts []*Table) bool {
	for _, l := range m.links {
		if containsTable(ts, l.table) {
			return true
		}
	}
	return false
}

// unique reports whether all of a mention's links are in one table.
func (p *parser) unique(m *mention) bool {
	var t *Table
	for _, l := range m.links {
		if t != nil && l.table != t {
			return false
		}
		t = l.table
	}
	return true
}

func containsTable(ts []*Table, t *Table) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func (p *parser) contentWords() []string {
	var out []string
	for i, t := range p.toks {
		if p.consumed[i] || t.punct || t.isNum || stopWords[t.low] || fillerWords[t.lem] {
			continue
		}
		out = append(out, t.raw)
	}
	return out
}

// nextMention returns the mention starting within max tokens after i,
// skipping stop words.
func (p *parser) nextMention(i, max int) *mention {
	for k := i; k < len(p.toks) && k < i+max+2; k++ {
		if m := p.byTok[k]; m != nil {
			return m
		}
		t := p.toks[k]
		if t.punct || t.isNum {
			return nil
		}
		if !stopWords[t.low] && !fillerWords[t.lem] && !measureWords[t.lem] && t.lem != "total" && t.lem != "number" {
			if k-i >= max {
				return nil
			}
		}
	}
	return nil
}

func (p *parser) prevMention(i, max int) *mention {
	for k := i; k >= 0 && k > i-max-2; k-- {
		if m := p.byTok[k]; m != nil {
			return m
		}
		if p.toks[k].punct {
			return nil
		}
	}
	return nil
}

func (p *parser) nextIsNumber(i int) bool {
	return i+1 < len(p.toks) && p.toks[i+1].isNum
}

func (p *parser) timeUnit(i int) string {
	switch {
	case p.at(i, "year"):
		return "YEAR"
	case p.at(i, "month"):
		return "MONTH"
	case p.at(i, "quarter"):
		return "QUARTER"
	case p.at(i, "day"):
		return "DAY"
	}
	return ""
}

func (p *parser) bestTable(m *mention) *Table {
	var best *Table
	bs := -1.0
	for _, l := range m.links {
		if l.kind == linkTable && l.score > bs {
			best, bs = l.table, l.score
		}
	}
	if best == nil && len(m.links) > 0 {
		best = m.links[0].table
	}
	return best
}

// resolveCol picks the column a mention stands for: a link in a preferred
// table first (the main table wins), then an exact name over a partial
// one, then the table nearest to a named one.
func (p *parser) resolveCol(m *mention, tables []*Table, prefer ...*Table) {
	if m.col != nil || m.kind != mColumn {
		return
	}
	// A column name right after a table mention belongs to that table
	// ("artist name", "invoice total").
	if m.start > 0 {
		if pm := p.byTok[m.start-1]; pm != nil && pm.kind == mTable {
			t := p.bestTable(pm)
			for _, l := range m.links {
				if l.kind == linkColumn && l.table == t {
					m.table, m.col = l.table, l.col
					return
				}
			}
		}
	}
	if t, c := p.ofTable(m); t != nil { // "the name of their dogs" (oftable.go)
		m.table, m.col = t, c
		return
	}
	best, bs := link{}, -1.0
	for _, l := range m.links {
		if l.kind != linkColumn {
			continue
		}
		s := l.score
		for _, t := range prefer {
			if l.table == t {
				s += 0.6
			}
		}
		if containsTable(tables, l.table) {
			s += 0.5
		}
		if p.contextTables()[l.table] {
			s += 0.3
		}
		if s > bs {
			best, bs = l, s
		}
	}
	if best.col != nil {
		m.table, m.col = best.table, best.col
	}
}

// otherContext reports whether a table or column mention of the question
// may stand for a table other than t.
func (p *parser) otherContext(t *Table) bool {
	for _, m := range p.ms {
		if m.kind == mValue {
			continue
		}
		for _, l := range m.links {
			if (m.kind == mTable) == (l.kind == linkTable) && l.table != t {
				return true
			}
		}
	}
	return false
}

// contextTables are the tables the question names without ambiguity: its
// table mentions, column mentions of one table, and values found in one
// table. An ambiguous column ("population" of a city or of a country)
// prefers them.
func (p *parser) contextTables() map[*Table]bool {
	if p.ctx != nil {
		return p.ctx
	}
	p.ctx = map[*Table]bool{}
	for _, m := range p.ms {
		switch m.kind {
		case mTable:
			p.ctx[p.bestTable(m)] = true
		case mColumn:
			if p.unique(m) && len(m.links) > 0 {
				p.ctx[m.links[0].table] = true
			}
		case mValue:
			if len(m.vals) > 0 {
				one := true
				for _, v := range m.vals {
					one = one && v.table == m.vals[0].table
				}
				if one {
					p.ctx[m.vals[0].table] = true
				}
			}
		}
	}
	return p.ctx
}

func (p *parser) colOrLabel(m *mention) sqlExpr {
	if m.kind == mTable {
		t := p.bestTable(m)
		if l := labelCols(t); len(l) > 0 {
			return colExpr{t.Name, l[0].Name}
		}
		return nil
	}
	p.resolveCol(m, nil)
	if m.col == nil {
		return nil
	}
	return colExpr{m.table.Name, m.col.Name}
}

// isRankMeasure reports whether the mention after "by" is what to rank
// by (a numeric column or money) rather than a grouping key.
func (p *parser) isRankMeasure(m *mention) bool {
	hasTop := false
	for i := range p.toks {
		if p.at(i, "top") || p.at(i, "most") || p.at(i, "highest") || p.at(i, "best") || p.at(i, "largest") {
			hasTop = true
		}
	}
	if !hasTop {
		return false
	}
	if m.kind == mColumn {
		for _, l := range m.links {
			if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) {
				return true
			}
		}
	}
	return false
}

func isIDName(n string) bool {
	w := splitName(n)
	return len(w) > 0 && w[len(w)-1] == "id"
}

// labelCols are the columns that name a row: a person's first and last
// name, else name/title-like columns, else the primary key.
func labelCols(t *Table) []*Column {
	var first, last *Column
	var named []*Column
	for _, c := range t.Columns {
		w := lemmas(splitName(c.Name))
		k := strings.Join(w, " ")
		switch {
		case k == "first name" || k == "firstname" || k == "given name":
			first = c
		case k == "last name" || k == "lastname" || k == "surname" || k == "family name":
			last = c
		case c.Kind == KindText && (k == "name" || k == "title" || strings.HasSuffix(k, " name") || strings.HasSuffix(k, " title") ||
			k == strings.Join(lemmas(splitName(t.Name)), " ")) && !strings.Contains(k, "user"): // a course's course
			named = append(named, c)
		}
	}
	if first != nil && last != nil {
		return []*Column{first, last}
	}
	if len(named) > 0 {
		// Prefer the column named exactly name/title, or after the table.
		sort.SliceStable(named, func(i, j int) bool { return labelRank(t, named[i]) < labelRank(t, named[j]) })
		return named[:1]
	}
	var pk []*Column
	for _, k := range t.PrimaryKey {
		if c := t.Column(k); c != nil {
			pk = append(pk, c)
		}
	}
	return pk
}

func labelRank(t *Table, c *Column) int {
	k := strings.Join(lemmas(splitName(c.Name)), " ")
	switch {
	case k == "name":
		return 0
	case k == strings.Join(lemmas(splitName(t.Name)), " ")+" name":
		return 1
	case k == "title":
		return 2
	}
	return 3
}

// isPerson reports whether the table's label is a first and last name (not
// a primary key of two columns, which labels a row that names none).
func isPerson(t *Table) bool {
	l := labelCols(t)
	return len(l) == 2 && l[0].Kind == KindText && l[1].Kind == KindText && !keyColumn(t, l[0]) && !keyColumn(t, l[1])
}

// --- aggregates ---

// sharesColumn reports whether mention m may stand for column c.
func sharesColumn(m *mention, c *Column) bool {
	for _, l := range m.links {
		if l.col != nil && l.col == c {
			return true
		}
	}
	return false
}
