package nlp

import (
	"fmt"
	"strings"
)

// The render stage: the frame becomes a SELECT tree (sql.go) rendered in
// the tenant's dialect.

func (p *parser) build(f *frame) (string, string, error) {
	q := &selectQ{from: f.main.Name}
	var expl []string

	if f.nestedAvg != nil {
		return p.buildNestedAvg(f)
	}
	if f.percent {
		return p.buildPercent(f)
	}
	p.pairListing(f)      // (childlist.go)
	p.childListing(f)     // (childlist.go)
	p.orderByOwnColumn(f) // (orderown.go)
	p.semiJoins(f)
	grouped := f.groupTable != nil || f.groupCol != nil || f.groupTime != ""
	hasAgg := len(f.measures) > 0
	// Count per entity: FROM the entity, LEFT JOIN what is counted.
	root := f.main
	left := false
	if grouped && f.groupTable != nil {
		root = f.groupTable
		for _, m := range f.measures {
			if m.fn == aggCount && !p.statesRows(m.counts) {
				left = true
			}
		}
	}
	if hasAgg && !grouped && len(f.having) == 0 {
		// A bare aggregate: count of main, or the measures' table.
		if f.measures[0].table != nil && f.measures[0].fn != aggCount {
			root = f.measures[0].table
		}
		if f.measures[0].fn == aggCount && f.measures[0].counts != nil {
			root = f.measures[0].counts
		}
	}
	if len(f.having) > 0 && !grouped && p.groupOwnRows(f) {
		grouped = true
	}
	if f.groupCol != nil {
		p.markShared(f.groupCol)
	}
	if len(f.having) > 0 && !grouped {
		// "artists with more than 10 albums": group the main table.
		f.groupTable = f.main
		grouped = true
		left = true
	}
	q.from = root.Name
	need := []*Table{root}
	add := func(t *Table) {
		if t != nil && !containsTable(need, t) {
			need = append(need, t)
		}
	}
	add(f.main)
	for _, t := range f.tables {
		add(t)
	}
	for _, m := range f.measures {
		add(m.table)
		add(m.counts)
		add(m.also)
	}
	for _, fl := range f.filters {
		add(fl.tbl)
	}
	for _, m := range f.extra {
		add(m.table)
	}
	if f.groupCol != nil {
		p.resolveCol(f.groupCol, need, f.main)
		if f.groupCol.col == nil {
			return "", "", &Unanswerable{Reason: "cannot tell what to group by", Tables: tableNames(p.s)}
		}
		add(f.groupCol.table)
	}
	for _, m := range f.distinct {
		add(m.table)
	}
	joins, err := p.joinTree(root, need, left)
	if err != nil {
		return "", "", err
	}
	q.joins = joins

	for _, fl := range f.filters {
		q.where = append(q.where, fl.e)
		expl = append(expl, fl.desc)
	}
	switch {
	case len(f.distinct) > 0 && !hasAgg:
		q.distinct = true
		for _, m := range f.distinct {
			q.items = append(q.items, selItem{e: colExpr{m.table.Name, m.col.Name}})
		}
		p.understood = append(p.understood, "distinct values")
	case grouped:
		var groupDesc string
		switch {
		case f.groupTable != nil:
			g := f.groupTable
			pk := pkExpr(g)
			if pk == nil {
				return "", "", &Unanswerable{Reason: fmt.Sprintf("table %s has no primary key to group by", g.Name), Tables: tableNames(p.s)}
			}
			q.items = append(q.items, selItem{e: starExpr{g.Name}})
			p.aliasColumns(q, g)
			if isPerson(g) {
				l := labelCols(g)
				q.items = append(q.items, selItem{e: concatExpr{[]sqlExpr{colExpr{g.Name, l[0].Name}, colExpr{g.Name, l[1].Name}}}, alias: q.alias(snake(g.Name) + "_full_name")})
			}
			q.group = append(q.group, pk)
			for _, c := range g.Columns {
				if c.Name != g.PrimaryKey[0] {
					q.group = append(q.group, colExpr{g.Name, c.Name})
				}
			}
			groupDesc = "grouped by " + g.Name
		case f.groupCol != nil:
			ce := colExpr{f.groupCol.table.Name, f.groupCol.col.Name}
			q.items = append(q.items, selItem{e: ce})
			q.group = append(q.group, ce)
			if k := labelKey(f.groupCol.table, f.groupCol.col); k != nil {
				// Per name is per row named: two documents of one name
				// stay two groups.
				kc := colExpr{f.groupCol.table.Name, k.Name}
				q.items = append(q.items, selItem{e: kc})
				q.group = append(q.group, kc)
			}
			groupDesc = "grouped by " + f.groupCol.table.Name + "." + f.groupCol.col.Name
		default:
			dc, dt := dateColumn(root)
			if f.groupTimeC != nil {
				dc, dt = f.groupTimeC, root
				for _, t := range need {
					if t.Column(dc.Name) == dc {
						dt = t
					}
				}
			}
			if dc == nil {
				return "", "", &Unanswerable{Reason: "no date column to group by " + strings.ToLower(f.groupTime), Tables: tableNames(p.s)}
			}
			e := extractExpr{f.groupTime, colExpr{dt.Name, dc.Name}}
			if f.groupTime != "YEAR" {
				ye := extractExpr{"YEAR", colExpr{dt.Name, dc.Name}}
				q.items = append(q.items, selItem{e: ye, alias: q.alias("year")})
				q.group = append(q.group, ye)
			}
			q.items = append(q.items, selItem{e: e, alias: q.alias(strings.ToLower(f.groupTime))})
			q.group = append(q.group, e)
			if f.groupTime != "YEAR" {
				q.order = append(q.order, orderItem{e: extractExpr{"YEAR", colExpr{dt.Name, dc.Name}}})
			}
			q.order = append(q.order, orderItem{e: e})
			groupDesc = "grouped by " + strings.ToLower(f.groupTime) + " of " + dt.Name + "." + dc.Name
		}
		if !hasAgg && len(f.having) == 0 {
			f.measures = append(f.measures, measure{fn: aggCount, counts: f.main})
		}
		for _, m := range f.measures {
			e, alias := p.measureExpr(m, f)
			q.items = append(q.items, selItem{e: e, alias: q.alias(alias)})
			expl = append([]string{describe(m)}, expl...)
		}
		for _, h := range f.having {
			q.having = append(q.having, h)
			b, _ := h.(binExpr)
			alias := "count"
			if a, ok := b.l.(aggExpr); ok && a.fn != "COUNT" {
				if c, ok := a.arg.(colExpr); ok {
					alias = strings.ToLower(a.fn) + "_" + snake(c.col)
				}
			}
			q.items = append(q.items, selItem{e: b.l, alias: q.alias(alias)})
		}
		if f.havDesc != "" {
			expl = append(expl, "keeping groups with "+f.havDesc)
		}
		expl = append(expl, groupDesc)
	case hasAgg:
		for _, m := range f.measures {
			e, alias := p.measureExpr(m, f)
			q.items = append(q.items, selItem{e: e, alias: q.alias(alias)})
			expl = append([]string{describe(m)}, expl...)
		}
	default:
		q.items = append(q.items, listedColumns(f, f.main)...)
		p.aliasColumns(q, f.main)
		if isPerson(f.main) {
			l := labelCols(f.main)
			q.items = append(q.items, selItem{e: concatExpr{[]sqlExpr{colExpr{f.main.Name, l[0].Name}, colExpr{f.main.Name, l[1].Name}}}, alias: q.alias(snake(f.main.Name) + "_full_name")})
		}
		p.showParent(q, f) // "each employee with their manager" (hierarchy.go)
		shown := map[*Column]bool{}
		fullShown := map[*Table]bool{} // person tables whose full name is shown
		for _, t := range need {
			if t == f.main || !p.named(f, t) || !p.noFanOut(t, f.main) {
				continue
			}
			ls := labelCols(t)
			if len(ls) == 2 {
				fullShown[t] = true
				q.items = append(q.items, selItem{e: concatExpr{[]sqlExpr{colExpr{t.Name, ls[0].Name}, colExpr{t.Name, ls[1].Name}}}, alias: q.alias(snake(t.Name) + "_name")})
			} else {
				for _, c := range ls {
					q.items = append(q.items, selItem{e: colExpr{t.Name, c.Name}, alias: q.alias(snake(t.Name) + "_" + snake(c.Name))})
					shown[c] = true
				}
			}
		}
		for _, m := range f.extra {
			if m.table == f.main || shown[m.col] {
				if !p.predicateColumn(m) { // "products that are discontinued" is a condition
					p.mark(m.start, m.end-m.start) // shown by the table's columns
				}
				continue
			}
			if !p.noFanOut(m.table, f.main) {
				// A column of a table with many rows per listed row would
				// repeat the listed rows; it is not shown (and its words
				// stay unaccounted).
				continue
			}
			shown[m.col] = true
			if e, ok := personName(m); ok { // "Customer name": first and last (listing.go)
				if !fullShown[m.table] {
					fullShown[m.table] = true
					q.items = append(q.items, selItem{e: e, alias: q.alias(snake(m.table.Name) + "_name")})
				}
				continue
			}
			q.items = append(q.items, selItem{e: colExpr{m.table.Name, m.col.Name}, alias: q.alias(snake(m.table.Name) + "_" + snake(m.col.Name))})
		}
		expl = append([]string{"Listed rows of " + f.main.Name}, expl...)
	}
	if f.rankAgg && len(f.measures) > 0 {
		q.order = append([]orderItem{{e: rawAlias{q.items[p.firstMeasureIndex(q, f)].alias}, desc: f.orderDesc}}, q.order...)
		expl = append(expl, "ranked "+map[bool]string{true: "highest", false: "lowest"}[f.orderDesc]+" first")
	} else if f.orderBy != nil {
		q.order = []orderItem{{e: f.orderBy, desc: f.orderDesc}}
		expl = append(expl, "ordered by "+strings.ReplaceAll(f.orderBy.render(p.r), p.r.q(""), ""))
	}
	if f.limit > 0 {
		q.limit = f.limit
		expl = append(expl, fmt.Sprintf("first %d rows", f.limit))
	}
	p.rankedNonNull(q, f) // relcol.go
	if len(q.joins) > 0 {
		var js []string
		for _, j := range q.joins {
			if j.as != "" {
				js = append(js, j.rel+" as "+j.as)
				continue
			}
			js = append(js, j.rel)
		}
		expl = append(expl, "joined with "+strings.Join(js, ", ")+" along foreign keys")
	}
	text := strings.Join(expl, "; ")
	if len(text) > 0 {
		text = strings.ToUpper(text[:1]) + text[1:] + "."
	}
	p.showDurations(q, f)
	p.twoKeyDisplay(q, f.main) // (roles.go)
	q.pruneJoins(p.r)
	p.uses = q.uses(p.r)
	p.query = q
	return q.render(p.r), text, nil
}

