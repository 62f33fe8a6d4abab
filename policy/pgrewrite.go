package policy

import (
	"sort"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// topQuery returns the holder of the row-returning query of the statement:
// the statement itself for SELECT/VALUES/set operations, the query of
// PREPARE, DECLARE CURSOR and COPY (query) TO STDOUT; nil otherwise.
func (a *pgStmt) topQuery() *pg.Node {
	n := a.raw.Stmt
	switch x := n.Node.(type) {
	case *pg.Node_SelectStmt:
		return n
	case *pg.Node_PrepareStmt:
		if x.PrepareStmt.Query.GetSelectStmt() != nil {
			return x.PrepareStmt.Query
		}
	case *pg.Node_DeclareCursorStmt:
		if x.DeclareCursorStmt.Query.GetSelectStmt() != nil {
			return x.DeclareCursorStmt.Query
		}
	case *pg.Node_CopyStmt:
		if x.CopyStmt.Query.GetSelectStmt() != nil {
			return x.CopyStmt.Query
		}
	}
	return nil
}

// capTop injects or lowers the LIMIT of the top-level query to MaxRows.
// LIMIT and FETCH FIRST share the node; an expression or parameter count
// becomes LEAST(count, n); WITH TIES (which may return more rows) wraps the
// query as SELECT * FROM (query) AS _tp_capped LIMIT n.
func (a *pgStmt) capTop() {
	h := a.topQuery()
	if h == nil {
		return
	}
	sel := h.GetSelectStmt()
	if sel.IntoClause != nil {
		return
	}
	n := a.role.MaxRows
	if sel.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES {
		inner := &pg.Node{Node: h.Node}
		h.Node = &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
			TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgStar(), Location: -1}}}},
			FromClause: []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{
				Subquery: inner, Alias: &pg.Alias{Aliasname: "_tp_capped"}}}}},
			LimitCount:  pgConstInt(n),
			LimitOption: pg.LimitOption_LIMIT_OPTION_COUNT,
			Op:          pg.SetOperation_SETOP_NONE,
		}}
		a.capped, a.rewritten = true, true
		return
	}
	if sel.LimitCount != nil {
		a.litDep = true // the cap depends on the client's own LIMIT
	}
	switch {
	case sel.LimitCount == nil:
		sel.LimitCount = pgConstInt(n)
	case sel.LimitCount.GetAConst() != nil && sel.LimitCount.GetAConst().Isnull:
		sel.LimitCount = pgConstInt(n) // LIMIT ALL / LIMIT NULL
	case sel.LimitCount.GetAConst().GetIval() != nil:
		if int(sel.LimitCount.GetAConst().GetIval().Ival) <= n {
			return // the client's own limit is already within the cap
		}
		sel.LimitCount = pgConstInt(n)
	default:
		sel.LimitCount = &pg.Node{Node: &pg.Node_MinMaxExpr{MinMaxExpr: &pg.MinMaxExpr{
			Op: pg.MinMaxOp_IS_LEAST, Args: []*pg.Node{sel.LimitCount, pgConstInt(n)}, Location: -1}}}
	}
	sel.LimitOption = pg.LimitOption_LIMIT_OPTION_COUNT
	a.capped, a.rewritten = true, true
}

// maskedCols returns the masked column names of the tables the statement
// references, and records the masks in a.masks.
func (a *pgStmt) maskedCols() map[string]bool {
	if len(a.role.MaskedColumns) == 0 {
		return nil
	}
	cols := map[string]bool{}
	for _, mc := range a.role.MaskedColumns {
		tbl, col, ok := strings.Cut(lower(mc), ".")
		if ok && a.tables[tbl] {
			cols[col] = true
			a.masks = append(a.masks, tbl+"."+col)
		}
	}
	return cols
}

func (a *pgStmt) maskErr(col string) *sqlerr.Error {
	for _, m := range a.masks {
		if strings.HasSuffix(m, "."+col) {
			col = m
			break
		}
	}
	return sqlerr.New(sqlerr.Permission, "permission denied: column %q is masked for role %q and may only be selected as a plain column", col, a.role.Name)
}

