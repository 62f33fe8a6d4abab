package nlp

import (
	"fmt"
	"strings"
)

// Flag columns: a yes/no column named after an adjective (IsOfficial,
// is_male, abandoned_yn). The adjective in the question ("official
// languages", "dogs that were abandoned") is the condition column = its
// yes value. The yes value must be one the column holds (T, Y, Yes, true,
// 1) and the other values must be the matching no; otherwise the word is
// left to the other constructs.

// flagColumn is a flag column and its yes value.
type flagColumn struct {
	table *Table
	col   *Column
	adj   string // the adjective, a lemma
	yes   sqlExpr
}

// flagAdjective returns the adjective a flag column is named after.
func flagAdjective(c *Column) string {
	w := splitName(c.Name)
	switch {
	case len(w) == 2 && w[0] == "is":
		return w[1]
	case len(w) == 2 && (w[1] == "yn" || w[1] == "flag"):
		return w[0]
	case len(w) == 1 && strings.HasPrefix(w[0], "is") && len(w[0]) >= 6:
		return w[0][2:] // a folded isofficial
	}
	return ""
}

// flagYes is the yes value of a flag column: one of its stored values, the
// others all no values; an integer flag is 1.
func flagYes(c *Column) (sqlExpr, bool) {
	if c.Kind == KindInt {
		return litExpr{int64(1)}, true
	}
	if c.Kind != KindText || !c.Indexed || len(c.Values) == 0 || len(c.Values) > 2 {
		return nil, false
	}
	var yes sqlExpr
	for _, v := range c.Values {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "t", "y", "yes", "true", "1":
			yes = litExpr{v}
		case "f", "n", "no", "false", "0":
		default:
			return nil, false
		}
	}
	return yes, yes != nil
}

func (p *parser) flagColumns() []flagColumn {
	var out []flagColumn
	for _, t := range p.s.Tables {
		for _, c := range t.Columns {
			adj := flagAdjective(c)
			if adj == "" {
				continue
			}
			if yes, ok := flagYes(c); ok {
				out = append(out, flagColumn{table: t, col: c, adj: lemma(adj), yes: yes})
			}
		}
	}
	return out
}

// flags adds column = yes for each flag adjective of the question that
// qualifies a mention of the flag's table right after it ("official
// languages": countrylanguage.language) or follows "were"/"been"/"is"
// after a mention of it ("dogs that were abandoned").
func (p *parser) flags(f *frame) {
	fcs := p.flagColumns()
	if len(fcs) == 0 {
		return
	}
	for i, t := range p.toks {
		if p.consumed[i] || t.quoted || t.isNum {
			continue
		}
		for _, fc := range fcs {
			if t.lem != fc.adj && t.low != fc.adj {
				continue
			}
			if m := p.byTok[i]; m != nil && m.end > i+1 {
				continue // part of a longer name
			}
			ok := false
			if nm := p.mentionAt(i + 1); nm != nil && p.mentionOf(nm, fc.table) {
				ok = true // "official languages"
			}
			if i >= 2 && (p.at(i-1, "were") || p.at(i-1, "been") || p.at(i-1, "was") || p.at(i-1, "are") || p.at(i-1, "is")) {
				if pm := p.prevMention(i-2, 3); pm != nil && p.mentionOf(pm, fc.table) {
					ok = true // "dogs that were abandoned"
				}
			}
			if !ok {
				continue
			}
			if m := p.byTok[i]; m != nil {
				p.kill(i, 1)
			}
			p.mark(i, 1)
			if nm := p.mentionAt(i + 1); nm != nil && nm.kind == mColumn && p.unique(nm) && (f.main == fc.table || p.valueNamed(nm)) {
				// "how many official languages": rows of the flag's table,
				// each one language; "English is the official language":
				// the column of a value the question names.
				nm.used = true
				p.mark(nm.start, nm.end-nm.start)
			}
			cond := binExpr{colExpr{fc.table.Name, fc.col.Name}, "=", fc.yes}
			desc := fmt.Sprintf("%s.%s is %s", fc.table.Name, fc.col.Name, fc.adj)
			// "English and French are official languages": the flag holds
			// on the very rows the other conditions on its table pick, so
			// it joins each of them (one EXISTS each, never one apart).
			joined := false
			for k := range f.filters {
				if f.filters[k].tbl == fc.table {
					f.filters[k].e = binExpr{f.filters[k].e, "AND", cond}
					f.filters[k].desc += " and " + desc
					joined = true
				}
			}
			if !joined {
				f.filters = append(f.filters, filter{e: cond, desc: desc, tbl: fc.table})
			}
			if !containsTable(f.tables, fc.table) {
				f.tables = append(f.tables, fc.table)
			}
			p.understood = append(p.understood, fc.table.Name+" "+fc.adj)
			break
		}
	}
}

