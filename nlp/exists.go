package nlp

import (
	"fmt"
	"strings"
)

// existence turns "<main> who have (a|any|some) <table>" ("students who
// have a pet", "high schoolers who have friends") into EXISTS over the rows
// of that table that refer to the main row, when the table has many rows
// per main row and the question sets no other condition on them (a
// condition becomes its own EXISTS in semiJoins, which says as much).
func (p *parser) existence(f *frame) {
	for i := range p.toks {
		if !(p.at(i, "have") || p.at(i, "has")) || p.consumed[i] {
			continue
		}
		k := i - 1
		if p.at(k, "do") || p.at(k, "does") {
			k--
		}
		if !(p.at(k, "who") || p.at(k, "that") || p.at(k, "which")) {
			continue
		}
		j := i + 1
		for p.at(j, "a") || p.at(j, "an") || p.at(j, "any") || p.at(j, "some") {
			j++
		}
		m := p.byTok[j]
		if m == nil || m.kind != mTable || m.used {
			continue
		}
		t := p.bestTable(m)
		if t == f.main || p.noFanOut(t, f.main) {
			continue
		}
		// The table must end the clause: "who have pets", not "who have
		// pets named Max" (that condition is the table's own).
		if e := m.end; e < len(p.toks) && !p.toks[e].punct && !p.at(e, "and") && !p.at(e, "or") && !p.at(e, "but") {
			continue
		}
		conditioned := false
		for _, fl := range f.filters {
			if fl.tbl == t {
				conditioned = true
			}
		}
		if !conditioned {
			sub, path := p.antiJoin(f.main, t)
			if sub == nil {
				continue
			}
			f.filters = append(f.filters, filter{e: existsExpr{q: sub}, desc: fmt.Sprintf("some %s row refers to it", t.Name), tbl: f.main})
			p.dropTables(f, path, m)
			p.understood = append(p.understood, f.main.Name+" with "+t.Name)
		}
		m.used = true
		p.mark(i, j-i)
		p.mark(m.start, m.end-m.start)
	}
}

// colCompared reports whether the statement compares column c of t with a
// literal anywhere, an EXISTS subquery included ("students that have an
// age greater than 20": student.age > 20 inside the EXISTS): a condition
// the question's column word asked for. Join and correlation conditions
// compare two columns and do not count.
func (p *parser) colCompared(sql string, t *Table, c *Column) bool {
	if t == nil || c == nil {
		return false
	}
	name := p.r.q(t.Name) + "." + p.r.q(c.Name) + " "
	for rest := sql; ; {
		k := strings.Index(rest, name)
		if k < 0 {
			return false
		}
		rest = rest[k+len(name):]
		op, after, ok := strings.Cut(rest, " ")
		if !ok {
			return false
		}
		switch op {
		case "=", "<>", ">", "<", ">=", "<=", "IN", "LIKE", "IS", "BETWEEN":
		default:
			continue
		}
		after = strings.TrimPrefix(after, "(")
		if after != "" && (after[0] == '\'' || after[0] == '-' || after[0] >= '0' && after[0] <= '9' || strings.HasPrefix(after, "NOT NULL") || strings.HasPrefix(after, "NULL") ||
			strings.HasPrefix(after, "SELECT AVG(")) { // "with a cost below the average"
			return true
		}
	}
}
