package policy

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/model"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// Restoring a rewritten MySQL statement so that the server sees what the
// client wrote, apart from the rewrite itself:
//
//   - column labels: MariaDB names an unaliased select-list expression by
//     its text as written (count(*), database()); the restored text spells
//     it differently (COUNT(1), DATABASE()), so every such field gets the
//     original text as its alias;
//   - parameter order: `LIMIT ? OFFSET ?` would be restored as `LIMIT ?,?`,
//     which swaps the two parameters; it is written back in its own order;
//   - values only the front end knows (the proxy's connection id, the
//     user) are marked as Subst spans for it to fill in.

// Subst kinds: what the front end puts in a Decision's Subst span.
const (
	SubstConnectionID = "connection_id" // the proxy's connection id (CONNECTION_ID())
	SubstUser         = "user"          // 'user@host' of the client (USER(), SESSION_USER(), SYSTEM_USER())
	SubstCurrentUser  = "current_user"  // 'user@%' (CURRENT_USER())
)

// Subst is a span of Decision.SQL the front end replaces with a value only
// it knows. The span holds a call that is correct, if less precise, when
// sent unchanged (CONNECTION_ID() answers the backend's own id).
type Subst struct {
	Pos, Len int
	What     string
}

// Fill returns d.SQL with every Subst span replaced: connID for
// CONNECTION_ID(), user@host (quoted) for USER() and user@% for
// CURRENT_USER().
func (d *Decision) Fill(connID uint32, user, host string) string {
	if len(d.Subst) == 0 {
		return d.SQL
	}
	var b strings.Builder
	last := 0
	for _, s := range d.Subst {
		if s.Pos < last || s.Pos+s.Len > len(d.SQL) {
			return d.SQL
		}
		b.WriteString(d.SQL[last:s.Pos])
		switch s.What {
		case SubstConnectionID:
			b.WriteString(strconv.FormatUint(uint64(connID), 10))
		case SubstUser:
			b.WriteString(myQuote(user + "@" + host))
		case SubstCurrentUser:
			b.WriteString(myQuote(user + "@%"))
		default:
			b.WriteString(d.SQL[s.Pos : s.Pos+s.Len])
		}
		last = s.Pos + s.Len
	}
	b.WriteString(d.SQL[last:])
	return b.String()
}

// subst marks a call whose value the front end fills in.
func (a *myStmt) subst(f *ast.FuncCallExpr, what string) {
	if a.substs == nil {
		a.substs = map[*ast.FuncCallExpr]string{}
	}
	if f.FnName.L == "current_user" {
		what = SubstCurrentUser
	}
	a.substs[f] = what
	a.rewritten = true
	a.litDep = true
}

// myRestoreStmt restores a rewritten statement (see the comment above) and
// returns its text and Subst spans.
func (a *myStmt) restoreOut() (string, []Subst, error) {
	var b strings.Builder
	var spans []Subst
	fix := &myRestoreFix{a: a, b: &b, spans: &spans}
	a.stmt.Accept(fix)
	defer fix.undo()
	if err := a.stmt.Restore(format.NewRestoreCtx(myRestoreFlags, &b)); err != nil {
		return "", nil, err
	}
	for i := 1; i < len(fix.params); i++ {
		if fix.params[i] <= fix.params[i-1] {
			// The client binds parameters by position: a rewrite that
			// moved one would bind the wrong values.
			return "", nil, errParamOrder
		}
	}
	if fix.labelLits {
		a.litDep = true
	}
	return b.String(), spans, nil
}

var errParamOrder = errors.New("the rewrite would change the order of the parameters")

// myParamNode records the order in which parameters are written.
type myParamNode struct {
	*driver.ParamMarkerExpr
	seen *[]int
}

// Restore implements ast.Node.
func (p *myParamNode) Restore(ctx *format.RestoreCtx) error {
	*p.seen = append(*p.seen, p.ParamMarkerExpr.Offset)
	return p.ParamMarkerExpr.Restore(ctx)
}

func myParamOf(e ast.ExprNode) (*driver.ParamMarkerExpr, bool) {
	switch x := e.(type) {
	case *driver.ParamMarkerExpr:
		return x, true
	case *myParamNode:
		return x.ParamMarkerExpr, true
	}
	return nil, false
}