// mentionOf reports whether mention m names table t or one of its columns.
func (p *parser) mentionOf(m *mention, t *Table) bool {
	for _, l := range m.links {
		if l.table == t {
			return true
		}
	}
	return false
}

// valueNamed reports whether the question names a value of the column that
// column mention m stands for ("English … official language").
func (p *parser) valueNamed(m *mention) bool {
	for _, x := range p.ms {
		if x.kind != mValue {
			continue
		}
		for _, v := range x.vals {
			for _, l := range m.links {
				if l.col != nil && v.col == l.col {
					return true
				}
			}
		}
	}
	return false
}

// markEither consumes the "either" before the first of two values joined
// by "or" ("either English or Dutch"), m being the second.
func (p *parser) markEither(m *mention) {
	or := m.start - 1
	for or >= 0 && or >= m.start-4 && !p.at(or, "or") && (p.isFunctionWord(p.toks[or]) || p.byTok[or] != nil && p.byTok[or].kind == mColumn) {
		or-- // "… or the state of Wisconsin"
	}
	if !p.at(or, "or") {
		return
	}
	pm := p.prevMention(or-1, 1)
	if pm == nil || pm.kind != mValue {
		return
	}
	// "either English or Dutch", "either the state of Hawaii or …": the
	// words between "either" and the value name its column.
	for k := pm.start - 1; k >= 0 && k >= pm.start-4; k-- {
		if p.at(k, "either") {
			p.mark(k, 1)
			return
		}
		if x := p.byTok[k]; !(p.isFunctionWord(p.toks[k]) || x != nil && x.kind == mColumn) {
			return
		}
	}
}

// negatedFlag reads "<value> is not the <flag> <column>" ("countries where
// English is not the official language") as no row of the flag's table
// with both: NOT EXISTS over the rows that refer to the answer's row, when
// that table has many rows per answer row. Otherwise the negation is left
// to the other constructs (or declined).
func (p *parser) negatedFlag(f *frame) {
	for i := range p.toks {
		if !p.at(i, "not") || p.consumed[i] || i < 2 || !(p.at(i-1, "is") || p.at(i-1, "are")) {
			continue
		}
		vm := p.byTok[i-2]
		if vm == nil || vm.kind != mValue {
			continue
		}
		j := i + 1
		for p.at(j, "the") || p.at(j, "an") || p.at(j, "a") {
			j++
		}
		if j >= len(p.toks) || !p.consumed[j] || p.byTok[j] != nil {
			continue // the flag adjective, consumed by flags
		}
		for k, fl := range f.filters {
			b, ok := fl.e.(binExpr)
			if !ok || b.op != "AND" {
				continue
			}
			in, ok := b.l.(inExpr)
			ce, _ := in.e.(colExpr)
			if !ok || in.not || !p.valueOf(vm, ce) || fl.tbl == f.main || p.noFanOut(fl.tbl, f.main) {
				continue
			}
			sub, path := p.antiJoin(f.main, fl.tbl)
			if sub == nil {
				continue
			}
			sub.where = append(sub.where, fl.e)
			f.filters[k] = filter{e: existsExpr{not: true, q: sub}, desc: "no " + fl.tbl.Name + " row with " + fl.desc, tbl: f.main}
			p.dropTables(f, path, nil)
			p.mark(i, 1)
			break
		}
	}
}

// isFlagWord reports whether mention m is a flag column's adjective
// qualifying the mention after it ("official" of IsOfficial before
// "languages"): a condition, not the column counted or shown.
func (p *parser) isFlagWord(m *mention) bool {
	if m.kind != mColumn || m.end-m.start != 1 || p.mentionAt(m.end) == nil {
		return false
	}
	for _, fc := range p.flagColumns() {
		if t := p.toks[m.start]; (t.lem == fc.adj || t.low == fc.adj) && p.mentionOf(p.mentionAt(m.end), fc.table) {
			return true
		}
	}
	return false
}
