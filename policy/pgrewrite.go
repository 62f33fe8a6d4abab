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

// pgCopyAsQuery turns COPY t [(cols)] TO ... into COPY (SELECT cols FROM
// ONLY t) TO ... (COPY t TO copies the rows of t alone, not those of its
// children) and returns the FROM item.
func pgCopyAsQuery(c *pg.CopyStmt) *pg.Node {
	var tl []*pg.Node
	for _, col := range c.Attlist {
		tl = append(tl, &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgColRef(col.GetString_().GetSval()), Location: -1}}})
	}
	if len(tl) == 0 {
		tl = []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgStar(), Location: -1}}}}
	}
	rv := c.Relation
	rv.Inh = false
	fromNode := &pg.Node{Node: &pg.Node_RangeVar{RangeVar: rv}}
	c.Query = &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{TargetList: tl,
		FromClause: []*pg.Node{fromNode}, Op: pg.SetOperation_SETOP_NONE}}}
	c.Relation, c.Attlist = nil, nil
	return fromNode
}

// pgReturns reports whether n is a top-level INSERT, UPDATE or DELETE
// with RETURNING.
func pgReturns(n *pg.Node) bool {
	switch {
	case n.GetInsertStmt() != nil:
		return len(n.GetInsertStmt().ReturningList) > 0
	case n.GetUpdateStmt() != nil:
		return len(n.GetUpdateStmt().ReturningList) > 0
	case n.GetDeleteStmt() != nil:
		return len(n.GetDeleteStmt().ReturningList) > 0
	}
	return false
}