// checkMasks enforces that a masked column is only selected as a bare column
// (or through *) in the top-level target list of a plain, non-DISTINCT
// SELECT. Everything else that names it (or might: same column name in any
// table, whole-row references, * in set operations or sub-links, positional
// ORDER BY / GROUP BY to it) is refused.
func (a *pgStmt) checkMasks() *sqlerr.Error {
	cols := a.maskedCols()
	if len(cols) == 0 {
		return nil
	}
	allowed := map[*pg.ColumnRef]bool{}
	aliasMasked := map[string]bool{}
	starOK := map[*pg.SelectStmt]bool{}
	var top *pg.SelectStmt
	if h := a.topQuery(); h != nil {
		top = h.GetSelectStmt()
	}
	if top != nil && top.Op == pg.SetOperation_SETOP_NONE && len(top.DistinctClause) == 0 {
		for i, t := range top.TargetList {
			rt := t.GetResTarget()
			cr := rt.GetVal().GetColumnRef()
			if cr == nil {
				continue
			}
			allowed[cr] = true
			last := cr.Fields[len(cr.Fields)-1]
			if s := last.GetString_(); s != nil && cols[lower(s.Sval)] || last.GetAStar() != nil {
				if rt.Name != "" {
					aliasMasked[lower(rt.Name)] = true
				}
				if err := a.positional(top, i+1); err != nil {
					return err
				}
			}
		}
		starOK[top] = true
	}
	// * may appear in FROM subqueries and CTE bodies (their output keeps its
	// origin) and in EXISTS (nothing flows out).
	var err *sqlerr.Error
	var visit func(m protoreflect.ProtoMessage) bool
	visit = func(m protoreflect.ProtoMessage) bool {
		if err != nil {
			return false
		}
		switch x := m.(type) {
		case *pg.RangeSubselect:
			if s := x.Subquery.GetSelectStmt(); s != nil && s.Op == pg.SetOperation_SETOP_NONE {
				starOK[s] = true
			}
		case *pg.CommonTableExpr:
			if s := x.Ctequery.GetSelectStmt(); s != nil && s.Op == pg.SetOperation_SETOP_NONE {
				starOK[s] = true
			}
		case *pg.SubLink:
			if x.SubLinkType == pg.SubLinkType_EXISTS_SUBLINK {
				if s := x.Subselect.GetSelectStmt(); s != nil && s.Op == pg.SetOperation_SETOP_NONE {
					starOK[s] = true
				}
			}
		case *pg.SelectStmt:
			if x != top {
				for i, t := range x.TargetList {
					if cr := t.GetResTarget().GetVal().GetColumnRef(); cr != nil && starOK[x] {
						if cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
							allowed[cr] = true
							if e := a.positional(x, i+1); e != nil {
								err = e
								return false
							}
						}
					}
				}
			}
			for _, s := range x.SortClause {
				if sb := s.GetSortBy(); sb != nil {
					if c := sb.Node.GetColumnRef(); c != nil && len(c.Fields) == 1 {
						if n := c.Fields[0].GetString_(); n != nil && aliasMasked[lower(n.Sval)] && x == top {
							err = a.maskErr(lower(n.Sval))
							return false
						}
					}
				}
			}
			for _, g := range x.GroupClause {
				if c := g.GetColumnRef(); c != nil && len(c.Fields) == 1 {
					if n := c.Fields[0].GetString_(); n != nil && aliasMasked[lower(n.Sval)] && x == top {
						err = a.maskErr(lower(n.Sval))
						return false
					}
				}
			}
		case *pg.ColumnRef:
			if allowed[x] {
				return true
			}
			last := x.Fields[len(x.Fields)-1]
			if last.GetAStar() != nil {
				err = sqlerr.New(sqlerr.Permission, "permission denied: * over a table with masked columns may only be used in the top-level select list for role %q", a.role.Name)
				return false
			}
			if s := last.GetString_(); s != nil {
				name := lower(s.Sval)
				if cols[name] {
					err = a.maskErr(name)
					return false
				}
				if len(x.Fields) == 1 && a.rangeNms[name] {
					err = sqlerr.New(sqlerr.Permission, "permission denied: whole-row reference %q to a table with masked columns is not allowed for role %q", name, a.role.Name)
					return false
				}
			}
		}
		return true
	}
	pgWalkNode(a.raw.Stmt, visit)
	return err
}

