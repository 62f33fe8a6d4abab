package policy

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// sqliteRenderer writes a Postgres parse tree as SQLite text. It knows only
// the constructs both read alike; anything else is refused with its name.
// It also decides column masks from the tree: a masked column may appear
// only as a plain column of the top-level select list, whose position is
// recorded (outMasked); anywhere else it is refused, as is * over a table
// with masked columns.
type sqliteRenderer struct {
	tenant    string
	masks     map[string]bool // "table.column", lower-case
	maskCols  map[string]bool // column names of masks, lower-case
	maskTabs  map[string]bool // tables with masks, lower-case
	alias     map[string]string
	outMasked []int
	// maskedAlias holds the select-list names of masked columns: SQLite
	// resolves them in WHERE, GROUP BY, HAVING and ORDER BY expressions
	// too, so any use there would read the clear value.
	maskedAlias map[string]bool
	err         *sqlerr.Error
}

func newSQLiteRenderer(tenant string, masks []string) *sqliteRenderer {
	r := &sqliteRenderer{tenant: tenant, masks: map[string]bool{}, maskCols: map[string]bool{}, maskTabs: map[string]bool{}, alias: map[string]string{}, maskedAlias: map[string]bool{}}
	for _, m := range masks {
		m = strings.ToLower(m)
		t, c, ok := strings.Cut(m, ".")
		if !ok {
			continue
		}
		r.masks[m], r.maskCols[c], r.maskTabs[t] = true, true, true
	}
	return r
}

// sqliteFuncs are the functions SQLite tenants may call: core scalar,
// aggregate and date functions that read nothing but their arguments.
var sqliteFuncs = map[string]bool{
	"count": true, "sum": true, "total": true, "avg": true, "min": true, "max": true, "group_concat": true,
	"abs": true, "round": true, "length": true, "lower": true, "upper": true, "substr": true, "substring": true,
	"trim": true, "ltrim": true, "rtrim": true, "replace": true, "instr": true, "coalesce": true, "ifnull": true,
	"nullif": true, "iif": true, "typeof": true, "date": true, "time": true, "datetime": true, "julianday": true,
	"strftime": true, "unixepoch": true, "printf": true, "format": true, "hex": true, "quote": true,
	"char": true, "unicode": true, "sign": true, "ceil": true, "ceiling": true, "floor": true,
}

func (r *sqliteRenderer) fail(format string, args ...any) {
	if r.err == nil {
		r.err = sqlerr.New(sqlerr.Unsupported, format+" (SQLite tenant %q)", append(args, r.tenant)...)
	}
}

func (r *sqliteRenderer) render(n *pg.Node) (string, *sqlerr.Error) {
	var b strings.Builder
	r.collectAliases(n)
	r.stmt(&b, n)
	if r.err != nil {
		return "", r.err
	}
	return b.String(), nil
}

// collectAliases maps every alias of the tree, at any depth, to its table;
// a derived table in the shape row filters give it, (SELECT * FROM t WHERE
// ...) AS a, maps a to t. An alias given to two different tables maps to ""
// (unknown), which isMasked treats as masked when the column name is.
func (r *sqliteRenderer) collectAliases(n *pg.Node) {
	set := func(a, t string) {
		a = strings.ToLower(a)
		if old, ok := r.alias[a]; ok && old != t {
			t = ""
		}
		r.alias[a] = t
	}
	pgWalkNode(n, func(m protoreflect.ProtoMessage) bool {
		switch x := m.(type) {
		case *pg.RangeVar:
			name := strings.ToLower(x.Relname)
			set(name, name)
			if x.Alias != nil {
				set(x.Alias.Aliasname, name)
			}
		case *pg.RangeSubselect:
			if x.Alias != nil {
				set(x.Alias.Aliasname, filterShape(x.Subquery))
			}
		case *pg.CommonTableExpr:
			set(x.Ctename, "")
		}
		return true
	})
}

