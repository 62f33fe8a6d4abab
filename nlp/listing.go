package nlp

import "strings"

// Listings per row: "the purchased track name and artist name with each
// invoice line item" lists the rows of the table after "with each" (or
// "for each", "of each"), with the columns named before it taken from the
// tables each of those rows refers to. Only a question without any
// aggregate reads it so; build.go then shows the named columns of the
// parents and leaves out any of a table with many rows per listed row.

// eachRow is the table of "with|for|of each <table>" that ends the
// question's listing, or nil.
func (p *parser) eachRow(f *frame) *Table {
	if p.hasAggCue() || len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return nil
	}
	for i := 1; i+1 < len(p.toks); i++ {
		if !(p.at(i, "each") || p.at(i, "every")) || p.consumed[i] || !(p.at(i-1, "with") || p.at(i-1, "for") || p.at(i-1, "of")) {
			continue
		}
		m := p.tableAt(i + 1)
		if m == nil || m.used {
			continue
		}
		// The rest of the sentence names nothing else.
		t := p.bestTable(m)
		k := m.end
		for k < len(p.toks) && !p.toks[k].punct {
			if x := p.byTok[k]; x != nil && x.kind == mTable && p.bestTable(x) == t {
				k = x.end // "invoice line item": the same table again
				continue
			}
			if p.byTok[k] != nil || !p.isFunctionWord(p.toks[k]) {
				return nil
			}
			k++
		}
		p.mark(i, 1)
		return t
	}
	return nil
}

// hideIDs reads "no IDs", "without (the) IDs", "but no ids" in a listing:
// the listed table's keys (its primary key and the foreign keys, and any
// column named as an id) are left out of its columns.
func (p *parser) hideIDs(f *frame) {
	if len(f.measures) > 0 || f.groupTable != nil || f.groupCol != nil || f.groupTime != "" {
		return
	}
	for i := 0; i+1 < len(p.toks); i++ {
		if !(p.at(i, "no") || p.at(i, "without")) || p.consumed[i] {
			continue
		}
		k := i + 1
		if p.at(k, "the") || p.at(k, "any") {
			k++
		}
		if k >= len(p.toks) || (p.toks[k].low != "ids" && p.toks[k].low != "id") || p.byTok[k] != nil && p.byTok[k].kind != mColumn {
			continue
		}
		f.hideIDs = true
		if m := p.byTok[k]; m != nil {
			m.used = true
			p.mark(m.start, m.end-m.start)
		}
		p.mark(i, k-i+1)
		return
	}
}

// keyColumn reports whether c is one of t's keys or named as an id.
func keyColumn(t *Table, c *Column) bool {
	if isIDName(c.Name) {
		return true
	}
	for _, k := range t.PrimaryKey {
		if k == c.Name {
			return true
		}
	}
	for _, fk := range t.ForeignKeys {
		for _, k := range fk.Columns {
			if k == c.Name {
				return true
			}
		}
	}
	return false
}

// listedColumns are the items that list t's rows: every column, or, when
// the question asked for no ids, every column but the keys.
func listedColumns(f *frame, t *Table) []selItem {
	if !f.hideIDs {
		return []selItem{{e: starExpr{t.Name}}}
	}
	var out []selItem
	for _, c := range t.Columns {
		if !keyColumn(t, c) {
			out = append(out, selItem{e: colExpr{t.Name, c.Name}})
		}
	}
	if len(out) == 0 {
		return []selItem{{e: starExpr{t.Name}}}
	}
	return out
}

// personName is the full name a column mention stands for when it links to
// exactly a person table's first and last name ("Customer name").
func personName(m *mention) (sqlExpr, bool) {
	if m.table == nil || !isPerson(m.table) || len(m.links) != 2 {
		return nil, false
	}
	l := labelCols(m.table)
	for _, x := range m.links {
		if x.table != m.table || (x.col != l[0] && x.col != l[1]) {
			return nil, false
		}
	}
	return concatExpr{[]sqlExpr{colExpr{m.table.Name, l[0].Name}, colExpr{m.table.Name, l[1].Name}}}, true
}

// bothColumns reads "both the name and the id" as a plain projection: the
// "both" of two columns asks to show the two, it restricts nothing.
func (p *parser) bothColumns() {
	for i := 0; i+3 < len(p.toks); i++ {
		if !p.at(i, "both") || p.consumed[i] {
			continue
		}
		k := i + 1
		if p.at(k, "the") || p.at(k, "its") || p.at(k, "their") {
			k++
		}
		a := p.byTok[k]
		if a == nil || a.kind != mColumn || a.start != k || !p.at(a.end, "and") {
			continue
		}
		k = a.end + 1
		if p.at(k, "the") || p.at(k, "its") || p.at(k, "their") {
			k++
		}
		if b := p.byTok[k]; b != nil && b.kind == mColumn && b.start == k {
			p.mark(i, 1)
		}
	}
}

// modeColumnBefore is the column mention a trailing "most common" qualifies
// ("the nationality that is most common", "the hometown which is the least
// common"), or nil.
func (p *parser) modeColumnBefore(i int) *mention {
	k := i - 1
	for n := 0; n < 3 && k >= 0 && (p.at(k, "is") || p.at(k, "are") || p.at(k, "that") || p.at(k, "which") || p.at(k, "the")); n++ {
		k--
	}
	if k < 0 || k == i-1 {
		return nil
	}
	if m := p.byTok[k]; m != nil && m.kind == mColumn && m.end == k+1 {
		return m
	}
	return nil
}

// valuesColumn reports whether column mention m names the column of the
// value mention right before or after it, and the query uses that value
// ("customers who ordered products in the books category": the category
// is compared inside the EXISTS).
func (p *parser) valuesColumn(m *mention, sql, uses string) bool {
	if m.kind != mColumn {
		return false
	}
	for _, k := range []int{m.start - 1, m.end} {
		if k < 0 || k >= len(p.toks) {
			continue
		}
		v := p.byTok[k]
		if v == nil || v.kind != mValue || !p.realised(v, sql, uses) {
			continue
		}
		for _, x := range v.vals {
			for _, l := range m.links {
				if l.col != nil && l.col == x.col && strings.Contains(sql, p.r.q(x.table.Name)+"."+p.r.q(x.col.Name)+" = "+p.r.str(x.value)) {
					return true
				}
			}
		}
	}
	return false
}

// wordOfMainTable reports whether token t, unlinked, is the head word of
// the one table the query lists or counts (FROM, outside joins): "cars"
// of cars_data in "how many cars have more than 4 cylinders". Only the
// table name's first word as written there, and only when no other table
// of the schema begins with that word (car_names, car_makers: "car" is no
// one table).
func (p *parser) wordOfMainTable(t token, uses string) bool {
	var hit *Table
	for _, tb := range p.s.Tables {
		w := splitName(tb.Name)
		if len(w) > 1 && strings.ToLower(w[0]) == t.low {
			if hit != nil {
				return false
			}
			hit = tb
		}
	}
	return hit != nil && strings.Contains(uses, p.r.q(hit.Name)+".FROM ")
}