// positional refuses ORDER BY / GROUP BY / DISTINCT ON by the position of a
// masked (or *) target.
func (a *pgStmt) positional(sel *pg.SelectStmt, pos int) *sqlerr.Error {
	check := func(n *pg.Node) *sqlerr.Error {
		if c := n.GetAConst(); c != nil {
			a.litDep = true
			if iv := c.GetIval(); iv != nil && int(iv.Ival) == pos {
				return sqlerr.New(sqlerr.Permission, "permission denied: ordering or grouping by a masked column (position %d) is not allowed for role %q", pos, a.role.Name)
			}
		}
		return nil
	}
	for _, s := range sel.SortClause {
		if sb := s.GetSortBy(); sb != nil {
			if err := check(sb.Node); err != nil {
				return err
			}
		}
	}
	for _, g := range sel.GroupClause {
		if err := check(g); err != nil {
			return err
		}
	}
	for _, d := range sel.DistinctClause {
		if d != nil {
			if err := check(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// Row filters.

// pgFilter is the predicates that apply to one table, built for this
// statement (values already filled in).
type pgFilter struct {
	tenantCol string     // row isolation: tenant column, "" if not a tenant table
	preds     []*pg.Node // role predicates (unqualified column references)
}

// filterFor returns the filter of table rel, or nil.
func (a *pgStmt) filterFor(rel string) (*pgFilter, *sqlerr.Error) {
	var f *pgFilter
	if a.scope.Isolation == IsolationRow && a.scope.TenantColumn != "" {
		for _, t := range a.scope.TenantTables {
			if lower(t) == rel {
				f = &pgFilter{tenantCol: a.scope.TenantColumn}
				break
			}
		}
	}
	for t, p := range a.role.RowFilters {
		if lower(t) != rel {
			continue
		}
		pred, err := a.e.pgPredicate(p, a.tenantValue(), a.s.User)
		if err != nil {
			return nil, sqlerr.Wrap(sqlerr.Internal, err, "row filter of table %q does not parse", rel)
		}
		if f == nil {
			f = &pgFilter{}
		}
		f.preds = append(f.preds, pred)
	}
	return f, nil
}

func (a *pgStmt) tenantValue() string {
	if a.scope.TenantValue != "" {
		return a.scope.TenantValue
	}
	return a.scope.Tenant
}

// where returns the filter's predicate, with column references qualified by
// qual when qual is not empty.
func (a *pgStmt) where(f *pgFilter, qual string) *pg.Node {
	var args []*pg.Node
	if f.tenantCol != "" {
		col := pgColRef(f.tenantCol)
		if qual != "" {
			col = pgColRef(qual, f.tenantCol)
		}
		args = append(args, pgEq(col, pgConstStr(a.tenantValue())))
	}
	for _, p := range f.preds {
		p = proto.Clone(p).(*pg.Node)
		if qual != "" {
			pgQualify(p, qual)
		}
		args = append(args, p)
	}
	return pgAnd(args...)
}

// pgQualify prefixes the unqualified column references of p (outside
// sub-queries) with qual.
func pgQualify(p *pg.Node, qual string) {
	pgWalkNode(p, func(m protoreflect.ProtoMessage) bool {
		switch x := m.(type) {
		case *pg.SubLink:
			return false
		case *pg.ColumnRef:
			if len(x.Fields) == 1 && x.Fields[0].GetString_() != nil {
				x.Fields = append([]*pg.Node{pgStr(qual)}, x.Fields...)
			}
		}
		return true
	})
}

// rowFilters applies row isolation and the role's row filters. Every table
// reference in FROM lists (any join, sub-query, CTE, set operation, EXISTS,
// LATERAL) is replaced by a filtered sub-select with the same alias:
// (SELECT * FROM t WHERE pred) AS t. UPDATE/DELETE targets get the predicate
// ANDed to their WHERE; INSERT gets the tenant column filled in or checked.
// A reference the rewrite does not reach is refused (counted), never passed
// unfiltered.
func (a *pgStmt) rowFilters() *sqlerr.Error {
	if len(a.role.RowFilters) == 0 && (a.scope.Isolation != IsolationRow || len(a.scope.TenantTables) == 0) {
		return nil
	}
	filters := map[string]*pgFilter{}
	need := 0
	for rv := range a.refs {
		rel := lower(rv.Relname)
		f, ok := filters[rel]
		if !ok {
			var err *sqlerr.Error
			f, err = a.filterFor(rel)
			if err != nil {
				return err
			}
			filters[rel] = f
		}
		if f != nil {
			need++
		}
	}
	if need == 0 {
		return nil
	}
	handled := 0
	var ferr *sqlerr.Error
	wrap := func(h *pg.Node) {
		rv := h.GetRangeVar()
		if rv == nil || !a.refs[rv] {
			return
		}
		f := filters[lower(rv.Relname)]
		if f == nil {
			return
		}
		alias := rv.Alias
		if alias == nil {
			alias = &pg.Alias{Aliasname: rv.Relname}
		}
		inner := &pg.RangeVar{Catalogname: rv.Catalogname, Schemaname: rv.Schemaname, Relname: rv.Relname,
			Inh: rv.Inh, Relpersistence: rv.Relpersistence, Location: -1}
		h.Node = &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{
			Subquery: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
				TargetList:  []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgStar(), Location: -1}}}},
				FromClause:  []*pg.Node{{Node: &pg.Node_RangeVar{RangeVar: inner}}},
				WhereClause: a.where(f, ""),
				Op:          pg.SetOperation_SETOP_NONE,
			}}},
			Alias: alias,
		}}
		handled++
	}
	var from func(h *pg.Node)
	from = func(h *pg.Node) {
		if h == nil {
			return
		}
		switch x := h.Node.(type) {
		case *pg.Node_RangeVar:
			wrap(h)
		case *pg.Node_JoinExpr:
			from(x.JoinExpr.Larg)
			from(x.JoinExpr.Rarg)
		}
	}
	target := func(rv *pg.RangeVar, where **pg.Node) {
		if rv == nil || !a.refs[rv] {
			return
		}
		f := filters[lower(rv.Relname)]
		if f == nil {
			return
		}
		q := rv.Relname
		if rv.Alias != nil {
			q = rv.Alias.Aliasname
		}
		*where = pgAnd(*where, a.where(f, q))
		handled++
	}
	for _, s := range a.selects {
		for _, h := range s.FromClause {
			from(h)
		}
	}
	for _, u := range a.updates {
		if f := filters[lower(u.Relation.GetRelname())]; f != nil && f.tenantCol != "" {
			for _, t := range u.TargetList {
				if lower(t.GetResTarget().GetName()) == lower(f.tenantCol) {
					return sqlerr.New(sqlerr.CrossTenant, "permission denied: UPDATE may not change column %q on tenant %q", f.tenantCol, a.tenant())
				}
			}
		}
		target(u.Relation, &u.WhereClause)
		for _, h := range u.FromClause {
			from(h)
		}
	}
	for _, d := range a.deletes {
		target(d.Relation, &d.WhereClause)
		for _, h := range d.UsingClause {
			from(h)
		}
	}
	switch x := a.raw.Stmt.Node.(type) {
	case *pg.Node_InsertStmt:
		if err := a.insertFilter(x.InsertStmt, filters, &handled); err != nil {
			return err
		}
	case *pg.Node_CopyStmt:
		c := x.CopyStmt
		if c.Relation != nil && !c.IsFrom && filters[lower(c.Relation.Relname)] != nil {
			// COPY t [(cols)] TO STDOUT -> COPY (SELECT cols FROM t') TO STDOUT
			var tl []*pg.Node
			for _, col := range c.Attlist {
				tl = append(tl, &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgColRef(col.GetString_().GetSval()), Location: -1}}})
			}
			if len(tl) == 0 {
				tl = []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgStar(), Location: -1}}}}
			}
			fromNode := &pg.Node{Node: &pg.Node_RangeVar{RangeVar: c.Relation}}
			c.Query = &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{TargetList: tl,
				FromClause: []*pg.Node{fromNode}, Op: pg.SetOperation_SETOP_NONE}}}
			c.Relation, c.Attlist = nil, nil
			wrap(fromNode)
		}
	}
	if ferr != nil {
		return ferr
	}
	if handled != need {
		var names []string
		for rv := range a.refs {
			if filters[lower(rv.Relname)] != nil {
				names = append(names, lower(rv.Relname))
			}
		}
		sort.Strings(names)
		return sqlerr.New(sqlerr.Permission, "permission denied: %s cannot be run on table %q with its row filter on tenant %q", a.st.Kind, names[0], a.tenant())
	}
	a.rewritten = true
	return nil
}