// filterShape returns t when n is SELECT * FROM t [WHERE ...] (a row
// filter's derived table), else "".
func filterShape(n *pg.Node) string {
	sel := n.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 || len(sel.FromClause) != 1 || sel.Op != pg.SetOperation_SETOP_NONE {
		return ""
	}
	rt := sel.TargetList[0].GetResTarget()
	if rt == nil || rt.Name != "" || rt.Val.GetColumnRef() == nil || len(rt.Val.GetColumnRef().Fields) != 1 || rt.Val.GetColumnRef().Fields[0].GetAStar() == nil {
		return ""
	}
	if rv := sel.FromClause[0].GetRangeVar(); rv != nil {
		return strings.ToLower(rv.Relname)
	}
	return ""
}

func quoteSQLiteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (r *sqliteRenderer) stmt(b *strings.Builder, n *pg.Node) {
	switch x := n.Node.(type) {
	case *pg.Node_SelectStmt:
		r.selectStmt(b, x.SelectStmt, true)
	case *pg.Node_InsertStmt:
		r.insert(b, x.InsertStmt)
	case *pg.Node_UpdateStmt:
		r.update(b, x.UpdateStmt)
	case *pg.Node_DeleteStmt:
		r.delete(b, x.DeleteStmt)
	default:
		r.fail("statement %T is not supported", n.Node)
	}
}

func (r *sqliteRenderer) with(b *strings.Builder, w *pg.WithClause) {
	if w == nil {
		return
	}
	if w.Recursive {
		b.WriteString("WITH RECURSIVE ")
	} else {
		b.WriteString("WITH ")
	}
	for i, c := range w.Ctes {
		cte := c.GetCommonTableExpr()
		if cte == nil {
			r.fail("unsupported WITH item")
			return
		}
		if refersToMasked(cte.Ctequery, r.maskTabs) {
			r.fail("a WITH query over a table with masked columns is not allowed; select the columns you need in the main query")
			return
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteSQLiteIdent(cte.Ctename))
		if len(cte.Aliascolnames) > 0 {
			b.WriteString(" (")
			for j, a := range cte.Aliascolnames {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quoteSQLiteIdent(a.GetString_().GetSval()))
			}
			b.WriteString(")")
		}
		b.WriteString(" AS (")
		r.selectStmt(b, cte.Ctequery.GetSelectStmt(), false)
		b.WriteString(")")
	}
	b.WriteString(" ")
}

// refersToMasked reports whether the tree names a table with masks.
func refersToMasked(n *pg.Node, tabs map[string]bool) bool {
	found := false
	if len(tabs) == 0 {
		return false
	}
	pgWalkNode(n, func(m protoreflect.ProtoMessage) bool {
		if rv, ok := m.(*pg.RangeVar); ok && tabs[strings.ToLower(rv.Relname)] {
			found = true
		}
		return !found
	})
	return found
}

func (r *sqliteRenderer) selectStmt(b *strings.Builder, s *pg.SelectStmt, top bool) {
	if s == nil {
		r.fail("missing query")
		return
	}
	if s.IntoClause != nil || len(s.LockingClause) > 0 || len(s.WindowClause) > 0 {
		r.fail("SELECT INTO, FOR UPDATE and WINDOW are not supported")
		return
	}
	r.with(b, s.WithClause)
	if s.Op != pg.SetOperation_SETOP_NONE {
		r.selectStmt(b, s.Larg, top)
		switch s.Op {
		case pg.SetOperation_SETOP_UNION:
			b.WriteString(" UNION ")
		case pg.SetOperation_SETOP_INTERSECT:
			b.WriteString(" INTERSECT ")
		case pg.SetOperation_SETOP_EXCEPT:
			b.WriteString(" EXCEPT ")
		}
		if s.All {
			if s.Op != pg.SetOperation_SETOP_UNION {
				r.fail("INTERSECT ALL and EXCEPT ALL are not supported")
				return
			}
			b.WriteString("ALL ")
		}
		r.selectStmt(b, s.Rarg, false)
		r.tail(b, s)
		return
	}
	if len(s.ValuesLists) > 0 {
		b.WriteString("VALUES ")
		for i, row := range s.ValuesLists {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			r.exprList(b, row.GetList().GetItems())
			b.WriteString(")")
		}
		r.tail(b, s)
		return
	}
	b.WriteString("SELECT ")
	if len(s.DistinctClause) > 0 {
		if len(s.DistinctClause) != 1 || s.DistinctClause[0].Node != nil {
			r.fail("DISTINCT ON is not supported")
			return
		}
		b.WriteString("DISTINCT ")
	}
	for i, t := range s.TargetList {
		if i > 0 {
			b.WriteString(", ")
		}
		rt := t.GetResTarget()
		if rt == nil {
			r.fail("unsupported select list item")
			return
		}
		if cr := rt.Val.GetColumnRef(); cr != nil {
			n := len(r.outMasked)
			r.target(b, cr, top, i)
			if (len(r.outMasked) > n || r.isMasked(cr)) && rt.Name != "" {
				r.maskedAlias[strings.ToLower(rt.Name)] = true
			}
		} else {
			r.expr(b, rt.Val)
		}
		if rt.Name != "" {
			b.WriteString(" AS ")
			b.WriteString(quoteSQLiteIdent(rt.Name))
		}
	}
	if len(s.FromClause) > 0 {
		b.WriteString(" FROM ")
		for i, f := range s.FromClause {
			if i > 0 {
				b.WriteString(", ")
			}
			r.from(b, f)
		}
	}
	if s.WhereClause != nil {
		b.WriteString(" WHERE ")
		r.expr(b, s.WhereClause)
	}
	if len(s.GroupClause) > 0 {
		b.WriteString(" GROUP BY ")
		r.exprList(b, s.GroupClause)
	}
	if s.HavingClause != nil {
		b.WriteString(" HAVING ")
		r.expr(b, s.HavingClause)
	}
	r.tail(b, s)
}

