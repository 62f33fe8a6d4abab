package proxy

import (
	"strings"
	"testing"

	"github.com/tenantproxy/tenantproxy/policy"
)

func scoped(id, engine string, iso policy.Isolation, db, schema, value string) *Tenant {
	return &Tenant{ID: id, Engine: engine, Scope: policy.Scope{Tenant: id, Isolation: iso, Database: db, Schema: schema,
		TenantColumn: "tenant_id", TenantValue: value}}
}

// TestOverlaps covers every overlap rule and what is not one.
func TestOverlaps(t *testing.T) {
	const (
		db  = policy.IsolationDatabase
		sch = policy.IsolationSchema
		row = policy.IsolationRow
	)
	cases := []struct {
		name    string
		a, b    *Tenant
		servers [2]string
		want    string // "" for none
	}{
		{"database twice", scoped("a", "postgres", db, "d", "", ""), scoped("b", "postgres", db, "d", "", ""), [2]string{"S", "S"}, "database isolation"},
		{"other server", scoped("a", "postgres", db, "d", "", ""), scoped("b", "postgres", db, "d", "", ""), [2]string{"S", "T"}, ""},
		{"other database", scoped("a", "postgres", db, "d", "", ""), scoped("b", "postgres", db, "e", "", ""), [2]string{"S", "S"}, ""},
		{"other engine", scoped("a", "postgres", db, "d", "", ""), scoped("b", "mysql", db, "d", "", ""), [2]string{"S", "S"}, ""},
		{"schema twice", scoped("a", "postgres", sch, "d", "x", ""), scoped("b", "postgres", sch, "d", "x", ""), [2]string{"S", "S"}, `schema "x"`},
		{"schemas apart", scoped("a", "postgres", sch, "d", "x", ""), scoped("b", "postgres", sch, "d", "y", ""), [2]string{"S", "S"}, ""},
		{"row value twice", scoped("a", "mysql", row, "d", "", "v"), scoped("b", "mysql", row, "d", "", "v"), [2]string{"S", "S"}, `tenant_value "v"`},
		{"row values apart", scoped("a", "mysql", row, "d", "", "v"), scoped("b", "mysql", row, "d", "", "w"), [2]string{"S", "S"}, ""},
		{"two models", scoped("a", "postgres", row, "d", "", "v"), scoped("b", "postgres", sch, "d", "x", ""), [2]string{"S", "S"}, "two isolation models (row and schema)"},
		{"unknown server", scoped("a", "postgres", db, "d", "", ""), scoped("b", "postgres", db, "d", "", ""), [2]string{"", ""}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Overlaps([]*Tenant{tc.a, tc.b}, map[string]string{"a": tc.servers[0], "b": tc.servers[1]})
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("unexpected overlap %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].A != "a" || got[0].B != "b" || !strings.Contains(got[0].String(), tc.want) ||
				!strings.Contains(got[0].String(), `"a"`) || !strings.Contains(got[0].String(), `"b"`) {
				t.Fatalf("overlaps %v, want one mentioning %s", got, tc.want)
			}
		})
	}
}