// insertFilter fills in or checks the tenant column of an INSERT into a
// tenant table. Inserting into a table with a role row filter is refused (the
// new rows' values cannot be checked against an arbitrary predicate).
func (a *pgStmt) insertFilter(ins *pg.InsertStmt, filters map[string]*pgFilter, handled *int) *sqlerr.Error {
	rv := ins.Relation
	f := filters[lower(rv.Relname)]
	if f == nil {
		return nil
	}
	if len(f.preds) > 0 {
		return sqlerr.New(sqlerr.Permission, "permission denied: INSERT into table %q with a row filter is not allowed for role %q", lower(rv.Relname), a.role.Name)
	}
	col := lower(f.tenantCol)
	val := a.tenantValue()
	if len(ins.Cols) == 0 {
		return sqlerr.New(sqlerr.Permission, "permission denied: INSERT into shared table %q must name its columns on tenant %q", lower(rv.Relname), a.tenant())
	}
	idx := -1
	for i, c := range ins.Cols {
		if lower(c.GetResTarget().GetName()) == col {
			idx = i
		}
	}
	sel := ins.SelectStmt.GetSelectStmt()
	if sel == nil {
		return sqlerr.New(sqlerr.Permission, "permission denied: INSERT ... DEFAULT VALUES into shared table %q on tenant %q", lower(rv.Relname), a.tenant())
	}
	a.litDep = true
	wrong := func() *sqlerr.Error {
		return sqlerr.New(sqlerr.CrossTenant, "permission denied: INSERT must set %q to this tenant's value on tenant %q", f.tenantCol, a.tenant())
	}
	if idx >= 0 {
		check := func(n *pg.Node) bool {
			s, ok := pgConstString(n)
			return ok && s == val
		}
		switch {
		case len(sel.ValuesLists) > 0:
			for _, row := range sel.ValuesLists {
				items := row.GetList().GetItems()
				if idx >= len(items) || !check(items[idx]) {
					return wrong()
				}
			}
		case sel.Op == pg.SetOperation_SETOP_NONE:
			if idx >= len(sel.TargetList) || !check(sel.TargetList[idx].GetResTarget().GetVal()) {
				return wrong()
			}
		default:
			return wrong()
		}
	} else {
		ins.Cols = append(ins.Cols, &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Name: f.tenantCol, Location: -1}}})
		switch {
		case len(sel.ValuesLists) > 0:
			for _, row := range sel.ValuesLists {
				l := row.GetList()
				if l == nil {
					return wrong()
				}
				l.Items = append(l.Items, pgConstStr(val))
			}
		case sel.Op == pg.SetOperation_SETOP_NONE:
			for _, t := range sel.TargetList {
				if c := t.GetResTarget().GetVal().GetColumnRef(); c != nil && c.Fields[len(c.Fields)-1].GetAStar() != nil {
					return sqlerr.New(sqlerr.Permission, "permission denied: INSERT ... SELECT * into shared table %q must list its columns on tenant %q", lower(rv.Relname), a.tenant())
				}
			}
			sel.TargetList = append(sel.TargetList, &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgConstStr(val), Location: -1}}})
		default:
			return sqlerr.New(sqlerr.Permission, "permission denied: INSERT from a set operation into shared table %q must name %q on tenant %q", lower(rv.Relname), f.tenantCol, a.tenant())
		}
	}
	if oc := ins.OnConflictClause; oc != nil && oc.Action == pg.OnConflictAction_ONCONFLICT_UPDATE {
		for _, t := range oc.TargetList {
			if lower(t.GetResTarget().GetName()) == col {
				return sqlerr.New(sqlerr.CrossTenant, "permission denied: ON CONFLICT DO UPDATE may not change column %q on tenant %q", f.tenantCol, a.tenant())
			}
		}
		q := rv.Relname
		if rv.Alias != nil {
			q = rv.Alias.Aliasname
		}
		// only ever update this tenant's existing row
		oc.WhereClause = pgAnd(oc.WhereClause, pgEq(pgColRef(q, f.tenantCol), pgConstStr(val)))
	}
	*handled++
	return nil
}