// tail writes ORDER BY, LIMIT and OFFSET.
func (r *sqliteRenderer) tail(b *strings.Builder, s *pg.SelectStmt) {
	if len(s.SortClause) > 0 {
		b.WriteString(" ORDER BY ")
		for i, n := range s.SortClause {
			if i > 0 {
				b.WriteString(", ")
			}
			sb := n.GetSortBy()
			if sb == nil || len(sb.UseOp) > 0 {
				r.fail("unsupported ORDER BY item")
				return
			}
			r.expr(b, sb.Node)
			switch sb.SortbyDir {
			case pg.SortByDir_SORTBY_ASC:
				b.WriteString(" ASC")
			case pg.SortByDir_SORTBY_DESC:
				b.WriteString(" DESC")
			}
			switch sb.SortbyNulls {
			case pg.SortByNulls_SORTBY_NULLS_FIRST:
				b.WriteString(" NULLS FIRST")
			case pg.SortByNulls_SORTBY_NULLS_LAST:
				b.WriteString(" NULLS LAST")
			}
		}
	}
	if s.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES {
		r.fail("FETCH ... WITH TIES is not supported")
		return
	}
	if s.LimitCount != nil {
		b.WriteString(" LIMIT ")
		r.expr(b, s.LimitCount)
	}
	if s.LimitOffset != nil {
		if s.LimitCount == nil {
			b.WriteString(" LIMIT -1")
		}
		b.WriteString(" OFFSET ")
		r.expr(b, s.LimitOffset)
	}
}

// target writes a plain column of a select list: a masked one only at the
// top level, where its position is recorded.
func (r *sqliteRenderer) target(b *strings.Builder, cr *pg.ColumnRef, top bool, pos int) {
	if star := cr.Fields[len(cr.Fields)-1].GetAStar() != nil; star {
		if r.starMasked(cr) {
			r.fail("* over a table with masked columns is not allowed; list the columns you need")
			return
		}
		r.columnRef(b, cr)
		return
	}
	if r.isMasked(cr) {
		if !top {
			r.fail("a masked column may only be selected in the main query's select list")
			return
		}
		r.outMasked = append(r.outMasked, pos)
	}
	r.columnRef(b, cr)
}

func (r *sqliteRenderer) starMasked(cr *pg.ColumnRef) bool {
	if len(cr.Fields) == 2 {
		q := strings.ToLower(cr.Fields[0].GetString_().GetSval())
		t, known := r.alias[q]
		return !known || t == "" && len(r.maskTabs) > 0 || r.maskTabs[t]
	}
	return len(r.maskTabs) > 0
}

