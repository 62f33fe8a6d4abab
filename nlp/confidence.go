package nlp

import (
	"fmt"
	"math"
	"strings"
)

// Confidence is the last stage: the answer starts at 1 and loses for each
// reading the translator had to choose without the question deciding it.
// The weights are calibrated on the public question sets (nlp/README.md
// has the table): answers at 0.9 or more were right at least 95% of the
// time there.

// Penalties, one per kind of doubt.
const (
	penRelativeDate = 0.25 // "last 3 years": anchored at today, not at the data
	penTwoQuestions = 0.2  // two questions in one; the SQL answers them as one
	penValueColumns = 0.25 // a value found in several columns, one picked
	penWeakLink     = 0.1  // a word linked by a synonym or by one word of a longer name
	penTableChoice  = 0.1  // a column name several tables have, one picked
	penEmptyGroups  = 0.15 // counts per group include groups without rows
	penManyJoins    = 0.05 // each join past the second
	penEmptyBetween = 0.05 // each table the question does not name on the LEFT JOIN path of those counts
	penNoReference  = 0.25 // an inferred schema's field named like a reference that leads nowhere
	penInferredKey  = 0.05 // each join along a key the schema does not declare (infer.go)
	penPluralFirst  = 0.25 // "which films have the longest length": LIMIT 1 for a plural
	penLinkRows     = 0.25 // a link table's rows listed or grouped whole ("film categories": film_category)
)

// doubt is one reason for a lower confidence.
type doubt struct {
	pen  float64
	why  string
	word string
}

// doubts lists what the interpretation chose without the question deciding
// it, given the rendered sql.
func (p *parser) doubts(sql string) []doubt {
	var out []doubt
	add := func(pen float64, word, format string, args ...any) {
		out = append(out, doubt{pen: pen, why: fmt.Sprintf(format, args...), word: word})
	}
	for i, t := range p.toks {
		if p.consumed[i] && relativeWords[t.low] && strings.Contains(sql, "'") && !p.inSchemaName(i) {
			add(penRelativeDate, t.raw, "the date range is counted back from today")
			break
		}
	}
	out = append(out, p.dateDoubts...)
	if w := p.pluralFirst(); w != "" {
		add(penPluralFirst, w, "%q asks for rows in the plural, and only the first one is shown (rows tied with it are left out)", w)
	}
	if t := p.pairsShown(); t != nil {
		add(penLinkRows, "", "the rows of %s are pairs of rows of other tables, read as the things the question names", t.Name)
	}
	for _, m := range p.monthValues {
		if p.realised(m, sql, p.uses) {
			w := joinRaw(p.toks[m.start:m.end])
			add(penRelativeDate, w, "%q is read both as a month and as a stored value", w)
		}
	}
	sentences := 0
	for i, t := range p.toks {
		if (t.low == "?" || t.low == ".") && i+1 < len(p.toks) && !p.toks[i+1].punct {
			sentences++
		}
	}
	if sentences > 0 && p.questionWords() > 1 && !p.displayTail() {
		add(penTwoQuestions, "", "the question asks more than one thing")
	}
	named := map[*Table]bool{}
	strong := map[*Table]bool{} // tables named by their own name
	for _, m := range p.ms {
		if m.kind != mTable {
			continue
		}
		if m.table != nil {
			named[m.table] = true
		}
		for _, l := range m.links {
			if l.kind == linkTable && l.score >= 0.9 {
				named[l.table] = true
				strong[l.table] = true
			}
		}
	}
	weakSeen := map[string]bool{}
	for _, m := range p.ms {
		if !p.realised(m, sql, p.uses) {
			continue
		}
		span := joinRaw(p.toks[m.start:m.end])
		switch m.kind {
		case mValue:
			cols := map[*Column]bool{}
			onNamed := map[*Column]bool{} // candidates in a table the question names
			names := false                // a candidate elsewhere is the name of its table's rows
			for _, v := range m.vals {
				if !p.refersToOther(v, m.vals) {
					cols[v.col] = true
					if named[v.table] {
						onNamed[v.col] = true
					} else if isLabel(v.table, v.col) {
						names = true
					}
				}
			}
			// A value of one column of a table the question names ("customers
			// from Brazil") is decided by the question, whatever other tables
			// hold it — unless elsewhere it names a row ("tracks by AC/DC": a
			// composer of the tracks, or the artist of their albums).
			if len(cols) > 1 && p.labelOfOneTable(m, sql) {
				cols = map[*Column]bool{nil: true} // "Anguilla": the country's name, not its local name
			}
			if len(onNamed) > 1 && !names && p.qualifiedValue(m, sql) {
				onNamed = map[*Column]bool{nil: true} // "invoices of customers who are from Brazil"
			}
			if len(cols) > 1 && p.prevColumnFor(m) == nil && (len(onNamed) != 1 || names) {
				add(penValueColumns, span, "%q is a value of %d columns", span, len(cols))
			}
		case mTable, mColumn:
			best := 0.0
			tables := map[*Table]bool{}
			for _, l := range m.links {
				if m.kind == mColumn && l.kind != linkColumn {
					continue
				}
				if m.kind == mTable && l.kind != linkTable {
					continue
				}
				best = math.Max(best, l.score)
				tables[l.table] = true
			}
			// "the InvoiceLine table … the line items": a word that resembles
			// a table the question names by its own name is that table.
			weakKey := p.toks[m.end-1].lem + "\x00" + fmt.Sprint(len(tables))
			for t := range tables {
				weakKey += "\x00" + t.Name
			}
			_, fullName := personName(m) // "Customer name": the first and last name
			if best > 0 && best < 0.9 && !(m.kind == mTable && len(tables) == 1 && strong[p.bestTable(m)]) && !weakSeen[weakKey] && !fullName {
				// One doubt per word and reading: "sales agent … the Sales
				// Agent's full name" chose once.
				weakSeen[weakKey] = true
				add(penWeakLink, span, "%q only resembles a name in the schema", span)
			}
			inNamed := 0 // the candidate tables the question names
			for t := range tables {
				if named[t] {
					inNamed++
				}
			}
			for _, l := range m.links {
				if l.col != nil && keyColumn(l.table, l.col) {
					inNamed = 0 // a key ("students": student_id) is a relation, which one is open
				}
			}
			// "the price range of tracks": of the tables with a price, the
			// question names one.
			if m.kind == mColumn && len(tables) > 1 && m.head == nil && !p.afterTable(m) && !p.fullNameOf(m) && inNamed != 1 {
				add(penTableChoice, span, "%q names a column of %d tables", span, len(tables))
			}
			if m.kind == mColumn && p.s.Dialect == Mongo && len(m.links) > 0 && m.links[0].col != nil &&
				unfollowedReference(m.links[0].table, m.links[0].col) {
				// A schema inferred from documents knows a reference only when
				// the field is named after its collection: "support_rep_id"
				// may well lead to another collection the answer does not read.
				add(penNoReference, span, "%q looks like a reference to another collection, which the documents do not say", span)
			}
		}
	}
	if strings.Contains(sql, " LEFT JOIN ") && strings.Contains(sql, "GROUP BY") && !emptyGroupsExcluded(p.query) {
		add(penEmptyGroups, "", "groups without rows are counted as 0")
		// "customers in each country" through city and address: a group
		// may be empty at each table between, which the question does not
		// name; the more of them, the less an empty group is what it asks.
		// A top-N by the count shows no empty group.
		var between []string
		for _, t := range p.s.Tables {
			if !named[t] && strings.Contains(sql, " LEFT JOIN "+p.r.q(t.Name)+" ") {
				between = append(between, t.Name)
			}
		}
		if len(between) > 0 && !strings.Contains(sql, " LIMIT ") {
			add(penEmptyBetween*float64(len(between)), "", "the groups are reached through %s, which the question does not name", strings.Join(between, ", "))
		}
	}
	if n := strings.Count(sql, " JOIN "); n > 2 {
		add(penManyJoins*float64(n-2), "", "%d tables are joined", n+1)
	}
	for _, fk := range p.inferredJoins(sql) {
		add(penInferredKey, "", "%s.%s is taken to refer to %s.%s, which the schema does not declare", fk.table, fk.Columns[0], fk.RefTable, fk.RefColumns[0])
	}
	return out
}

