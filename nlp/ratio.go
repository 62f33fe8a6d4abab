package nlp

import "strings"

// Ratios: "what percentage of customers are from Brazil", "the share of
// orders with a quantity above 3". The question's conditions count the
// rows that have them, over all rows: 100.0 * SUM(CASE WHEN … THEN 1 ELSE
// 0 END) / NULLIF(COUNT(*), 0) — NULLIF so that no rows give NULL, not a
// division by zero.

// percentWords ask for a share of the rows.
var percentWords = toSet("percentage percent proportion share fraction ratio")

// percentOf finds "percentage of <table>" and returns the table, consuming
// the words; nil when the question asks no share.
func (p *parser) percentOf() *Table {
	for i, t := range p.toks {
		if !percentWords[t.low] || !p.at(i+1, "of") {
			continue
		}
		if m := p.mentionAt(i + 2); m != nil && m.kind == mTable {
			p.mark(i, 2)
			m.used = true
			return p.bestTable(m)
		}
		if m := p.mentionAt(i + 3); p.at(i+2, "all") && m != nil && m.kind == mTable {
			p.mark(i, 3)
			m.used = true
			return p.bestTable(m)
		}
	}
	return nil
}

// caseExpr is CASE WHEN cond THEN a ELSE b END.
type caseExpr struct{ cond, a, b sqlExpr }

func (c caseExpr) render(r *renderer) string {
	return "CASE WHEN " + c.cond.render(r) + " THEN " + c.a.render(r) + " ELSE " + c.b.render(r) + " END"
}

// nullifZeroExpr is NULLIF(e, 0): a divisor that is NULL, not an error,
// when it is zero.
type nullifZeroExpr struct{ e sqlExpr }

func (x nullifZeroExpr) render(r *renderer) string { return "NULLIF(" + x.e.render(r) + ", 0)" }

// andExpr is the conjunction of es.
type andExpr struct{ es []sqlExpr }

func (a andExpr) render(r *renderer) string { return "(" + andAll(r, a.es) + ")" }

// buildPercent renders the share of f.main's rows that meet the filters.
func (p *parser) buildPercent(f *frame) (string, string, error) {
	if len(f.filters) == 0 || len(f.measures) > 0 || f.groupCol != nil || f.groupTable != nil || f.groupTime != "" {
		return "", "", &Unanswerable{Reason: "a percentage needs one condition on the rows and nothing else", Understood: p.understood, Tables: tableNames(p.s)}
	}
	p.semiJoins(f)
	need := []*Table{f.main}
	var descs []string
	var es []sqlExpr
	for _, fl := range f.filters {
		if fl.tbl != nil && !containsTable(need, fl.tbl) {
			need = append(need, fl.tbl)
		}
		es = append(es, fl.e)
		descs = append(descs, fl.desc)
	}
	joins, err := p.joinTree(f.main, need, false)
	if err != nil {
		return "", "", err
	}
	share := binExpr{binExpr{litExpr{100.0}, "*", aggExpr{fn: "SUM", arg: caseExpr{andExpr{es}, litExpr{int64(1)}, litExpr{int64(0)}}}},
		"/", nullifZeroExpr{aggExpr{fn: "COUNT"}}}
	q := &selectQ{from: f.main.Name, joins: joins, items: []selItem{{e: share, alias: "percentage"}}}
	q.pruneJoins(p.r)
	p.uses = q.uses(p.r)
	p.query = q
	return q.render(p.r), "Percentage of " + f.main.Name + " rows with " + strings.Join(descs, " and ") + ".", nil
}