func (r *sqliteRenderer) isMasked(cr *pg.ColumnRef) bool {
	if len(r.masks) == 0 {
		return false
	}
	col := strings.ToLower(cr.Fields[len(cr.Fields)-1].GetString_().GetSval())
	if len(cr.Fields) == 1 {
		return r.maskCols[col] // which table it is from is not known: treated as masked
	}
	q := strings.ToLower(cr.Fields[len(cr.Fields)-2].GetString_().GetSval())
	t, known := r.alias[q]
	if !known || t == "" {
		return r.maskCols[col] // a qualifier of unknown table: masked if the name is
	}
	return r.masks[t+"."+col]
}

func (r *sqliteRenderer) columnRef(b *strings.Builder, cr *pg.ColumnRef) {
	for i, f := range cr.Fields {
		if i > 0 {
			b.WriteString(".")
		}
		switch {
		case f.GetAStar() != nil:
			b.WriteString("*")
		case f.GetString_() != nil:
			b.WriteString(quoteSQLiteIdent(f.GetString_().GetSval()))
		default:
			r.fail("unsupported column reference")
		}
	}
}

func (r *sqliteRenderer) from(b *strings.Builder, n *pg.Node) {
	switch x := n.Node.(type) {
	case *pg.Node_RangeVar:
		rv := x.RangeVar
		if rv.Catalogname != "" || rv.Schemaname != "" && !strings.EqualFold(rv.Schemaname, "main") {
			r.fail("a table of another database (%s.%s) is not allowed", rv.Schemaname, rv.Relname)
			return
		}
		if n := strings.ToLower(rv.Relname); strings.HasPrefix(n, "pragma_") || n == "dbstat" || strings.HasPrefix(n, "sqlite_") && n != "sqlite_master" && n != "sqlite_schema" {
			// Eponymous virtual tables show the server (file paths, pages,
			// compiled functions), not the tenant's data.
			r.fail("%s is not a table of the tenant", rv.Relname)
			return
		}
		b.WriteString(quoteSQLiteIdent(rv.Relname))
		if rv.Alias != nil {
			b.WriteString(" AS ")
			b.WriteString(quoteSQLiteIdent(rv.Alias.Aliasname))
		}
	case *pg.Node_RangeSubselect:
		rs := x.RangeSubselect
		if rs.Lateral {
			r.fail("LATERAL is not supported")
			return
		}
		if filterShape(rs.Subquery) == "" && refersToMasked(rs.Subquery, r.maskTabs) {
			r.fail("a derived table over a table with masked columns is not allowed; select the columns you need in the main query")
			return
		}
		b.WriteString("(")
		sub := &sqliteRenderer{tenant: r.tenant, masks: r.masks, maskCols: r.maskCols, alias: r.alias, maskTabs: map[string]bool{}}
		if filterShape(rs.Subquery) == "" {
			sub.maskTabs = r.maskTabs
		}
		sub.selectStmt(b, rs.Subquery.GetSelectStmt(), false)
		if sub.err != nil && r.err == nil {
			r.err = sub.err
		}
		b.WriteString(")")
		if rs.Alias != nil {
			b.WriteString(" AS ")
			b.WriteString(quoteSQLiteIdent(rs.Alias.Aliasname))
		}
	case *pg.Node_JoinExpr:
		j := x.JoinExpr
		if j.IsNatural {
			r.fail("NATURAL JOIN is not supported")
			return
		}
		r.from(b, j.Larg)
		switch j.Jointype {
		case pg.JoinType_JOIN_INNER:
			if j.Quals == nil && len(j.UsingClause) == 0 {
				b.WriteString(" CROSS JOIN ")
			} else {
				b.WriteString(" JOIN ")
			}
		case pg.JoinType_JOIN_LEFT:
			b.WriteString(" LEFT JOIN ")
		default:
			r.fail("RIGHT and FULL joins are not supported")
			return
		}
		r.from(b, j.Rarg)
		if len(j.UsingClause) > 0 {
			b.WriteString(" USING (")
			for i, u := range j.UsingClause {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quoteSQLiteIdent(u.GetString_().GetSval()))
			}
			b.WriteString(")")
		}
		if j.Quals != nil {
			b.WriteString(" ON ")
			r.expr(b, j.Quals)
		}
	default:
		r.fail("unsupported FROM item %T", n.Node)
	}
}

func (r *sqliteRenderer) exprList(b *strings.Builder, ns []*pg.Node) {
	for i, n := range ns {
		if i > 0 {
			b.WriteString(", ")
		}
		r.expr(b, n)
	}
}