// qualifiedValue reports whether value mention m qualifies the table named
// just before it, with only function words between ("customers who are
// from Brazil"), that table has one column holding the value, and the
// query compares that column.
func (p *parser) qualifiedValue(m *mention, sql string) bool {
	for k := m.start - 1; k >= 0 && k >= m.start-5; k-- {
		pm := p.byTok[k]
		if pm == nil {
			if p.toks[k].punct || !p.isFunctionWord(p.toks[k]) {
				return false
			}
			continue
		}
		if pm.kind != mTable {
			return false
		}
		t := p.bestTable(pm)
		var col *Column
		for _, v := range m.vals {
			if v.table == t {
				if col != nil && col != v.col {
					return false
				}
				col = v.col
			}
		}
		return col != nil && strings.Contains(sql, p.r.q(t.Name)+"."+p.r.q(col.Name))
	}
	return false
}

// fullNameOf reports whether column mention m is "full name" right after a
// table mention of a person table ("the Sales Agent's full name").
func (p *parser) fullNameOf(m *mention) bool {
	if m.start < 2 || !p.at(m.start-1, "full") || p.toks[m.end-1].lem != "name" {
		return false
	}
	pm := p.byTok[m.start-2]
	return pm != nil && pm.kind == mTable && isPerson(p.bestTable(pm))
}

// labelOfOneTable reports whether every candidate column of value mention
// m is of one table, one of them is the column that names its rows, and
// the query compares that one: the row's name is the reading.
func (p *parser) labelOfOneTable(m *mention, sql string) bool {
	var t *Table
	var label *Column
	for _, v := range m.vals {
		if t != nil && v.table != t {
			return false
		}
		t = v.table
		if isLabel(v.table, v.col) {
			label = v.col
		}
	}
	return label != nil && strings.Contains(sql, p.r.q(t.Name)+"."+p.r.q(label.Name)+" = ")
}