// aliasColumns marks table's column names as used output names.
func (p *parser) aliasColumns(q *selectQ, t *Table) {
	for _, c := range t.Columns {
		q.alias(c.Name)
	}
}

func (p *parser) firstMeasureIndex(q *selectQ, f *frame) int {
	for i, it := range q.items {
		if _, ok := it.e.(aggExpr); ok && it.alias != "" {
			return i
		}
		if it.alias != "" && (strings.HasPrefix(it.alias, "count") || strings.HasPrefix(it.alias, "sum") || strings.HasPrefix(it.alias, "avg") || strings.HasPrefix(it.alias, "min") || strings.HasPrefix(it.alias, "max")) {
			return i
		}
	}
	return len(q.items) - 1
}

func (p *parser) named(f *frame, t *Table) bool {
	if containsTable(f.fkNamed, t) {
		return true
	}
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) == t {
			return true
		}
	}
	return false
}

func describe(m measure) string {
	switch {
	case m.fn == aggCount && m.counts != nil:
		return "Counted rows of " + m.counts.Name
	case m.fn == aggCount:
		return "Counted rows"
	}
	if m.also != nil {
		b, _ := m.expr.(binExpr)
		l, okl := b.l.(colExpr)
		r, okr := b.r.(colExpr)
		if okl && okr {
			return fmt.Sprintf("%s of %s.%s × %s.%s", strings.ToLower(string(m.fn)), l.rel, l.col, r.rel, r.col)
		}
	}
	return fmt.Sprintf("%s of %s.%s", strings.ToLower(string(m.fn)), m.table.Name, m.col.Name)
}

