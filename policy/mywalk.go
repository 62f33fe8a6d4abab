package policy

import (
	"reflect"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// The TiDB AST's Accept methods do not visit every table name a statement
// holds (OPTIMIZE TABLE's list, SHOW CREATE PROCEDURE's name, table
// options): myTableNames finds them all by walking the node's fields, so
// that none escapes the cross-tenant checks.

var tableNameType = reflect.TypeOf((*ast.TableName)(nil))

// myTableNames returns every *ast.TableName reachable from n.
func myTableNames(n ast.Node) []*ast.TableName {
	var out []*ast.TableName
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
			if v.Type() == tableNameType {
				out = append(out, v.Interface().(*ast.TableName))
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
