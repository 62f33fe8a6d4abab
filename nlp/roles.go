package nlp

import (
	"sort"
	"strings"
)

// Names of a table that its own name does not spell:
//
//   - a role several tables use for their reference to it: friend.student_id
//     and likes.student_id both refer to highschooler, so "students" are its
//     rows (a role only one table uses stays that table's column: a
//     customer's "support rep" is read through its key);
//   - the words of a one-word table name that names a person by what they
//     attend ("high school" for highschooler), with the role noun after
//     them ("high school students");
//   - the agent noun of a column named "<participle> by" ("directors" for
//     directed_by).

// linkRoles rewrites the mentions found by link: role nouns become
// mentions of the table they refer to.
func (p *parser) linkRoles() {
	for i := 0; i < len(p.toks); i++ {
		if p.byTok[i] != nil {
			continue
		}
		t, n := p.agentTable(i)
		if t == nil {
			continue
		}
		end := i + n
		if next := p.byTok[end]; end < len(p.toks) && next != nil && p.roleOf(next) == t {
			p.removeMention(next)
			end = next.end
		}
		p.add(&mention{kind: mTable, start: i, end: end, links: []link{{kind: linkTable, table: t, score: 0.9}}})
		i = end - 1
	}
	for _, m := range append([]*mention(nil), p.ms...) {
		if m.kind != mColumn {
			continue
		}
		if t := p.roleOf(m); t != nil {
			m.kind = mTable
			m.links = []link{{kind: linkTable, table: t, score: 0.8}}
		}
	}
	p.agentColumns()
	p.markOrigin() // (verbs.go)
	sort.SliceStable(p.ms, func(a, b int) bool { return p.ms[a].start < p.ms[b].start })
}

// agentTable is the table whose one-word name is the n (2 or 3) words at i
// joined, plus "er" ("high school" + er = highschooler).
func (p *parser) agentTable(i int) (*Table, int) {
	for n := 3; n >= 2; n-- {
		if i+n > len(p.toks) {
			continue
		}
		var b strings.Builder
		ok := true
		for k := i; k < i+n; k++ {
			t := p.toks[k]
			if p.byTok[k] != nil || t.punct || t.isNum || t.quoted || stopWords[t.low] || !isWord(t.low) {
				ok = false
				break
			}
			b.WriteString(t.lem)
		}
		if !ok {
			continue
		}
		for _, t := range p.s.Tables {
			w := splitName(t.Name)
			if len(w) == 1 && strings.ToLower(w[0]) == b.String()+"er" {
				return t, n
			}
		}
	}
	return nil, 0
}

// roleOf is the table every link of column mention m refers to, when m
// names references of at least two tables (and no key word: "student id"
// is the column).
func (p *parser) roleOf(m *mention) *Table {
	if m.kind != mColumn || len(m.links) < 2 {
		return nil
	}
	for k := m.start; k < m.end; k++ {
		if w := p.toks[k].lem; w == "id" || w == "ids" {
			return nil
		}
	}
	var ref *Table
	owners := map[*Table]bool{}
	for _, l := range m.links {
		if l.col == nil || l.score >= 1 {
			return nil
		}
		r := p.fkTarget(l.table, l.col)
		if r == nil || r == l.table || ref != nil && r != ref {
			return nil
		}
		ref = r
		owners[l.table] = true
	}
	if len(owners) < 2 {
		return nil
	}
	return ref
}

// removeMention drops m from the mentions.
func (p *parser) removeMention(m *mention) {
	for k := m.start; k < m.end; k++ {
		p.byTok[k] = nil
	}
	keep := p.ms[:0]
	for _, x := range p.ms {
		if x != m {
			keep = append(keep, x)
		}
	}
	p.ms = keep
}

// twoKeyPenalty is the doubt of showing the columns of a table the listed
// rows refer to by two keys ("the names of friends of Kyle": a friend row
// names two students, the one whose friends they are and the friend).
const twoKeyPenalty = 0.25

// twoKeyDisplay lowers the confidence when a listing shows columns of a
// table the main table refers to by more than one key: the join took one
// of them, and which student's name the question wants is not decided.
func (p *parser) twoKeyDisplay(q *selectQ, main *Table) {
	if len(q.group) > 0 {
		return // a group of the referenced table: the key the counted rows name it by
	}
	for _, it := range q.items {
		c, ok := it.e.(colExpr)
		if !ok || c.rel == main.Name {
			continue
		}
		if t := p.s.Table(c.rel); t != nil && keysTo(main, t) >= 2 {
			p.penalty += twoKeyPenalty
			p.understood = append(p.understood, "columns of "+t.Name+" through one of "+main.Name+"'s keys to it")
			return
		}
	}
}

// keysTo counts t's declared foreign keys to parent.
func keysTo(t, parent *Table) int {
	n := 0
	for _, fk := range t.ForeignKeys {
		if strings.EqualFold(fk.RefTable, parent.Name) {
			n++
		}
	}
	return n
}

// irregularParticiples map past participles to their verb, for agent
// nouns ("written by" → writer).
var irregularParticiples = map[string]string{"written": "write", "drawn": "draw", "sung": "sing", "given": "give", "taken": "take", "chosen": "choose", "made": "make"}

// agentColumns links an unlinked word to the columns named "<participle>
// by" whose agent noun it is ("directors" → directed_by, "writer" →
// written_by, "producers" → produced_by): the one who directed.
func (p *parser) agentColumns() {
	for i, t := range p.toks {
		if p.byTok[i] != nil || t.quoted || t.isNum || !isWord(t.low) || len(t.lem) < 5 {
			continue
		}
		var links []link
		for _, tb := range p.s.Tables {
			for _, c := range tb.Columns {
				w := splitName(c.Name)
				if len(w) != 2 || strings.ToLower(w[1]) != "by" || c.Kind != KindText {
					continue
				}
				for _, a := range agentNouns(strings.ToLower(w[0])) {
					if a == t.lem {
						links = append(links, link{kind: linkColumn, table: tb, col: c, score: 0.9})
					}
				}
			}
		}
		if len(links) > 0 {
			p.add(&mention{kind: mColumn, start: i, end: i + 1, links: links})
		}
	}
}

// agentNouns are the nouns for who did what participle v says.
func agentNouns(v string) []string {
	var bases []string
	if b, ok := irregularParticiples[v]; ok {
		bases = append(bases, b)
	} else if strings.HasSuffix(v, "ed") {
		bases = append(bases, strings.TrimSuffix(v, "ed"), strings.TrimSuffix(v, "d"))
	}
	var out []string
	for _, b := range bases {
		if strings.HasSuffix(b, "e") {
			out = append(out, b+"r")
		} else {
			out = append(out, b+"or", b+"er")
		}
	}
	return out
}
