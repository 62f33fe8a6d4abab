package policy

import (
	"errors"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// MySQLViewReads returns what a view's definition (information_schema
// VIEWS.VIEW_DEFINITION) reads: the lower-case names of the tables and
// views it names, and ViewOpaque when it calls one of funcs (the
// database's stored functions, lower-case) or a function of another
// database. A definition that is empty (the server hides it from a user
// without SHOW VIEW) or does not parse is ViewOpaque alone: what it reads
// is not known.
func MySQLViewReads(def string, funcs map[string]bool) []string {
	if strings.TrimSpace(def) == "" {
		return []string{ViewOpaque}
	}
	stmts, err := myParse(def)
	if err == nil && len(stmts) != 1 {
		err = errors.New("not one statement")
	}
	if err != nil {
		return []string{ViewOpaque}
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, t := range myTableNames(stmts[0]) {
		add(t.Name.L)
	}
	for _, f := range myFind[*ast.FuncCallExpr](stmts[0]) {
		if f.Schema.O != "" || funcs[f.FnName.L] {
			add(ViewOpaque)
		}
	}
	return out
}