var sqliteOps = map[string]string{"=": "=", "<>": "<>", "!=": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
	"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "||": "||"}

func opName(names []*pg.Node) string {
	if len(names) != 1 {
		return ""
	}
	return names[0].GetString_().GetSval()
}

func (r *sqliteRenderer) expr(b *strings.Builder, n *pg.Node) {
	if n == nil || r.err != nil {
		return
	}
	switch x := n.Node.(type) {
	case *pg.Node_ColumnRef:
		cr := x.ColumnRef
		if cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			r.fail("* is only allowed in a select list")
			return
		}
		if r.isMasked(cr) || len(cr.Fields) == 1 && r.maskedAlias[strings.ToLower(cr.Fields[0].GetString_().GetSval())] {
			r.fail("a masked column (or its select-list name) may only be selected in the main query's select list, not used in an expression, condition, join or ordering")
			return
		}
		r.columnRef(b, cr)
	case *pg.Node_AConst:
		r.constant(b, x.AConst)
	case *pg.Node_ParamRef:
		r.fail("parameters are not supported")
	case *pg.Node_AExpr:
		r.aexpr(b, x.AExpr)
	case *pg.Node_BoolExpr:
		be := x.BoolExpr
		switch be.Boolop {
		case pg.BoolExprType_NOT_EXPR:
			b.WriteString("(NOT ")
			r.expr(b, be.Args[0])
			b.WriteString(")")
		case pg.BoolExprType_AND_EXPR, pg.BoolExprType_OR_EXPR:
			op := " AND "
			if be.Boolop == pg.BoolExprType_OR_EXPR {
				op = " OR "
			}
			b.WriteString("(")
			for i, a := range be.Args {
				if i > 0 {
					b.WriteString(op)
				}
				r.expr(b, a)
			}
			b.WriteString(")")
		}
	case *pg.Node_NullTest:
		b.WriteString("(")
		r.expr(b, x.NullTest.Arg)
		if x.NullTest.Nulltesttype == pg.NullTestType_IS_NULL {
			b.WriteString(" IS NULL)")
		} else {
			b.WriteString(" IS NOT NULL)")
		}
	case *pg.Node_FuncCall:
		r.funcCall(b, x.FuncCall)
	case *pg.Node_TypeCast:
		t := sqliteType(x.TypeCast.TypeName)
		if t == "" {
			r.fail("a cast to that type is not supported (INTEGER, REAL, NUMERIC, TEXT)")
			return
		}
		b.WriteString("CAST(")
		r.expr(b, x.TypeCast.Arg)
		b.WriteString(" AS " + t + ")")
	case *pg.Node_SubLink:
		r.sublink(b, x.SubLink)
	case *pg.Node_CaseExpr:
		c := x.CaseExpr
		b.WriteString("CASE")
		if c.Arg != nil {
			b.WriteString(" ")
			r.expr(b, c.Arg)
		}
		for _, w := range c.Args {
			cw := w.GetCaseWhen()
			b.WriteString(" WHEN ")
			r.expr(b, cw.Expr)
			b.WriteString(" THEN ")
			r.expr(b, cw.Result)
		}
		if c.Defresult != nil {
			b.WriteString(" ELSE ")
			r.expr(b, c.Defresult)
		}
		b.WriteString(" END")
	case *pg.Node_CoalesceExpr:
		b.WriteString("coalesce(")
		r.exprList(b, x.CoalesceExpr.Args)
		b.WriteString(")")
	case *pg.Node_MinMaxExpr:
		// LEAST/GREATEST: SQLite's scalar min()/max() (NULL if any argument is).
		if x.MinMaxExpr.Op == pg.MinMaxOp_IS_LEAST {
			b.WriteString("min(")
		} else {
			b.WriteString("max(")
		}
		r.exprList(b, x.MinMaxExpr.Args)
		b.WriteString(")")
	default:
		r.fail("expression %T is not supported", n.Node)
	}
}

