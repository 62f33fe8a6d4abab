package policy

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Object-identifier types in a schema tenant's statements.
//
// A schema tenant shares its database with other tenants, so an oid turned
// into a name (regclass, regtype, ...) may name another tenant's object.
// The catalog guards (pgcatalog.go) answer NULL for explicit casts of
// other tenants' oids, but Postgres also converts an integer or oid to an
// object-identifier type implicitly wherever one branch of an expression
// has that type: COALESCE(NULL::regclass, x), CASE ... ELSE NULL::regclass,
// ARRAY[NULL::regclass, x], GREATEST, NULLIF, VALUES rows and UNION
// branches take their type from the reg-typed member and convert the rest
// without a cast the guards could see. Such statements are refused, as
// are the type's input and output functions called by name
// (regclassout(oid), to_regtype(...)'s kin), which do the same.

// pgRegPolymorphic refuses a reg-typed member of a construct whose result
// takes its type from its members (a comparison, whose result is a
// boolean, is fine: indrelid = 'own_items'::regclass).
func pgRegPolymorphic(n *pg.Node) *sqlerr.Error {
	var bad string
	regMember := func(list ...*pg.Node) bool {
		for _, m := range list {
			if tc := m.GetTypeCast(); tc != nil && pgRegType(tc.TypeName) != "" {
				return true
			}
		}
		return false
	}
	pgWalkNode(n, func(m protoreflect.ProtoMessage) bool {
		if bad != "" {
			return false
		}
		switch x := m.(type) {
		case *pg.CoalesceExpr:
			if regMember(x.Args...) {
				bad = "COALESCE"
			}
		case *pg.MinMaxExpr:
			if regMember(x.Args...) {
				bad = "GREATEST/LEAST"
			}
		case *pg.A_ArrayExpr:
			if regMember(x.Elements...) {
				bad = "ARRAY"
			}
		case *pg.CaseExpr:
			list := []*pg.Node{x.Defresult}
			for _, w := range x.Args {
				if cw := w.GetCaseWhen(); cw != nil {
					list = append(list, cw.Result)
				}
			}
			if regMember(list...) {
				bad = "CASE"
			}
		case *pg.A_Expr:
			// A comparison's result is a boolean; NULLIF's is its operands' type.
			if x.Kind == pg.A_Expr_Kind_AEXPR_NULLIF && regMember(x.Lexpr, x.Rexpr) {
				bad = "NULLIF"
			}
		case *pg.SelectStmt:
			for _, row := range x.ValuesLists {
				if l := row.GetList(); l != nil && regMember(l.Items...) {
					bad = "VALUES"
				}
			}
			if x.Op != pg.SetOperation_SETOP_NONE {
				for _, side := range []*pg.SelectStmt{x.Larg, x.Rarg} {
					if side == nil {
						continue
					}
					for _, t := range side.TargetList {
						if rt := t.GetResTarget(); rt != nil && regMember(rt.Val) {
							bad = "UNION, INTERSECT or EXCEPT"
						}
					}
				}
			}
		case *pg.FuncCall:
			names := pgNames(x.Funcname)
			if len(names) > 0 {
				fn := lower(names[len(names)-1])
				for t := range pgRegObjectTypes {
					if fn == t+"out" || fn == t+"in" || fn == t+"recv" || fn == t+"send" || fn == "to_"+t {
						bad = fn + "()"
					}
				}
				if strings.HasPrefix(fn, "to_reg") && bad == "" {
					bad = fn + "()"
				}
			}
		}
		return bad == ""
	})
	if bad == "" {
		return nil
	}
	return sqlerr.New(sqlerr.Permission,
		"permission denied: an object-identifier type (regclass, regtype, ...) in %s is not allowed on schema tenant (it would turn other tenants' oids into names); cast the column you read explicitly, e.g. c.oid::regclass", bad)
}
