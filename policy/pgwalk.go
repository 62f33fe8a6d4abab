package policy

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// pgWalk calls visit for every concrete parse-tree message under m (the
// *pg.Node wrappers themselves are skipped), parents before children. When
// visit returns false the message's children are not visited.
func pgWalk(m protoreflect.Message, visit func(protoreflect.ProtoMessage) bool) {
	if _, isNode := m.Interface().(*pg.Node); !isNode {
		if !visit(m.Interface()) {
			return
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				pgWalk(l.Get(i).Message(), visit)
			}
			return true
		}
		if fd.IsMap() {
			return true
		}
		pgWalk(v.Message(), visit)
		return true
	})
}

// pgWalkNode walks n (nil-safe).
func pgWalkNode(n *pg.Node, visit func(protoreflect.ProtoMessage) bool) {
	if n == nil {
		return
	}
	pgWalk(n.ProtoReflect(), visit)
}

// Node constructors.

func pgStr(s string) *pg.Node { return &pg.Node{Node: &pg.Node_String_{String_: &pg.String{Sval: s}}} }

func pgConstStr(s string) *pg.Node {
	return &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Val: &pg.A_Const_Sval{Sval: &pg.String{Sval: s}}, Location: -1}}}
}

func pgConstInt(n int) *pg.Node {
	return &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Val: &pg.A_Const_Ival{Ival: &pg.Integer{Ival: int32(n)}}, Location: -1}}}
}

func pgColRef(names ...string) *pg.Node {
	f := make([]*pg.Node, len(names))
	for i, n := range names {
		f[i] = pgStr(n)
	}
	return &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: f, Location: -1}}}
}

func pgStar() *pg.Node {
	return &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{{Node: &pg.Node_AStar{AStar: &pg.A_Star{}}}}, Location: -1}}}
}

func pgEq(l, r *pg.Node) *pg.Node {
	return &pg.Node{Node: &pg.Node_AExpr{AExpr: &pg.A_Expr{Kind: pg.A_Expr_Kind_AEXPR_OP, Name: []*pg.Node{pgStr("=")}, Lexpr: l, Rexpr: r, Location: -1}}}
}

// pgAnd ANDs the non-nil args; each original argument stays one operand, so
// an `a OR b` already present keeps its own parentheses.
func pgAnd(args ...*pg.Node) *pg.Node {
	var as []*pg.Node
	for _, a := range args {
		if a != nil {
			as = append(as, a)
		}
	}
	switch len(as) {
	case 0:
		return nil
	case 1:
		return as[0]
	}
	return &pg.Node{Node: &pg.Node_BoolExpr{BoolExpr: &pg.BoolExpr{Boolop: pg.BoolExprType_AND_EXPR, Args: as, Location: -1}}}
}

// pgNames returns the String parts (as the parser folded them) of a qualified name list, or
// nil if an element is not a String (A_Star etc.).
func pgNames(list []*pg.Node) []string {
	out := make([]string, 0, len(list))
	for _, n := range list {
		s, ok := n.Node.(*pg.Node_String_)
		if !ok {
			return nil
		}
		out = append(out, s.String_.Sval)
	}
	return out
}

// lower lower-cases ASCII without allocating when s is already lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
