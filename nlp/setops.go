package nlp

// Values shared by two sets of rows: "the citizenships shared by singers
// with a birth year before 1945 and after 1955" are the values of the
// column that rows of each condition have — an INTERSECT, written as two
// IN subqueries so that each condition is asked of its own rows:
//
//	SELECT DISTINCT t.c FROM t
//	WHERE t.c IN (SELECT t.c FROM t WHERE cond1) AND t.c IN (SELECT t.c FROM t WHERE cond2)
//
// Without the two conditions on the one table of the column, the words
// stay unaccounted and the question is declined.

// sharedBy rewrites the two conditions of "<column> shared by <rows> with
// <cond1> and <cond2>".
func (p *parser) sharedBy(f *frame) {
	for i := 1; i+1 < len(p.toks); i++ {
		if !p.at(i, "shared", "by") || p.consumed[i] {
			continue
		}
		// The column listed before the verb: "the citizenship(s) (that are) shared by".
		var cm *mention
		for k := i - 1; k >= 0 && k >= i-4; k-- {
			if m := p.byTok[k]; m != nil {
				if m.kind == mColumn {
					cm = m
				}
				break
			}
		}
		if cm == nil || len(f.filters) != 2 || len(f.measures) > 0 || f.groupCol != nil || f.groupTable != nil {
			return
		}
		p.resolveCol(cm, f.tables, f.main)
		t := cm.table
		if cm.col == nil || t != f.main {
			return
		}
		for _, fl := range f.filters {
			if fl.tbl != t {
				return
			}
			if _, ok := fl.e.(binExpr); !ok {
				return
			}
		}
		ce := colExpr{t.Name, cm.col.Name}
		for k, fl := range f.filters {
			sub := &selectQ{from: t.Name, items: []selItem{{e: ce}}, where: []sqlExpr{fl.e}}
			f.filters[k] = filter{e: binExpr{ce, "IN", subqExpr{sub}}, desc: "some " + t.Name + " row with " + fl.desc + " has it", tbl: t}
		}
		cm.used = true
		f.distinct = append(f.distinct, cm)
		p.mark(i, 2)
		p.understood = append(p.understood, t.Name+"."+cm.col.Name+" values both sets share")
		return
	}
}