// myRestoreFix prepares a tree for restoring and undoes what restoring
// alone needed.
type myRestoreFix struct {
	a      *myStmt
	b      *strings.Builder
	spans  *[]Subst
	undos  []func()
	params []int // the text offsets of the parameters, in output order
	// labelLits: a label copies text that may hold a literal, which the
	// literal template cache would then have to fill inside a quoted name.
	labelLits bool
}

func (f *myRestoreFix) undo() {
	for i := len(f.undos) - 1; i >= 0; i-- {
		f.undos[i]()
	}
}

// Enter implements ast.Visitor.
func (f *myRestoreFix) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SelectField:
		if x.WildCard != nil || x.Expr == nil || x.AsName.O != "" {
			break
		}
		inner := x.Expr
		for {
			p, ok := inner.(*ast.ParenthesesExpr)
			if !ok {
				break
			}
			inner = p.Expr
		}
		if _, ok := inner.(*ast.ColumnNameExpr); ok {
			break // labelled by the column's name, which restores unchanged
		}
		if v, ok := x.Expr.(*driver.ValueExpr); ok && (v.Kind() == driver.KindString || v.Kind() == driver.KindBytes || v.Kind() == driver.KindNull) {
			break // labelled by its value, which restores unchanged
		}
		text := myTrimComments(x.Text())
		if text == "" || strings.ContainsRune(text, 0) {
			break
		}
		x.AsName = model.NewCIStr(text)
		f.undos = append(f.undos, func() { x.AsName = model.CIStr{} })
		if strings.ContainsAny(text, "'\"0123456789") {
			f.labelLits = true
		}
	}
	return n, false
}

// Leave implements ast.Visitor: calls the front end fills in are wrapped
// so that their place in the output is known.
func (f *myRestoreFix) Leave(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.FuncCallExpr:
		if what, ok := f.a.substs[x]; ok {
			return &mySubstNode{FuncCallExpr: x, what: what, b: f.b, spans: f.spans}, true
		}
	case *driver.ParamMarkerExpr:
		return &myParamNode{ParamMarkerExpr: x, seen: &f.params}, true
	case *ast.Limit:
		// After its children were visited (they would put the originals
		// back).
		c, ok1 := myParamOf(x.Count)
		o, ok2 := myParamOf(x.Offset)
		if ok1 && ok2 && c.Offset < o.Offset {
			// Written LIMIT ? OFFSET ?: keep that order of parameters.
			cnt, off := x.Count, x.Offset
			x.Count, x.Offset = &myLimitOffset{ExprNode: cnt, offset: off}, nil
			f.undos = append(f.undos, func() { x.Count, x.Offset = cnt, off })
		}
	}
	return n, true
}

// myLimitOffset restores `count OFFSET offset` in LIMIT's count place.
type myLimitOffset struct {
	ast.ExprNode
	offset ast.ExprNode
}

// Restore implements ast.Node.
func (l *myLimitOffset) Restore(ctx *format.RestoreCtx) error {
	if err := l.ExprNode.Restore(ctx); err != nil {
		return err
	}
	ctx.WriteKeyWord(" OFFSET ")
	return l.offset.Restore(ctx)
}

// mySubstNode records where its call lands in the output.
type mySubstNode struct {
	*ast.FuncCallExpr
	what  string
	b     *strings.Builder
	spans *[]Subst
}

// Restore implements ast.Node.
func (s *mySubstNode) Restore(ctx *format.RestoreCtx) error {
	pos := s.b.Len()
	if err := s.FuncCallExpr.Restore(ctx); err != nil {
		return err
	}
	*s.spans = append(*s.spans, Subst{Pos: pos, Len: s.b.Len() - pos, What: s.what})
	return nil
}

// myTrimComments cuts the comments and spaces that follow the last token
// of an expression's text (the parser's field text runs up to the next
// token; MariaDB's label ends with the expression).
func myTrimComments(s string) string {
	end := 0
	n := len(s)
	for i := 0; i < n; i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"' || c == '`':
			for i++; i < n; i++ {
				if s[i] == '\\' && c != '`' {
					i++
					continue
				}
				if s[i] == c {
					if i+1 < n && s[i+1] == c {
						i++
						continue
					}
					break
				}
			}
			end = min(i+1, n)
		case c == '#' || c == '-' && i+2 < n && s[i+1] == '-' && s[i+2] <= ' ' || c == '-' && i+2 == n && s[i+1] == '-':
			for i < n && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return strings.TrimSpace(s[:end])
			}
			i += 2 + j + 1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			end = i + 1
		}
	}
	return s[:end]
}
