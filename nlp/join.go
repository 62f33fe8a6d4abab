package nlp

import (
	"fmt"
	"strings"
)

// The plan stage: the join tree along foreign keys.

// joinTree joins every needed table to root along the shortest foreign-key
// paths (a Steiner tree approximation: each table is joined by its
// shortest path to the tree built so far). Self-references are ignored.
func (p *parser) joinTree(root *Table, need []*Table, left bool) ([]joinClause, error) {
	in := map[*Table]bool{root: true}
	var joins []joinClause
	for _, t := range need {
		if in[t] {
			continue
		}
		path := p.shortestPath(in, t)
		if path == nil {
			return nil, &Unanswerable{Reason: fmt.Sprintf("no foreign-key path joins %s to %s", t.Name, root.Name), Tables: tableNames(p.s)}
		}
		for _, e := range path {
			if in[e.to] {
				continue
			}
			if n := p.keysBetween(e.child, e.parent); n > 1 {
				return nil, &Unanswerable{Reason: fmt.Sprintf("%s refers to %s through %d different keys; the question does not say which one", e.child.Name, e.parent.Name, n),
					Tables: tableNames(p.s)}
			}
			in[e.to] = true
			var on []sqlExpr
			for k := range e.fk.Columns {
				on = append(on, binExpr{colExpr{e.child.Name, e.fk.Columns[k]}, "=", colExpr{e.parent.Name, e.fk.RefColumns[k]}})
			}
			joins = append(joins, joinClause{left: left, rel: e.to.Name, on: on})
		}
	}
	return joins, nil
}

type edge struct {
	from, to      *Table
	child, parent *Table
	fk            *ForeignKey
}

// keysBetween counts child's foreign keys to parent that a join may take.
func (p *parser) keysBetween(child, parent *Table) int {
	return len(p.keysFor(child, parent))
}

// edges are the joins from t along foreign keys; along inferred keys too
// when inferred is set.
func (p *parser) edges(t *Table, inferred bool) []edge {
	var out []edge
	for i := range t.ForeignKeys {
		fk := &t.ForeignKeys[i]
		ref := p.s.Table(fk.RefTable)
		if ref == nil || ref == t || (fk.Inferred && !inferred) || !p.usableKey(t, fk) {
			continue
		}
		out = append(out, edge{from: t, to: ref, child: t, parent: ref, fk: fk})
	}
	for _, o := range p.s.Tables {
		if o == t {
			continue
		}
		for i := range o.ForeignKeys {
			fk := &o.ForeignKeys[i]
			if strings.EqualFold(fk.RefTable, t.Name) && (inferred || !fk.Inferred) && p.usableKey(o, fk) {
				out = append(out, edge{from: t, to: o, child: o, parent: t, fk: fk})
			}
		}
	}
	return out
}

// shortestPath is a breadth-first search from the tree to target, along
// declared keys when they reach it, else along inferred keys too: declared
// keys win.
func (p *parser) shortestPath(tree map[*Table]bool, target *Table) []edge {
	if path := p.searchPath(tree, target, false); path != nil {
		return path
	}
	return p.searchPath(tree, target, true)
}

func (p *parser) searchPath(tree map[*Table]bool, target *Table, inferred bool) []edge {
	prev := map[*Table]edge{}
	seen := map[*Table]bool{}
	var queue []*Table
	for _, t := range p.s.Tables {
		if tree[t] {
			queue = append(queue, t)
			seen[t] = true
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == target {
			var path []edge
			for !tree[cur] {
				e := prev[cur]
				path = append([]edge{e}, path...)
				cur = e.from
			}
			return path
		}
		for _, e := range p.edges(cur, inferred) {
			if !seen[e.to] {
				seen[e.to] = true
				prev[e.to] = e
				queue = append(queue, e.to)
			}
		}
	}
	return nil
}

// parentOf reports whether the first step from a towards b goes from a
// parent to its children (b is reached through rows that belong to a).
func (p *parser) parentOf(a, b *Table) bool {
	path := p.shortestPath(map[*Table]bool{a: true}, b)
	return len(path) > 0 && path[0].parent == a
}

// noFanOut reports whether every step from a to b goes from a parent to
// its children (or stays), so that b's rows are not repeated per a row.
func (p *parser) noFanOut(a, b *Table) bool {
	if a == b {
		return true
	}
	path := p.shortestPath(map[*Table]bool{a: true}, b)
	if path == nil {
		return false
	}
	for _, e := range path {
		if e.to == e.parent { // child -> parent: many rows share one parent row
			return false
		}
	}
	return true
}