func (r *sqliteRenderer) constant(b *strings.Builder, c *pg.A_Const) {
	switch {
	case c.Isnull:
		b.WriteString("NULL")
	case c.GetIval() != nil:
		b.WriteString(strconv.FormatInt(int64(c.GetIval().Ival), 10))
	case c.GetFval() != nil:
		v := c.GetFval().Fval
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			r.fail("bad number %q", v)
			return
		}
		b.WriteString(v)
	case c.GetSval() != nil:
		b.WriteString("'" + strings.ReplaceAll(c.GetSval().Sval, "'", "''") + "'")
	case c.GetBoolval() != nil:
		if c.GetBoolval().Boolval {
			b.WriteString("1")
		} else {
			b.WriteString("0")
		}
	default:
		r.fail("unsupported constant")
	}
}

func (r *sqliteRenderer) aexpr(b *strings.Builder, e *pg.A_Expr) {
	op := opName(e.Name)
	switch e.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		sop, ok := sqliteOps[op]
		if !ok {
			r.fail("operator %s is not supported", op)
			return
		}
		b.WriteString("(")
		if e.Lexpr != nil {
			r.expr(b, e.Lexpr)
			b.WriteString(" ")
		}
		b.WriteString(sop + " ")
		r.expr(b, e.Rexpr)
		b.WriteString(")")
	case pg.A_Expr_Kind_AEXPR_IN:
		b.WriteString("(")
		r.expr(b, e.Lexpr)
		if op == "<>" {
			b.WriteString(" NOT IN (")
		} else {
			b.WriteString(" IN (")
		}
		r.exprList(b, e.Rexpr.GetList().GetItems())
		b.WriteString("))")
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		// SQLite's LIKE ignores ASCII case, as ILIKE does.
		b.WriteString("(")
		r.expr(b, e.Lexpr)
		switch op {
		case "~~", "~~*":
			b.WriteString(" LIKE ")
		case "!~~", "!~~*":
			b.WriteString(" NOT LIKE ")
		default:
			r.fail("operator %s is not supported", op)
			return
		}
		r.expr(b, e.Rexpr)
		b.WriteString(")")
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		items := e.Rexpr.GetList().GetItems()
		if len(items) != 2 {
			r.fail("bad BETWEEN")
			return
		}
		b.WriteString("(")
		r.expr(b, e.Lexpr)
		if e.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		r.expr(b, items[0])
		b.WriteString(" AND ")
		r.expr(b, items[1])
		b.WriteString(")")
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		b.WriteString("nullif(")
		r.expr(b, e.Lexpr)
		b.WriteString(", ")
		r.expr(b, e.Rexpr)
		b.WriteString(")")
	default:
		r.fail("expression kind %s is not supported", e.Kind)
	}
}

func (r *sqliteRenderer) funcCall(b *strings.Builder, f *pg.FuncCall) {
	if len(f.Funcname) != 1 && !(len(f.Funcname) == 2 && f.Funcname[0].GetString_().GetSval() == "pg_catalog") {
		r.fail("qualified function names are not supported")
		return
	}
	name := strings.ToLower(f.Funcname[len(f.Funcname)-1].GetString_().GetSval())
	if len(f.Funcname) == 2 {
		// The parser's own spelling of SQL-standard syntax: SUBSTRING(x FROM
		// y), TRIM(...), EXTRACT(...) are not SQLite's.
		r.fail("%s(... FROM ...) syntax is not supported; use SQLite's function call syntax", name)
		return
	}
	if !sqliteFuncs[name] {
		r.fail("function %s is not allowed", name)
		return
	}
	if f.Over != nil || f.AggFilter != nil || len(f.AggOrder) > 0 || f.AggWithinGroup || f.FuncVariadic {
		r.fail("window functions, FILTER and ordered aggregates are not supported")
		return
	}
	b.WriteString(name + "(")
	if f.AggStar {
		b.WriteString("*")
	} else {
		if f.AggDistinct {
			b.WriteString("DISTINCT ")
		}
		r.exprList(b, f.Args)
	}
	b.WriteString(")")
}

func (r *sqliteRenderer) sublink(b *strings.Builder, s *pg.SubLink) {
	sub := func() {
		b.WriteString("(")
		r.selectStmt(b, s.Subselect.GetSelectStmt(), false)
		b.WriteString(")")
	}
	switch s.SubLinkType {
	case pg.SubLinkType_EXISTS_SUBLINK:
		b.WriteString("EXISTS ")
		sub()
	case pg.SubLinkType_EXPR_SUBLINK:
		sub()
	case pg.SubLinkType_ANY_SUBLINK:
		if op := opName(s.OperName); op != "" && op != "=" {
			r.fail("%s ANY (subquery) is not supported; use IN", op)
			return
		}
		b.WriteString("(")
		r.expr(b, s.Testexpr)
		b.WriteString(" IN ")
		sub()
		b.WriteString(")")
	default:
		r.fail("this kind of subquery is not supported")
	}
}