// capTop injects or lowers the LIMIT of the top-level query to MaxRows.
// COPY table TO becomes COPY (SELECT * FROM ONLY table LIMIT n) TO.
// LIMIT and FETCH FIRST share the node; an expression or parameter count
// becomes LEAST(count, n); WITH TIES (which may return more rows) wraps the
// query as SELECT * FROM (query) AS _tp_capped LIMIT n.
//
// A plain SELECT gets n+1 and Stmt.Cap = n, so the front end can tell a
// client whether rows were really withheld; COPY, DECLARE CURSOR and
// PREPARE, whose rows the front end does not count, get n exactly.
func (a *pgStmt) capTop() {
	if c := a.raw.Stmt.GetCopyStmt(); c != nil && !c.IsFrom && c.Relation != nil && c.Query == nil {
		pgCopyAsQuery(c)
		a.rewritten = true
	}
	if pgReturns(a.raw.Stmt) {
		// INSERT/UPDATE/DELETE ... RETURNING: no LIMIT can apply, the front
		// end forwards at most n of the rows it returns (Stmt.Cap).
		a.st.Cap, a.capped = a.role.MaxRows, true
		return
	}
	h := a.topQuery()
	if h == nil {
		return
	}
	sel := h.GetSelectStmt()
	if sel.IntoClause != nil {
		return
	}
	n, limit := a.role.MaxRows, a.role.MaxRows
	counted := a.raw.Stmt.GetSelectStmt() != nil
	if counted {
		limit = n + 1
	}
	defer func() {
		if a.capped && counted {
			a.st.Cap = n
		}
	}()
	if sel.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES {
		inner := &pg.Node{Node: h.Node}
		h.Node = &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
			TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: pgStar(), Location: -1}}}},
			FromClause: []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{
				Subquery: inner, Alias: &pg.Alias{Aliasname: "_tp_capped"}}}}},
			LimitCount:  pgConstInt(limit),
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
		sel.LimitCount = pgConstInt(limit)
	case sel.LimitCount.GetAConst() != nil && sel.LimitCount.GetAConst().Isnull:
		sel.LimitCount = pgConstInt(limit) // LIMIT ALL / LIMIT NULL
	case sel.LimitCount.GetAConst().GetIval() != nil:
		if int(sel.LimitCount.GetAConst().GetIval().Ival) <= n {
			return // the client's own limit is already within the cap
		}
		sel.LimitCount = pgConstInt(limit)
	default:
		sel.LimitCount = &pg.Node{Node: &pg.Node_MinMaxExpr{MinMaxExpr: &pg.MinMaxExpr{
			Op: pg.MinMaxOp_IS_LEAST, Args: []*pg.Node{sel.LimitCount, pgConstInt(limit)}, Location: -1}}}
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
// SELECT whose rows reach the front end (which masks them). Everything else
// that names it (or might: same column name in any table, whole-row
// references, * in set operations or sub-links, column alias lists that
// rename it, JOIN USING / NATURAL JOIN on it, positional ORDER BY / GROUP BY
// that may land on it) is refused, and so are statements whose output the
// front end cannot mask: COPY ... TO, DECLARE CURSOR and PREPARE (FETCH and
// EXECUTE name no table), SELECT INTO.
func (a *pgStmt) checkMasks() *sqlerr.Error {
	cols := a.maskedCols()
	if len(cols) == 0 {
		return nil
	}
	mk := a.newMaskScope()
	if err := a.copyMasked(cols, mk); err != nil {
		return err
	}
	allowed := map[*pg.ColumnRef]bool{}
	aliasMasked := map[string]bool{}
	starOK := map[*pg.SelectStmt]bool{}
	maskOut := false // the top-level output carries masked values
	var top *pg.SelectStmt
	if h := a.topQuery(); h != nil {
		top = h.GetSelectStmt()
	}
	if top != nil && top.Op == pg.SetOperation_SETOP_NONE && len(top.DistinctClause) == 0 {
		for _, t := range top.TargetList {
			rt := t.GetResTarget()
			cr := rt.GetVal().GetColumnRef()
			if cr == nil {
				continue
			}
			allowed[cr] = true
			last := cr.Fields[len(cr.Fields)-1]
			if s := last.GetString_(); s != nil && len(cr.Fields) == 1 && mk.ranges[lower(s.Sval)] {
				return a.wholeRowErr(lower(s.Sval))
			}
			if s := last.GetString_(); s != nil && cols[lower(s.Sval)] || last.GetAStar() != nil {
				maskOut = true
				if rt.Name != "" {
					aliasMasked[lower(rt.Name)] = true
				}
			}
		}
		starOK[top] = true
	}
	a.maskOut = maskOut
	if maskOut {
		if what := a.unmaskableOutput(top); what != "" {
			return sqlerr.New(sqlerr.Permission, "permission denied: %s of masked columns is not allowed for role %q (its rows cannot be masked); list the columns you need without them", what, a.role.Name)
		}
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
		case *pg.RangeVar:
			if x.Alias != nil && len(x.Alias.Colnames) > 0 && mk.rangeVarMasked(x) {
				err = a.aliasListErr(x.Alias.Aliasname)
				return false
			}
		case *pg.RangeSubselect:
			if x.Alias != nil && len(x.Alias.Colnames) > 0 && mk.reads(x.Subquery) {
				err = a.aliasListErr(x.Alias.Aliasname)
				return false
			}
			if s := x.Subquery.GetSelectStmt(); s != nil && s.Op == pg.SetOperation_SETOP_NONE {
				starOK[s] = true
			}
		case *pg.JoinExpr:
			if x.Alias != nil && len(x.Alias.Colnames) > 0 && mk.readsMsg(x) {
				err = a.aliasListErr(x.Alias.Aliasname)
				return false
			}
			if x.IsNatural && (mk.reads(x.Larg) || mk.reads(x.Rarg)) {
				err = sqlerr.New(sqlerr.Permission, "permission denied: NATURAL JOIN with a table with masked columns is not allowed for role %q; join ON the columns you need", a.role.Name)
				return false
			}
			for _, u := range x.UsingClause {
				if n := lower(u.GetString_().GetSval()); cols[n] {
					err = a.maskErr(n)
					return false
				}
			}
		case *pg.CommonTableExpr:
			if len(x.Aliascolnames) > 0 && mk.reads(x.Ctequery) {
				err = a.aliasListErr(x.Ctename)
				return false
			}
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
				for _, t := range x.TargetList {
					if cr := t.GetResTarget().GetVal().GetColumnRef(); cr != nil && starOK[x] {
						if cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
							allowed[cr] = true
						}
					}
				}
			}
			if e := a.positional(x, cols, mk); e != nil {
				err = e
				return false
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
			if e := a.rowFuncRef(x, mk); e != nil {
				err = e
				return false
			}
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
					err = a.wholeRowErr(name)
					return false
				}
			}
		}
		return true
	}
	pgWalkNode(a.raw.Stmt, visit)
	return err
}

