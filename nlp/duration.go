package nlp

// durationWords ask about how long something lasts.
var durationWords = toSet("duration durations long longer longest length lengths short shorter shortest")

// intDivExpr is an integer division: whole units (Postgres divides
// integers as integers; MySQL needs DIV).
type intDivExpr struct {
	e sqlExpr
	n int64
}

func (d intDivExpr) render(r *renderer) string {
	op := " / "
	if r.d == MySQL {
		op = " DIV "
	}
	return "(" + d.e.render(r) + op + litExpr{d.n}.render(r) + ")"
}

// showDurations adds readable forms of a duration stored in milliseconds
// when the question asks how long: whole seconds and minutes next to each
// listed row's duration, and minutes next to an aggregate of durations.
func (p *parser) showDurations(q *selectQ, f *frame) {
	asked := false
	for _, t := range p.toks {
		asked = asked || durationWords[t.lem] || durationWords[t.low]
	}
	if !asked {
		return
	}
	var add []selItem
	for _, it := range q.items {
		switch e := it.e.(type) {
		case starExpr:
			t := p.s.Table(e.rel)
			if t == nil {
				continue
			}
			for _, c := range t.Columns {
				if durationUnit(c) == 0.001 {
					ce := colExpr{t.Name, c.Name}
					add = append(add, selItem{e: intDivExpr{ce, 1000}, alias: q.alias("duration_seconds")},
						selItem{e: binExpr{ce, "/", litExpr{60000.0}}, alias: q.alias("duration_minutes")})
				}
			}
		case aggExpr:
			if ce, ok := e.arg.(colExpr); ok && (e.fn == "SUM" || e.fn == "AVG" || e.fn == "MAX" || e.fn == "MIN") {
				if t := p.s.Table(ce.rel); t != nil && durationUnit(t.Column(ce.col)) == 0.001 {
					add = append(add, selItem{e: binExpr{e, "/", litExpr{60000.0}}, alias: q.alias(it.alias + "_minutes")})
				}
			}
		}
	}
	q.items = append(q.items, add...)
}