// Predicate templates.

const (
	markTenant = "\x02tp:tenant\x02"
	markUser   = "\x02tp:user\x02"
)

type predKey struct {
	d    Dialect
	text string
}

// pgPredicate returns the parsed predicate with {{tenant}} and {{user}}
// filled in as string constants. The parse is cached per predicate text.
func (e *Engine) pgPredicate(text, tenant, user string) (*pg.Node, error) {
	k := predKey{Postgres, text}
	v, ok := e.preds.Load(k)
	if !ok {
		n, err := parsePGPredicate(text)
		if err != nil {
			return nil, err
		}
		v, _ = e.preds.LoadOrStore(k, n)
	}
	n := proto.Clone(v.(*pg.Node)).(*pg.Node)
	pgWalkNode(n, func(m protoreflect.ProtoMessage) bool {
		if s, ok := m.(*pg.String); ok {
			s.Sval = strings.ReplaceAll(strings.ReplaceAll(s.Sval, markTenant, tenant), markUser, user)
		}
		return true
	})
	return n, nil
}

func predicateMarked(text string, q func(string) string) string {
	text = strings.ReplaceAll(text, "{{tenant}}", q(markTenant))
	return strings.ReplaceAll(text, "{{user}}", q(markUser))
}

func parsePGPredicate(text string) (*pg.Node, error) {
	src := "SELECT 1 WHERE " + predicateMarked(text, func(s string) string { return "'" + s + "'" })
	tree, err := pg.Parse(src)
	if err != nil {
		return nil, err
	}
	if len(tree.Stmts) != 1 {
		return nil, errPredicate
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || sel.WhereClause == nil || len(sel.FromClause) > 0 || sel.LimitCount != nil || len(sel.SortClause) > 0 {
		return nil, errPredicate
	}
	return sel.WhereClause, nil
}
