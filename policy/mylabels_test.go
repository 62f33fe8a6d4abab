package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// TestMySQLLabelsThroughRewrites: a rewritten select list keeps, as each
// expression's alias, the text the client wrote, also when texts differing
// only in literals are answered from the template cache (a literal holding
// a backquote must stay inside the quoted name).
func TestMySQLLabelsThroughRewrites(t *testing.T) {
	cfg := goldenConfigs()["my_viewer"]
	e := NewEngine(1000)
	for _, shape := range []string{
		"SELECT CONCAT(name, %s) FROM orders",
		"SELECT COUNT(%s) FROM orders",
		"SELECT IF(id > 5, %s, 'b') FROM orders WHERE id > 1",
		"SELECT id + %s FROM orders",
	} {
		for _, lit := range []string{"'x'", "'y'", "'a`, (SELECT 1) AS `z'", "5", "6"} {
			q := fmt.Sprintf(shape, lit)
			want := q[len("SELECT "):strings.Index(q, " FROM ")]
			dec, err := e.Check(cfg.s, cfg.d, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			stmts, err := myParse(dec.SQL)
			if err != nil {
				t.Fatalf("%s -> %s: %v", q, dec.SQL, err)
			}
			sel := stmts[0].(*ast.SelectStmt)
			if len(sel.Fields.Fields) != 1 || sel.Fields.Fields[0].AsName.O != want {
				t.Fatalf("%s -> %s: label %q, want %q", q, dec.SQL, sel.Fields.Fields[0].AsName.O, want)
			}
		}
	}
}
