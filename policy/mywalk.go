package policy

import (
	"reflect"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// The TiDB AST's Accept methods do not visit every table name a statement
// holds (OPTIMIZE TABLE's list, SHOW CREATE PROCEDURE's name, table
// options): myTableNames finds them all by walking the node's fields, so
// that none escapes the cross-tenant checks.

// myTableNames returns every *ast.TableName reachable from n.
func myTableNames(n ast.Node) []*ast.TableName { return myFind[*ast.TableName](n) }

// myFind returns every node of type T (a pointer type) reachable from n
// through its fields, whether or not the node's Accept visits it.
func myFind[T any](n ast.Node) []T {
	want := reflect.TypeFor[T]()
	var out []T
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 200 {
			return
		}
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			p := v.Pointer()
			if seen[p] {
				return
			}
			seen[p] = true
			if v.Type() == want {
				out = append(out, v.Interface().(T))
			}
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() || v.Field(i).Kind() == reflect.Struct {
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), depth+1)
			}
		}
	}
	walk(reflect.ValueOf(n), 0)
	return out
}

// ownFuncs refuses calls of the database's stored functions (Subject.ownFunc)
// wherever the statement holds one, reached by the visitor or not.
func (a *myStmt) ownFuncs() {
	if a.s.Tables == nil || len(a.s.Tables.Funcs) == 0 {
		return
	}
	for _, f := range myFind[*ast.FuncCallExpr](a.stmt) {
		if err := a.s.ownFunc(f.FnName.L, "function "+f.FnName.L+"()", a.role); err != nil {
			a.fail(err)
			return
		}
	}
}

// unvisitedTables checks the table names the visitor did not reach like
// those it did.
func (a *myStmt) unvisitedTables() {
	for _, t := range myTableNames(a.stmt) {
		if a.err != nil {
			return
		}
		if !a.visited[t] {
			a.tableName(t)
		}
	}
}

// procLocals collects the parameters and DECLAREd variables of a stored
// procedure: a SET of one of them inside the body is a local assignment,
// any other SET is a session statement and checked as one.
func (a *myStmt) procLocals(p *ast.ProcedureInfo) {
	if a.locals == nil {
		a.locals = map[string]bool{}
	}
	for _, prm := range p.ProcedureParam {
		a.locals[strings.ToLower(prm.ParamName)] = true
	}
	p.Accept(&myCollector{fn: func(n ast.Node) {
		if d, ok := n.(*ast.ProcedureDecl); ok {
			for _, nm := range d.DeclNames {
				a.locals[strings.ToLower(nm)] = true
			}
		}
	}})
}

// nestedSet checks a SET inside a stored program like a session statement
// of its own, apart from assignments to the program's local variables.
func (a *myStmt) nestedSet(x *ast.SetStmt) {
	for _, v := range x.Variables {
		if v.IsSystem && !v.IsGlobal && a.locals[strings.ToLower(v.Name)] {
			continue
		}
		sub := &myStmt{e: a.e, s: a.s, role: a.role, scope: a.scope, stmt: x}
		if _, _, err := sub.classifySet(&ast.SetStmt{Variables: []*ast.VariableAssignment{v}}); err != nil {
			a.fail(err)
			return
		}
	}
}

var (
	stmtNodeType = reflect.TypeOf((*ast.StmtNode)(nil)).Elem()
	exprNodeType = reflect.TypeOf((*ast.ExprNode)(nil)).Elem()
)

// myProcBody returns what a stored procedure's body holds that the
// parser's walk skips (it does not enter BEGIN ... END): the statements,
// and the expressions of the control flow (IF conditions, DECLARE
// defaults, CASE values).
func myProcBody(p *ast.ProcedureInfo) ([]ast.StmtNode, []ast.ExprNode) {
	var stmts []ast.StmtNode
	var exprs []ast.ExprNode
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 200 {
			return
		}
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			t := v.Type()
			if t.Implements(stmtNodeType) && !strings.HasPrefix(t.Elem().Name(), "Procedure") {
				stmts = append(stmts, v.Interface().(ast.StmtNode))
				return
			}
			if t.Implements(exprNodeType) {
				exprs = append(exprs, v.Interface().(ast.ExprNode))
				return
			}
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() || v.Field(i).Kind() == reflect.Struct {
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), depth+1)
			}
		}
	}
	walk(reflect.ValueOf(p.ProcedureBody), 0)
	return stmts, exprs
}

// procBody analyses each statement and expression of a stored procedure's
// body like one of its own: the body runs with the backend account's
// rights. A statement that would need a rewrite (a row filter, a cap) is
// refused: the body is stored as written.
func (a *myStmt) procBody(p *ast.ProcedureInfo) *sqlerr.Error {
	stmts, exprs := myProcBody(p)
	for _, e := range exprs {
		stmts = append(stmts, &ast.DoStmt{Exprs: []ast.ExprNode{e}})
	}
	for _, n := range stmts {
		switch x := n.(type) {
		case *ast.SetStmt:
			a.nestedSet(x)
			if a.err != nil {
				return a.err
			}
			continue
		case *ast.UseStmt:
			return a.privilege("USE inside a stored procedure")
		}
		sub := &myStmt{e: a.e, s: a.s, role: a.role, scope: a.scope, stmt: n, locals: a.locals}
		if _, err := sub.analyze(); err != nil {
			return err
		}
		if sub.rewritten {
			return sqlerr.New(sqlerr.Permission, "permission denied: a statement inside stored procedure %q would need the proxy's rewrite (row filter, row cap, masks) on tenant %q", p.ProcedureName.Name.O, a.tenant())
		}
	}
	return nil
}
