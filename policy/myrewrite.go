package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/model"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// myQuote quotes s as a MySQL string literal that means s under the default
// sql_mode (backslash escapes on).
func myQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}

// myPredicate parses a role predicate with {{tenant}}/{{user}} filled in as
// quoted literals. (TiDB AST nodes cannot be cloned, so it is parsed per use;
// Validate checks it parses at config load.)
func myPredicate(text, tenant, user string) (ast.ExprNode, error) {
	text = strings.ReplaceAll(text, "{{tenant}}", myQuote(tenant))
	text = strings.ReplaceAll(text, "{{user}}", myQuote(user))
	stmts, err := myParse("SELECT 1 FROM DUAL WHERE " + text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, errPredicate
	}
	sel, ok := stmts[0].(*ast.SelectStmt)
	if !ok || sel.Where == nil || sel.Limit != nil || sel.OrderBy != nil || sel.GroupBy != nil {
		return nil, errPredicate
	}
	return sel.Where, nil
}

// validatePredicate checks a row-filter predicate parses as one boolean
// expression in the Postgres or the MySQL grammar.
func validatePredicate(text string) error {
	_, pgErr := parsePGPredicate(text)
	if pgErr == nil {
		return nil
	}
	if _, err := myPredicate(text, "t", "u"); err == nil {
		return nil
	}
	return fmt.Errorf("predicate does not parse: %v", pgErr)
}

type myFilter struct {
	tenantCol string
	preds     []string
}

func (a *myStmt) tenantValue() string {
	if a.scope.TenantValue != "" {
		return a.scope.TenantValue
	}
	return a.scope.Tenant
}

func (a *myStmt) filterFor(rel string) *myFilter {
	var f *myFilter
	if a.s.tenantTable(strings.ToLower(rel)) {
		f = &myFilter{tenantCol: a.scope.TenantColumn}
	}
	for t, p := range a.role.RowFilters {
		if strings.EqualFold(t, rel) {
			if f == nil {
				f = &myFilter{}
			}
			f.preds = append(f.preds, p)
		}
	}
	return f
}

// where builds the filter predicate; qual qualifies the tenant column and the
// predicate's unqualified columns (outside sub-queries).
func (a *myStmt) where(f *myFilter, qual string) (ast.ExprNode, *sqlerr.Error) {
	var out ast.ExprNode
	and := func(e ast.ExprNode) {
		if out == nil {
			out = e
			return
		}
		out = &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: out, R: e}
	}
	if f.tenantCol != "" {
		col := &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: model.NewCIStr(f.tenantCol), Table: model.NewCIStr(qual)}}
		and(&ast.BinaryOperationExpr{Op: opcode.EQ, L: col, R: ast.NewValueExpr(a.tenantValue(), "", "")})
	}
	for _, p := range f.preds {
		e, err := myPredicate(p, a.tenantValue(), a.s.User)
		if err != nil {
			return nil, sqlerr.Wrap(sqlerr.Internal, err, "row filter does not parse")
		}
		if qual != "" {
			e.Accept(&myQualifier{qual: qual})
		}
		and(&ast.ParenthesesExpr{Expr: e})
	}
	return out, nil
}

type myQualifier struct{ qual string }

func (q *myQualifier) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.ColumnName:
		if x.Table.L == "" {
			x.Table = model.NewCIStr(q.qual)
		}
	}
	return n, false
}

func (q *myQualifier) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func myAndWhere(where ast.ExprNode, pred ast.ExprNode) ast.ExprNode {
	if where == nil {
		return pred
	}
	return &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: &ast.ParenthesesExpr{Expr: where}, R: &ast.ParenthesesExpr{Expr: pred}}
}