// sqliteType maps a cast's type to SQLite's type affinity names.
func sqliteType(t *pg.TypeName) string {
	if t == nil || len(t.ArrayBounds) > 0 || len(t.Names) == 0 {
		return ""
	}
	switch strings.ToLower(t.Names[len(t.Names)-1].GetString_().GetSval()) {
	case "int", "int2", "int4", "int8", "integer", "bigint", "smallint":
		return "INTEGER"
	case "float4", "float8", "real", "double", "float":
		return "REAL"
	case "numeric", "decimal":
		return "NUMERIC"
	case "text", "varchar", "bpchar", "char":
		return "TEXT"
	}
	return ""
}

func (r *sqliteRenderer) insert(b *strings.Builder, in *pg.InsertStmt) {
	if in.OnConflictClause != nil || len(in.ReturningList) > 0 || in.WithClause != nil || in.Override != pg.OverridingKind_OVERRIDING_NOT_SET {
		r.fail("INSERT with ON CONFLICT, RETURNING, WITH or OVERRIDING is not supported")
		return
	}
	if in.Relation.Schemaname != "" || in.Relation.Alias != nil {
		r.fail("INSERT into a qualified or aliased table is not supported")
		return
	}
	b.WriteString("INSERT INTO " + quoteSQLiteIdent(in.Relation.Relname))
	if len(in.Cols) > 0 {
		b.WriteString(" (")
		for i, c := range in.Cols {
			if i > 0 {
				b.WriteString(", ")
			}
			rt := c.GetResTarget()
			if rt == nil || len(rt.Indirection) > 0 {
				r.fail("unsupported INSERT column")
				return
			}
			b.WriteString(quoteSQLiteIdent(rt.Name))
		}
		b.WriteString(")")
	}
	if in.SelectStmt == nil {
		b.WriteString(" DEFAULT VALUES")
		return
	}
	b.WriteString(" ")
	r.selectStmt(b, in.SelectStmt.GetSelectStmt(), false)
}

func (r *sqliteRenderer) update(b *strings.Builder, u *pg.UpdateStmt) {
	if len(u.FromClause) > 0 || len(u.ReturningList) > 0 || u.WithClause != nil {
		r.fail("UPDATE with FROM, RETURNING or WITH is not supported")
		return
	}
	if u.Relation.Schemaname != "" {
		r.fail("UPDATE of a qualified table is not supported")
		return
	}
	b.WriteString("UPDATE " + quoteSQLiteIdent(u.Relation.Relname))
	if u.Relation.Alias != nil {
		b.WriteString(" AS " + quoteSQLiteIdent(u.Relation.Alias.Aliasname))
	}
	b.WriteString(" SET ")
	for i, t := range u.TargetList {
		rt := t.GetResTarget()
		if rt == nil || len(rt.Indirection) > 0 {
			r.fail("unsupported SET item")
			return
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteSQLiteIdent(rt.Name) + " = ")
		r.expr(b, rt.Val)
	}
	if u.WhereClause != nil {
		b.WriteString(" WHERE ")
		r.expr(b, u.WhereClause)
	}
}

func (r *sqliteRenderer) delete(b *strings.Builder, d *pg.DeleteStmt) {
	if len(d.UsingClause) > 0 || len(d.ReturningList) > 0 || d.WithClause != nil {
		r.fail("DELETE with USING, RETURNING or WITH is not supported")
		return
	}
	if d.Relation.Schemaname != "" {
		r.fail("DELETE from a qualified table is not supported")
		return
	}
	b.WriteString("DELETE FROM " + quoteSQLiteIdent(d.Relation.Relname))
	if d.Relation.Alias != nil {
		b.WriteString(" AS " + quoteSQLiteIdent(d.Relation.Alias.Aliasname))
	}
	if d.WhereClause != nil {
		b.WriteString(" WHERE ")
		r.expr(b, d.WhereClause)
	}
}