// isLabel reports whether c is one of the columns that name t's rows.
func isLabel(t *Table, c *Column) bool {
	for _, l := range labelCols(t) {
		if l == c {
			return true
		}
	}
	return false
}

// relativeWords anchor a date range at today.
var relativeWords = toSet("last past this ago recent recently yesterday today current previous")

// questionWords counts the words that open a question or a request.
func (p *parser) questionWords() int {
	n := 0
	for i, t := range p.toks {
		if i > 0 && !p.toks[i-1].punct {
			continue
		}
		switch t.low {
		case "what", "which", "who", "how", "show", "list", "give", "find", "provide", "return", "count":
			n++
		}
	}
	return n
}

// prevColumnFor is the column mention right before value mention m that
// holds one of its values ("genre Rock"), or nil.
func (p *parser) prevColumnFor(m *mention) *mention {
	pm := p.prevMention(m.start-1, 1)
	if pm == nil || pm.kind != mColumn {
		return nil
	}
	for _, v := range m.vals {
		for _, l := range pm.links {
			if l.col == v.col {
				return pm
			}
		}
	}
	return nil
}

// afterTable reports whether a table mention right before m decides its
// table ("artist name").
func (p *parser) afterTable(m *mention) bool {
	if m.start == 0 {
		return false
	}
	pm := p.byTok[m.start-1]
	return pm != nil && pm.kind == mTable
}

// confidence is 1 minus the doubts' penalties, rounded to 2 decimals, and
// the doubts in words.
func confidence(ds []doubt) (float64, []string) {
	c := 1.0
	var why []string
	for _, d := range ds {
		c -= d.pen
		why = append(why, d.why)
	}
	if c < 0 {
		c = 0
	}
	return math.Round(c*100) / 100, why
}

// unfollowedReference reports that c is named like a reference (…_id,
// …Id) but is neither t's key nor one of its known references.
func unfollowedReference(t *Table, c *Column) bool {
	n := c.Name
	if refBase(n) == "" {
		return false
	}
	for _, k := range t.PrimaryKey {
		if k == n {
			return false
		}
	}
	for _, fk := range t.ForeignKeys {
		for _, fc := range fk.Columns {
			if fc == n {
				return false
			}
		}
	}
	// The key column kept beside _id (album.album_id) names its own table.
	for _, name := range refNames(refBase(n)) {
		if strings.EqualFold(name, t.Name) {
			return false
		}
	}
	return true
}

// pairsShown is the link table whose rows the answer lists, or groups by
// whole: a table of nothing but references to two or more tables (and
// housekeeping dates), such as film_category. Its rows are pairs; a
// question naming it ("the names of all film categories", "the total for
// each film category") far more often means the rows it refers to.
func (p *parser) pairsShown() *Table {
	f := p.f
	if f == nil {
		return nil
	}
	if f.groupTable != nil && f.groupCol == nil && isLinkTable(f.groupTable) {
		return f.groupTable
	}
	if f.main != nil && len(f.measures) == 0 && f.groupTable == nil && f.groupCol == nil && isLinkTable(f.main) {
		return f.main
	}
	return nil
}

// isLinkTable reports whether every column of t is a reference to another
// table or a date (a last_update stamp), with references to at least two
// tables.
func isLinkTable(t *Table) bool {
	ref := map[string]bool{}
	refs := map[string]bool{}
	for _, fk := range t.ForeignKeys {
		if strings.EqualFold(fk.RefTable, t.Name) {
			return false
		}
		refs[strings.ToLower(fk.RefTable)] = true
		for _, c := range fk.Columns {
			ref[strings.ToLower(c)] = true
		}
	}
	if len(refs) < 2 {
		return false
	}
	for _, c := range t.Columns {
		if !ref[strings.ToLower(c.Name)] && c.Kind != KindDate && c.Kind != KindTime {
			return false
		}
	}
	return true
}

// pluralFirst returns the plural word naming the rows of a superlative
// that, given no number, keeps only the first row ("which films have the
// longest length", "which countries have the most cities"): the question
// asks for every row at the top, which may be several, and LIMIT 1 shows
// one of them.
func (p *parser) pluralFirst() string {
	f := p.f
	if f == nil || !p.oneImplied || f.limit != 1 {
		return ""
	}
	target := f.main
	if f.groupTable != nil {
		target = f.groupTable
	} else if f.groupCol != nil {
		m := f.groupCol
		if t := p.toks[m.end-1]; t.low != t.lem && strings.HasSuffix(t.low, "s") {
			return t.raw
		}
		return ""
	}
	for _, m := range p.ms {
		if m.kind != mTable || p.bestTable(m) != target {
			continue
		}
		t := p.toks[m.end-1]
		if t.low != t.lem && strings.HasSuffix(t.low, "s") {
			return t.raw
		}
		return ""
	}
	return ""
}
