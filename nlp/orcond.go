package nlp

// "cars with 8 cylinders or produced before 1980": an "or" between two
// conditions asks for rows meeting either, but the frame's conditions all
// hold at once (AND). Two values of one column ("Rock or Jazz") and lists
// of numbers ("2 or 4") are read as either by their constructs, which
// consume the "or"; any other "or" beside two or more conditions of the
// query is left unaccounted, so the question is declined rather than
// answered with AND.

// orUnread reports whether token i is an "or" no construct read while the
// query holds two or more conditions.
func (p *parser) orUnread(i int, ok []bool) bool {
	if p.toks[i].low != "or" || ok[i] || p.query == nil {
		return false
	}
	return len(p.query.where)+len(p.query.having) >= 2
}
