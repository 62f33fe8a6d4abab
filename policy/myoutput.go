package policy

import (
	"errors"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Output is what the analysis knows of the columns of a result: for each
// select-list item whether it is a masked column (or, for a *, which masked
// columns its tables have). The front end decides masks from it, by
// position; the backend's column definitions only confirm (Masks).
type Output struct {
	Fields []OutField
}

// OutField is one item of a top-level select list.
type OutField struct {
	// Star is a * or t.*: zero or more result columns, of which those named
	// in StarMasked (lower-case) are masked.
	Star       bool
	StarMasked []string
	// Masked is a plain column of a masked table.column; Column is its
	// lower-case name, which the column definition's original name must show.
	Masked bool
	Column string
}

// ErrOutputMismatch reports result column definitions that disagree with
// the analysed statement: the front end must not relay the rows.
var ErrOutputMismatch = errors.New("the result's columns do not match the analysed statement")

// Masks returns, for a result whose column definitions give the original
// column names orgNames, which columns are masked. A result with fewer
// columns than the select list has items, a different number without *,
// or a masked item whose definition names another column, is a mismatch.
// With more than one * the positions are not known: every column named
// like a masked one is masked.
func (o *Output) Masks(orgNames []string) ([]bool, error) {
	out := make([]bool, len(orgNames))
	stars, fixed := 0, 0
	for _, f := range o.Fields {
		if f.Star {
			stars++
		} else {
			fixed++
		}
	}
	n := len(orgNames)
	if n < fixed || stars == 0 && n != fixed {
		return nil, ErrOutputMismatch
	}
	in := func(name string, set []string) bool {
		for _, s := range set {
			if strings.EqualFold(s, name) {
				return true
			}
		}
		return false
	}
	if stars > 1 {
		var all []string
		for _, f := range o.Fields {
			all = append(all, f.StarMasked...)
			if f.Masked {
				all = append(all, f.Column)
			}
		}
		for i, name := range orgNames {
			out[i] = in(name, all)
		}
		return out, nil
	}
	pos := 0
	for _, f := range o.Fields {
		if f.Star {
			for span := n - fixed; span > 0; span-- {
				out[pos] = in(orgNames[pos], f.StarMasked)
				pos++
			}
			continue
		}
		if f.Masked {
			if !strings.EqualFold(orgNames[pos], f.Column) {
				return nil, ErrOutputMismatch
			}
			out[pos] = true
		}
		pos++
	}
	return out, nil
}

// outputPlan builds the Output of the top-level select list. masked holds
// "table.column" masks of the role, lower-case; cols the masked column
// names of the tables the statement reads.
func (a *myStmt) outputPlan(top *ast.SelectStmt, masked map[string]bool, cols map[string]bool) *Output {
	// The FROM items of the top-level select by the name they are known by.
	sources := map[string]ast.ResultSetNode{}
	var tables []*ast.TableName
	var walk func(r ast.ResultSetNode)
	walk = func(r ast.ResultSetNode) {
		switch x := r.(type) {
		case *ast.Join:
			if x.Left != nil {
				walk(x.Left)
			}
			if x.Right != nil {
				walk(x.Right)
			}
		case *ast.TableSource:
			name := x.AsName.L
			if tn, ok := x.Source.(*ast.TableName); ok {
				if name == "" {
					name = tn.Name.L
				}
				if tn.Schema.L == "" && a.isCTEName(tn.Name.L) {
					sources[name] = nil // a CTE: it cannot read masked columns (checkMasks)
					return
				}
				tables = append(tables, tn)
			}
			sources[name] = x.Source
		}
	}
	if top.From != nil && top.From.TableRefs != nil {
		walk(top.From.TableRefs)
	}
	maskedOf := func(tn *ast.TableName) []string {
		var out []string
		for mk := range masked {
			t, c, _ := strings.Cut(mk, ".")
			if t == tn.Name.L {
				out = append(out, c)
			}
		}
		return out
	}
	allMasked := func() []string {
		var out []string
		for c := range cols {
			out = append(out, c)
		}
		return out
	}
	o := &Output{}
	if top.Kind == ast.SelectStmtKindTable {
		var sm []string
		for _, tn := range tables {
			sm = append(sm, maskedOf(tn)...)
		}
		o.Fields = append(o.Fields, OutField{Star: true, StarMasked: sm})
		return o
	}
	if top.Fields == nil {
		return o
	}
	for _, f := range top.Fields.Fields {
		switch {
		case f.WildCard != nil:
			of := OutField{Star: true}
			q := f.WildCard.Table.L
			if q == "" {
				for _, tn := range tables {
					of.StarMasked = append(of.StarMasked, maskedOf(tn)...)
				}
			} else if src, ok := sources[q]; ok && f.WildCard.Schema.L == "" {
				if tn, ok := src.(*ast.TableName); ok {
					of.StarMasked = maskedOf(tn)
				}
			} else {
				of.StarMasked = allMasked()
			}
			o.Fields = append(o.Fields, of)
		case f.Expr != nil:
			of := OutField{}
			if c, ok := f.Expr.(*ast.ColumnNameExpr); ok {
				name := c.Name.Name.L
				q := c.Name.Table.L
				switch src, ok := sources[q]; {
				case q == "":
					for _, tn := range tables {
						of.Masked = of.Masked || masked[tn.Name.L+"."+name]
					}
				case !ok || c.Name.Schema.L != "":
					of.Masked = cols[name] // not resolved here: masked if any table's is
				default:
					if tn, ok := src.(*ast.TableName); ok {
						of.Masked = masked[tn.Name.L+"."+name]
					}
				}
				if of.Masked {
					of.Column = name
				}
			}
			o.Fields = append(o.Fields, of)
		}
	}
	return o
}

// isCTEName reports whether name is a CTE of the statement (any scope:
// names unscoped, which can only mark more).
func (a *myStmt) isCTEName(name string) bool {
	found := false
	a.stmt.Accept(&myCollector{fn: func(n ast.Node) {
		if c, ok := n.(*ast.CommonTableExpression); ok && c.Name.L == name {
			found = true
		}
	}})
	return found
}