// pgRowFuncs are the built-in functions (and aggregates) that take one
// argument of any row type. Postgres reads r.f, when f is no column of r, as
// the call f(r) on r's whole row (and s.t.f likewise): i.to_jsonb returns
// every column of i in clear, with no origin to mask by.
var pgRowFuncs = map[string]bool{
	"any_out": true, "anycompatible_out": true, "anycompatiblenonarray_out": true, "anyelement_out": true,
	"anynonarray_out": true, "concat": true, "hash_record": true, "json_build_array": true,
	"json_build_object": true, "jsonb_build_array": true, "jsonb_build_object": true, "num_nonnulls": true,
	"num_nulls": true, "pg_collation_for": true, "pg_column_compression": true, "pg_column_size": true,
	"pg_typeof": true, "quote_literal": true, "quote_nullable": true, "record_out": true,
	"record_send": true, "row_to_json": true, "to_json": true, "to_jsonb": true,
	"array_agg": true, "count": true, "cume_dist": true, "dense_rank": true, "first_value": true,
	"json_agg": true, "jsonb_agg": true, "lag": true, "last_value": true, "lead": true, "mode": true,
	"percent_rank": true, "rank": true,
}

// rowFuncRef refuses r.f (or s.r.f) on a range with masked columns when f
// names a function over a whole row.
func (a *pgStmt) rowFuncRef(cr *pg.ColumnRef, mk *pgMaskScope) *sqlerr.Error {
	if len(cr.Fields) < 2 {
		return nil
	}
	rng := cr.Fields[len(cr.Fields)-2].GetString_()
	fn := cr.Fields[len(cr.Fields)-1].GetString_()
	if rng == nil || fn == nil || !mk.ranges[lower(rng.Sval)] {
		return nil
	}
	// A function of the database's own (known only from a row tenant's
	// catalog snapshot) may take the table's row type.
	own := a.s.Tables != nil && a.s.Tables.Funcs[lower(fn.Sval)]
	if !pgRowFuncs[lower(fn.Sval)] && !own {
		return nil
	}
	return sqlerr.New(sqlerr.Permission, "permission denied: %s.%s calls %s() on the whole row of %q, which has masked columns, and is not allowed for role %q", lower(rng.Sval), lower(fn.Sval), lower(fn.Sval), lower(rng.Sval), a.role.Name)
}

func (a *pgStmt) wholeRowErr(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: whole-row reference %q to a table with masked columns is not allowed for role %q", name, a.role.Name)
}

func (a *pgStmt) aliasListErr(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: a column alias list on %q (which reads a table with masked columns) is not allowed for role %q; alias the columns in the select list instead", name, a.role.Name)
}

// unmaskableOutput names the statement kinds whose rows bypass the front
// end's masking, or "".
func (a *pgStmt) unmaskableOutput(top *pg.SelectStmt) string {
	switch x := a.raw.Stmt.Node.(type) {
	case *pg.Node_CopyStmt:
		if !x.CopyStmt.IsFrom {
			return "COPY TO"
		}
	case *pg.Node_DeclareCursorStmt:
		return "DECLARE CURSOR"
	case *pg.Node_PrepareStmt:
		return "PREPARE"
	}
	if top != nil && top.IntoClause != nil {
		return "SELECT INTO"
	}
	return ""
}

// copyMasked refuses COPY table TO of a table with masked columns, unless its
// column list leaves them out.
func (a *pgStmt) copyMasked(cols map[string]bool, mk *pgMaskScope) *sqlerr.Error {
	c := a.raw.Stmt.GetCopyStmt()
	if c == nil || c.IsFrom || c.Relation == nil || !mk.rangeVarMasked(c.Relation) {
		return nil
	}
	if len(c.Attlist) == 0 {
		return sqlerr.New(sqlerr.Permission, "permission denied: COPY TO of table %q with masked columns is not allowed for role %q (COPY data cannot be masked); list the columns you need without them", lower(c.Relation.Relname), a.role.Name)
	}
	for _, n := range c.Attlist {
		if name := lower(n.GetString_().GetSval()); cols[name] {
			return sqlerr.New(sqlerr.Permission, "permission denied: COPY TO of masked column %q is not allowed for role %q (COPY data cannot be masked)", name, a.role.Name)
		}
	}
	return nil
}

