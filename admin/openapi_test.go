package admin

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes: every endpoint the package registers (route
// calls and method patterns given to the mux) is in openapi.json, and the
// description names no endpoint that is not registered. The routes are read
// from the package's source, so an endpoint added without its description
// fails here.
func TestOpenAPICoversRoutes(t *testing.T) {
	registered := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var args []string
			for _, a := range call.Args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					args = append(args, s)
				}
			}
			switch fn := call.Fun.(type) {
			case *ast.Ident: // route("GET", "/path", h) or route("GET", "GET /path", h)
				if fn.Name == "route" && len(args) == 2 {
					path := args[1]
					if _, p, ok := strings.Cut(path, " "); ok {
						path = p
					}
					registered[args[0]+" "+path] = true
				}
			case *ast.SelectorExpr: // mux.HandleFunc("GET /path", h)
				if (fn.Sel.Name == "HandleFunc" || fn.Sel.Name == "Handle") && len(args) == 1 {
					if m, p, ok := strings.Cut(args[0], " "); ok && strings.HasPrefix(p, "/") {
						registered[m+" "+p] = true
					}
				}
			}
			return true
		})
	}
	if len(registered) < 20 {
		t.Fatalf("found only %d routes in the source: %v", len(registered), registered)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range registered {
		if !documented[r] && !strings.HasPrefix(r, "GET /console") {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !registered[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("registered but not in openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in openapi.json but not registered: %v", extra)
	}
}