func snake(name string) string { return strings.Join(splitName(name), "_") }

func (p *parser) measureExpr(m measure, f *frame) (sqlExpr, string) {
	if m.fn == aggCount && m.distinct && m.col != nil {
		return aggExpr{fn: "COUNT", arg: colExpr{m.table.Name, m.col.Name}, distinct: true}, "count_distinct_" + snake(m.col.Name)
	}
	if m.fn == aggCount {
		t := m.counts
		if t == nil {
			return aggExpr{fn: "COUNT"}, "count"
		}
		alias := snake(t.Name) + "_count"
		if pk := pkExpr(t); pk != nil {
			return aggExpr{fn: "COUNT", arg: pk}, alias
		}
		return aggExpr{fn: "COUNT"}, alias
	}
	var arg sqlExpr = colExpr{m.table.Name, m.col.Name}
	if m.expr != nil {
		arg = m.expr
	}
	alias := m.label
	if alias == "" {
		alias = strings.ToLower(string(m.fn)) + "_" + snake(m.col.Name)
	}
	return aggExpr{fn: string(m.fn), arg: arg}, alias
}

func (p *parser) buildNestedAvg(f *frame) (string, string, error) {
	g := f.nestedAvg
	var fk *ForeignKey
	for i, k := range f.main.ForeignKeys {
		if strings.EqualFold(k.RefTable, g.Name) && len(k.Columns) == 1 {
			fk = &f.main.ForeignKeys[i]
			break
		}
	}
	if fk == nil {
		return "", "", &Unanswerable{Reason: fmt.Sprintf("%s has no foreign key to %s", f.main.Name, g.Name), Tables: tableNames(p.s)}
	}
	inner := &selectQ{from: f.main.Name,
		items: []selItem{{e: colExpr{f.main.Name, fk.Columns[0]}}, {e: aggExpr{fn: "COUNT"}, alias: "n"}},
		group: []sqlExpr{colExpr{f.main.Name, fk.Columns[0]}}}
	p.consumeTable(g)
	outer := &selectQ{from: "per_" + snake(g.Name), fromSub: inner,
		items: []selItem{{e: aggExpr{fn: "AVG", arg: colExpr{"per_" + snake(g.Name), "n"}}, alias: "avg_" + snake(f.main.Name) + "_per_" + snake(g.Name)}}}
	p.uses = outer.uses(p.r)
	p.query = outer
	return outer.render(p.r), fmt.Sprintf("Averaged the number of %s rows per %s.", f.main.Name, g.Name), nil
}