// rowFilters: FROM-list tables become (SELECT * FROM t WHERE pred) AS t;
// UPDATE/DELETE tables get the predicate ANDed to the WHERE, qualified by
// their alias; INSERT gets the tenant column filled in or checked. A filtered
// reference the rewrite does not reach is refused.
func (a *myStmt) rowFilters() *sqlerr.Error {
	if len(a.role.RowFilters) == 0 && !a.s.hasTenantTables() {
		return nil
	}
	filters := map[string]*myFilter{}
	need := 0
	for t := range a.refs {
		if why := a.s.refusedTable(t.Name.L); why != "" {
			return sqlerr.New(sqlerr.CrossTenant, "permission denied: table %q cannot be read on tenant %q: %s", t.Name.L, a.tenant(), why)
		}
		f, ok := filters[t.Name.L]
		if !ok {
			f = a.filterFor(t.Name.L)
			filters[t.Name.L] = f
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
	var wrapJoin func(r ast.ResultSetNode)
	wrapJoin = func(r ast.ResultSetNode) {
		switch x := r.(type) {
		case *ast.Join:
			if x.Left != nil {
				wrapJoin(x.Left)
			}
			if x.Right != nil {
				wrapJoin(x.Right)
			}
		case *ast.TableSource:
			tn, ok := x.Source.(*ast.TableName)
			if !ok || !a.refs[tn] {
				return
			}
			f := filters[tn.Name.L]
			if f == nil {
				return
			}
			if tn.TableSample != nil || tn.AsOf != nil {
				return // not handled: refused below
			}
			pred, err := a.where(f, "")
			if err != nil {
				ferr = err
				return
			}
			alias := x.AsName
			if alias.L == "" {
				alias = tn.Name
			}
			x.Source = &ast.SelectStmt{
				SelectStmtOpts: &ast.SelectStmtOpts{SQLCache: true},
				Kind:           ast.SelectStmtKindSelect,
				Fields:         &ast.FieldList{Fields: []*ast.SelectField{{WildCard: &ast.WildCardField{}}}},
				From:           &ast.TableRefsClause{TableRefs: &ast.Join{Left: &ast.TableSource{Source: tn}}},
				Where:          pred,
			}
			x.AsName = alias
			handled++
		}
	}
	for _, s := range a.selects {
		if s.From != nil && s.From.TableRefs != nil {
			myTableToSelect(s)
			wrapJoin(s.From.TableRefs)
		}
	}
	// UPDATE / DELETE: every table of the top-level table references gets
	// the predicate in the WHERE (MySQL cannot update through a derived
	// table). Sub-queries were handled above.
	var targets func(r ast.ResultSetNode, where *ast.ExprNode)
	targets = func(r ast.ResultSetNode, where *ast.ExprNode) {
		switch x := r.(type) {
		case *ast.Join:
			if x.Left != nil {
				targets(x.Left, where)
			}
			if x.Right != nil {
				targets(x.Right, where)
			}
		case *ast.TableSource:
			tn, ok := x.Source.(*ast.TableName)
			if !ok || !a.refs[tn] {
				return
			}
			f := filters[tn.Name.L]
			if f == nil {
				return
			}
			q := x.AsName.O
			if q == "" {
				q = tn.Name.O
			}
			pred, err := a.where(f, q)
			if err != nil {
				ferr = err
				return
			}
			*where = myAndWhere(*where, pred)
			handled++
		}
	}
	switch x := a.stmt.(type) {
	case *ast.UpdateStmt:
		if x.TableRefs != nil && x.TableRefs.TableRefs != nil {
			for _, as := range x.List {
				if f := filters[as.Column.Table.L]; as.Column.Table.L != "" && f != nil && strings.EqualFold(as.Column.Name.L, f.tenantCol) {
					return a.noTenantChange()
				}
				if a.scope.Isolation == IsolationRow && strings.EqualFold(as.Column.Name.L, a.scope.TenantColumn) {
					return a.noTenantChange()
				}
			}
			targets(x.TableRefs.TableRefs, &x.Where)
		}
	case *ast.DeleteStmt:
		if x.TableRefs != nil && x.TableRefs.TableRefs != nil {
			targets(x.TableRefs.TableRefs, &x.Where)
		}
	case *ast.InsertStmt:
		if err := a.insertFilter(x, filters, &handled); err != nil {
			return err
		}
	}
	if ferr != nil {
		return ferr
	}
	if handled != need {
		var names []string
		for t := range a.refs {
			if filters[t.Name.L] != nil {
				names = append(names, t.Name.L)
			}
		}
		sort.Strings(names)
		return sqlerr.New(sqlerr.Permission, "permission denied: %s cannot be run on table %q with its row filter on tenant %q", a.st.Kind, names[0], a.tenant())
	}
	a.rewritten = true
	return nil
}

// myTableToSelect turns TABLE t into SELECT * FROM t, whose FROM item can
// become a derived table (TABLE takes a table name only).
func myTableToSelect(s *ast.SelectStmt) {
	if s.Kind != ast.SelectStmtKindTable {
		return
	}
	s.Kind = ast.SelectStmtKindSelect
	if s.SelectStmtOpts == nil {
		s.SelectStmtOpts = &ast.SelectStmtOpts{SQLCache: true}
	}
	s.Fields = &ast.FieldList{Fields: []*ast.SelectField{{WildCard: &ast.WildCardField{}}}}
}

func (a *myStmt) noTenantChange() *sqlerr.Error {
	return sqlerr.New(sqlerr.CrossTenant, "permission denied: UPDATE may not change column %q on tenant %q", a.scope.TenantColumn, a.tenant())
}

func (a *myStmt) insertFilter(ins *ast.InsertStmt, filters map[string]*myFilter, handled *int) *sqlerr.Error {
	if ins.Table == nil || ins.Table.TableRefs == nil {
		return nil
	}
	ts, ok := ins.Table.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil
	}
	f := filters[tn.Name.L]
	if f == nil {
		return nil
	}
	if len(f.preds) > 0 {
		return sqlerr.New(sqlerr.Permission, "permission denied: INSERT into table %q with a row filter is not allowed for role %q", tn.Name.L, a.role.Name)
	}
	a.litDep = true
	val := a.tenantValue()
	wrong := func() *sqlerr.Error {
		return sqlerr.New(sqlerr.CrossTenant, "permission denied: INSERT must set %q to this tenant's value on tenant %q", f.tenantCol, a.tenant())
	}
	for _, as := range ins.OnDuplicate {
		if strings.EqualFold(as.Column.Name.L, f.tenantCol) {
			return sqlerr.New(sqlerr.CrossTenant, "permission denied: ON DUPLICATE KEY UPDATE may not change column %q on tenant %q", f.tenantCol, a.tenant())
		}
	}
	if len(ins.OnDuplicate) > 0 || ins.IsReplace {
		// The existing row a duplicate key hits may belong to another
		// tenant; MySQL has no WHERE on ON DUPLICATE KEY UPDATE / REPLACE.
		return sqlerr.New(sqlerr.Permission, "permission denied: %s on shared table %q is not allowed on tenant %q", map[bool]string{true: "REPLACE", false: "INSERT ... ON DUPLICATE KEY UPDATE"}[ins.IsReplace], tn.Name.L, a.tenant())
	}
	check := func(e ast.ExprNode) bool {
		v, ok := e.(*driver.ValueExpr)
		return ok && v.Kind() != driver.KindNull && v.GetDatumString() == val
	}
	if len(ins.Columns) == 0 {
		return sqlerr.New(sqlerr.Permission, "permission denied: INSERT into shared table %q must name its columns on tenant %q", tn.Name.L, a.tenant())
	}
	idx := -1
	for i, c := range ins.Columns {
		if strings.EqualFold(c.Name.L, f.tenantCol) {
			idx = i
		}
	}
	if idx >= 0 {
		switch {
		case len(ins.Lists) > 0:
			for _, row := range ins.Lists {
				if idx >= len(row) || !check(row[idx]) {
					return wrong()
				}
			}
		case ins.Select != nil:
			sel, ok := ins.Select.(*ast.SelectStmt)
			if !ok || sel.Fields == nil || idx >= len(sel.Fields.Fields) || sel.Fields.Fields[idx].Expr == nil || !check(sel.Fields.Fields[idx].Expr) {
				return wrong()
			}
		default:
			return wrong()
		}
	} else {
		ins.Columns = append(ins.Columns, &ast.ColumnName{Name: model.NewCIStr(f.tenantCol)})
		switch {
		case len(ins.Lists) > 0:
			for i := range ins.Lists {
				ins.Lists[i] = append(ins.Lists[i], ast.NewValueExpr(val, "", ""))
			}
		case ins.Select != nil:
			sel, ok := ins.Select.(*ast.SelectStmt)
			if !ok || sel.Fields == nil {
				return sqlerr.New(sqlerr.Permission, "permission denied: INSERT from a set operation into shared table %q must name %q on tenant %q", tn.Name.L, f.tenantCol, a.tenant())
			}
			for _, fl := range sel.Fields.Fields {
				if fl.WildCard != nil {
					return sqlerr.New(sqlerr.Permission, "permission denied: INSERT ... SELECT * into shared table %q must list its columns on tenant %q", tn.Name.L, a.tenant())
				}
			}
			sel.Fields.Fields = append(sel.Fields.Fields, &ast.SelectField{Expr: ast.NewValueExpr(val, "", "")})
		default:
			return wrong()
		}
	}
	*handled++
	return nil
}

// myInfoSchemaDB names, for each information_schema table that lists objects
// of several databases, the column holding the database. Those tables are
// filtered to the tenant's own database. Tables listed as "" are global and
// harmless (character sets, collations, keywords); every other
// information_schema table (PROCESSLIST, INNODB_*, status and privilege
// tables) is refused: they show other tenants' sessions, SQL or data.
var myInfoSchemaDB = map[string]string{
	"schemata": "SCHEMA_NAME", "tables": "TABLE_SCHEMA", "columns": "TABLE_SCHEMA",
	"statistics": "TABLE_SCHEMA", "views": "TABLE_SCHEMA", "routines": "ROUTINE_SCHEMA",
	"triggers": "TRIGGER_SCHEMA", "key_column_usage": "TABLE_SCHEMA", "table_constraints": "TABLE_SCHEMA",
	"referential_constraints": "CONSTRAINT_SCHEMA", "check_constraints": "CONSTRAINT_SCHEMA",
	"partitions": "TABLE_SCHEMA", "events": "EVENT_SCHEMA", "parameters": "SPECIFIC_SCHEMA",
	"schema_privileges": "TABLE_SCHEMA", "table_privileges": "TABLE_SCHEMA", "column_privileges": "TABLE_SCHEMA",
	"character_sets": "", "collations": "", "collation_character_set_applicability": "",
	"keywords": "", "sql_functions": "", "engines": "",
}

// infoTable records or refuses a reference to an information_schema table.
func (a *myStmt) infoTable(t *ast.TableName) {
	col, ok := myInfoSchemaDB[t.Name.L]
	if !ok {
		a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: information_schema.%s is not available on tenant %q (it shows other tenants' sessions or data)", t.Name.O, a.tenant()))
		return
	}
	if col != "" {
		a.infoRefs[t] = col
	}
}

// infoSchemaFilters turns every information_schema table with a database
// column into (SELECT * FROM information_schema.t WHERE col = '<own db>') AS t.
// A reference the rewrite does not reach is refused.
func (a *myStmt) infoSchemaFilters() *sqlerr.Error {
	if len(a.infoRefs) == 0 {
		return nil
	}
	handled := 0
	var wrap func(r ast.ResultSetNode)
	wrap = func(r ast.ResultSetNode) {
		switch x := r.(type) {
		case *ast.Join:
			if x.Left != nil {
				wrap(x.Left)
			}
			if x.Right != nil {
				wrap(x.Right)
			}
		case *ast.TableSource:
			tn, ok := x.Source.(*ast.TableName)
			if !ok {
				return
			}
			col, ok := a.infoRefs[tn]
			if !ok {
				return
			}
			alias := x.AsName
			if alias.L == "" {
				alias = tn.Name
			}
			pred := &ast.BinaryOperationExpr{
				Op: opcode.EQ,
				L:  &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: model.NewCIStr(col)}},
				R:  ast.NewValueExpr(a.scope.Database, "", ""),
			}
			x.Source = &ast.SelectStmt{
				SelectStmtOpts: &ast.SelectStmtOpts{SQLCache: true},
				Kind:           ast.SelectStmtKindSelect,
				Fields:         &ast.FieldList{Fields: []*ast.SelectField{{WildCard: &ast.WildCardField{}}}},
				From:           &ast.TableRefsClause{TableRefs: &ast.Join{Left: &ast.TableSource{Source: tn}}},
				Where:          pred,
			}
			x.AsName = alias
			handled++
		}
	}
	for _, s := range a.selects {
		if s.From != nil && s.From.TableRefs != nil {
			myTableToSelect(s)
			wrap(s.From.TableRefs)
		}
	}
	if handled != len(a.infoRefs) {
		return sqlerr.New(sqlerr.CrossTenant, "permission denied: %s cannot read information_schema on tenant %q", a.st.Kind, a.tenant())
	}
	a.rewritten = true
	a.litDep = true
	return nil
}
