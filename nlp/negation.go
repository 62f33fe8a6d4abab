package nlp

import "strings"

// negationWords introduce an anti-join: "customers who never ordered",
// "artists without albums", "products with no orders".
var negationWords = toSet("never not no without")

// negationSkip are the words that may stand between a negation and what it
// negates ("have not placed any orders", "never been ordered").
var negationSkip = toSet("any a an been be have has had made placed ever single")

// negations turns "<main> never <verb|table>" into NOT EXISTS over a
// table holding a foreign key to the main table. The negation, the skipped
// words and the negated table's words are consumed; a negation that finds
// no such table is left unaccounted, so the question is declined.
func (p *parser) negations(f *frame) {
	for i, t := range p.toks {
		if !negationWords[t.low] || p.consumed[i] {
			continue
		}
		j := i + 1
		for j < len(p.toks) && negationSkip[p.toks[j].low] {
			j++
		}
		if j >= len(p.toks) {
			continue
		}
		child, m := p.negatedTable(j)
		if child == nil || child == f.main {
			continue
		}
		fk := keyTo(child, f.main)
		if fk == nil || len(f.main.PrimaryKey) != 1 {
			continue
		}
		sub := &selectQ{from: child.Name, items: []selItem{{e: litExpr{1}}},
			where: []sqlExpr{binExpr{colExpr{child.Name, fk.Columns[0]}, "=", colExpr{f.main.Name, fk.RefColumns[0]}}}}
		f.filters = append(f.filters, filter{e: existsExpr{not: true, q: sub}, desc: "no " + child.Name + " row refers to it", tbl: f.main})
		p.mark(i, j-i+1)
		if m != nil {
			m.used = true
			p.mark(m.start, m.end-m.start)
			// The negated table is not joined to the answer.
			ts := f.tables[:0]
			for _, x := range f.tables {
				if x != child || p.namedElsewhere(child, m) {
					ts = append(ts, x)
				}
			}
			f.tables = ts
		}
		p.understood = append(p.understood, f.main.Name+" without "+child.Name)
	}
}

// negatedTable is the table token j names, as a table mention or as a verb
// whose stem is a table's name ("ordered" -> orders).
func (p *parser) negatedTable(j int) (*Table, *mention) {
	if m := p.byTok[j]; m != nil && m.kind == mTable {
		return p.bestTable(m), m
	}
	w := p.toks[j].low
	for _, stem := range []string{strings.TrimSuffix(w, "ed"), strings.TrimSuffix(w, "d")} {
		if stem == w || len(stem) < 3 {
			continue
		}
		for _, l := range p.lx.phrases[lemma(stem)] {
			if l.kind == linkTable {
				return l.table, nil
			}
		}
	}
	return nil, nil
}

// namedElsewhere reports whether t has a table mention other than m.
func (p *parser) namedElsewhere(t *Table, m *mention) bool {
	for _, x := range p.ms {
		if x != m && x.kind == mTable && p.bestTable(x) == t {
			return true
		}
	}
	return false
}

// keyTo is child's single-column foreign key to parent, or nil.
func keyTo(child, parent *Table) *ForeignKey {
	for i, fk := range child.ForeignKeys {
		if strings.EqualFold(fk.RefTable, parent.Name) && len(fk.Columns) == 1 {
			return &child.ForeignKeys[i]
		}
	}
	return nil
}