// positional refuses ORDER BY / GROUP BY / DISTINCT ON by a position that is
// or may be (at or after a *) a masked column or a whole-row reference.
// Positions over set operations are fine: their branches cannot output
// masked columns.
func (a *pgStmt) positional(sel *pg.SelectStmt, cols map[string]bool, mk *pgMaskScope) *sqlerr.Error {
	if sel.Op != pg.SetOperation_SETOP_NONE {
		return nil
	}
	masked := func(pos int) bool {
		for i, t := range sel.TargetList {
			cr := t.GetResTarget().GetVal().GetColumnRef()
			if cr == nil {
				if i == pos-1 {
					return false
				}
				continue
			}
			last := cr.Fields[len(cr.Fields)-1]
			if last.GetAStar() != nil {
				return true // the position may fall in or after its expansion
			}
			if i == pos-1 {
				name := lower(last.GetString_().GetSval())
				return cols[name] || len(cr.Fields) == 1 && mk.ranges[name]
			}
		}
		return false
	}
	check := func(n *pg.Node) *sqlerr.Error {
		if c := n.GetAConst(); c != nil {
			a.litDep = true
			if iv := c.GetIval(); iv != nil && masked(int(iv.Ival)) {
				return sqlerr.New(sqlerr.Permission, "permission denied: ordering or grouping by position %d (a masked column, or a position a * may cover) is not allowed for role %q; name the column instead", iv.Ival, a.role.Name)
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

// viewRules refuses a view (or materialized view) whose reads escape the
// role's read rules (Subject.viewRule): the origin of its result columns
// is the view. Only a catalog snapshot knows the views.
func (a *pgStmt) viewRules() *sqlerr.Error {
	if a.s.Tables == nil || len(a.s.Tables.Views) == 0 || !a.role.ReadRules() {
		return nil
	}
	var err *sqlerr.Error
	pgWalkNode(a.raw.Stmt, func(m protoreflect.ProtoMessage) bool {
		rv, ok := m.(*pg.RangeVar)
		if !ok || err != nil {
			return err == nil
		}
		view := lower(rv.Relname)
		if rel := a.s.viewRule(view, a.role); rel != "" {
			err = viewRuleErr(view, rel, a.role)
			return false
		}
		return true
	})
	return err
}

// pgMaskScope knows which relations of the statement carry masked values:
// tables with masked columns, CTEs whose body reads one (transitively), and
// the names (tables, aliases, CTEs, sub-select and join aliases) under which
// such rows can be referenced whole.
type pgMaskScope struct {
	tables map[string]bool // referenced tables with masked columns
	ctes   map[string]bool // CTE names whose body reads masked rows
	ranges map[string]bool // range names whose whole row carries masked values
}

func (a *pgStmt) newMaskScope() *pgMaskScope {
	mk := &pgMaskScope{tables: map[string]bool{}, ctes: map[string]bool{}, ranges: map[string]bool{}}
	for _, m := range a.masks {
		tbl, _, _ := strings.Cut(m, ".")
		mk.tables[tbl] = true
	}
	var ctes []*pg.CommonTableExpr
	pgWalkNode(a.raw.Stmt, func(m protoreflect.ProtoMessage) bool {
		if c, ok := m.(*pg.CommonTableExpr); ok {
			ctes = append(ctes, c)
		}
		return true
	})
	// A CTE may read another (or itself): iterate to a fixpoint. Names are
	// compared without scoping, which can only mark more CTEs.
	for changed := true; changed; {
		changed = false
		for _, c := range ctes {
			n := lower(c.Ctename)
			if !mk.ctes[n] && mk.reads(c.Ctequery) {
				mk.ctes[n] = true
				changed = true
			}
		}
	}
	for n := range mk.ctes {
		mk.ranges[n] = true
	}
	// Ranges: masked tables, then (to a fixpoint, since a LATERAL
	// sub-select may read an outer range by reference) sub-selects and joins
	// that read them.
	for n := -1; n != len(mk.ranges); {
		n = len(mk.ranges)
		mk.markRanges(a.raw.Stmt)
	}
	return mk
}

func (mk *pgMaskScope) markRanges(stmt *pg.Node) {
	pgWalkNode(stmt, func(m protoreflect.ProtoMessage) bool {
		switch x := m.(type) {
		case *pg.RangeVar:
			if mk.rangeVarMasked(x) {
				mk.ranges[lower(x.Relname)] = true
				if x.Alias != nil {
					mk.ranges[lower(x.Alias.Aliasname)] = true
				}
			}
		case *pg.RangeSubselect:
			if x.Alias != nil && mk.reads(x.Subquery) {
				mk.ranges[lower(x.Alias.Aliasname)] = true
			}
		case *pg.JoinExpr:
			if x.Alias != nil && mk.readsMsg(x) {
				mk.ranges[lower(x.Alias.Aliasname)] = true
			}
		}
		return true
	})
}

// rangeVarMasked reports whether rv reads a table with masked columns or a
// CTE that does.
func (mk *pgMaskScope) rangeVarMasked(rv *pg.RangeVar) bool {
	rel := lower(rv.Relname)
	return mk.tables[rel] || rv.Schemaname == "" && mk.ctes[rel]
}

// reads reports whether the subtree n reads masked rows.
func (mk *pgMaskScope) reads(n *pg.Node) bool {
	if n == nil {
		return false
	}
	return mk.readsMsg(n)
}

func (mk *pgMaskScope) readsMsg(m protoreflect.ProtoMessage) bool {
	found := false
	pgWalk(m.ProtoReflect(), func(m protoreflect.ProtoMessage) bool {
		if found {
			return false
		}
		switch x := m.(type) {
		case *pg.RangeVar:
			found = mk.rangeVarMasked(x)
		case *pg.ColumnRef:
			// A LATERAL sub-select reads the masked rows of an outer range
			// through a qualified reference (i.*, schema.t.*): any
			// qualifier naming such a range counts.
			for _, f := range x.Fields[:len(x.Fields)-1] {
				if s := f.GetString_(); s != nil && mk.ranges[lower(s.Sval)] {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

// Row filters.

// pgFilter is the predicates that apply to one table, built for this
// statement (values already filled in).
type pgFilter struct {
	tenantCol string     // row isolation: tenant column, "" if not a tenant table
	preds     []*pg.Node // role predicates (unqualified column references)
	// fence keeps the client's conditions out of the filtered subquery
	// (OFFSET 0): a catalog filter must run before any condition the
	// client wrote, or an error the client's condition raises (a failed
	// cast) would show another tenant's names.
	fence bool
}

// fenceOffset is OFFSET 0 for a fenced filter (the planner neither pulls
// such a subquery up nor pushes outer conditions into it), else nil.
func fenceOffset(fence bool) *pg.Node {
	if fence {
		return pgConstInt(0)
	}
	return nil
}

// pgFilterKey keys the filters of a statement: schema and relation name
// (catalog filters depend on both).
func pgFilterKey(rv *pg.RangeVar) string {
	if rv == nil {
		return ""
	}
	return lower(rv.Schemaname) + "." + lower(rv.Relname)
}

// filterFor returns the filter of table reference rv, or nil.
func (a *pgStmt) filterFor(rv *pg.RangeVar) (*pgFilter, *sqlerr.Error) {
	rel := lower(rv.Relname)
	var f *pgFilter
	if p := a.catalogPred(rv); p != "" {
		pred, err := a.e.pgPredicate(p, a.scope.Schema, a.s.User)
		if err != nil {
			return nil, sqlerr.Wrap(sqlerr.Internal, err, "catalog filter of %q does not parse", rel)
		}
		f = &pgFilter{preds: []*pg.Node{pred}, fence: true}
	}
	if a.s.tenantTable(rel) {
		f = &pgFilter{tenantCol: a.scope.TenantColumn}
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
	if len(a.role.RowFilters) == 0 && !a.s.hasTenantTables() && !a.catalogFiltered {
		return nil
	}
	filters := map[string]*pgFilter{}
	need := 0
	for rv := range a.refs {
		if why := a.s.refusedTable(lower(rv.Relname)); why != "" {
			return sqlerr.New(sqlerr.CrossTenant, "permission denied: relation %q cannot be read on tenant %q: %s", lower(rv.Relname), a.tenant(), why)
		}
		key := pgFilterKey(rv)
		f, ok := filters[key]
		if !ok {
			var err *sqlerr.Error
			f, err = a.filterFor(rv)
			if err != nil {
				return err
			}
			filters[key] = f
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
		f := filters[pgFilterKey(rv)]
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
				LimitOffset: fenceOffset(f.fence),
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
		f := filters[pgFilterKey(rv)]
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
		if f := filters[pgFilterKey(u.Relation)]; f != nil && f.tenantCol != "" {
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
		if c.Relation != nil && !c.IsFrom && filters[pgFilterKey(c.Relation)] != nil {
			// COPY t [(cols)] TO STDOUT -> COPY (SELECT cols FROM ONLY t') TO STDOUT
			wrap(pgCopyAsQuery(c))
		}
	}
	if ferr != nil {
		return ferr
	}
	if handled != need {
		var names []string
		for rv := range a.refs {
			if filters[pgFilterKey(rv)] != nil {
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
	f := filters[pgFilterKey(rv)]
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
