package proxy

import (
	"testing"

	"github.com/tenantproxy/tenantproxy/policy"
)

func TestExplainPolicyText(t *testing.T) {
	for _, c := range []struct {
		d     policy.Dialect
		sql   string
		inner string
		ok    bool
	}{
		{policy.Postgres, "EXPLAIN POLICY SELECT 1", "SELECT 1", true},
		{policy.Postgres, "  explain\n policy\tDELETE FROM t", "DELETE FROM t", true},
		{policy.MySQL, "EXPLAIN POLICY SELECT * FROM t", "SELECT * FROM t", true},
		// MySQL: EXPLAIN tbl col describes a column of table "policy"
		{policy.MySQL, "EXPLAIN policy id", "", false},
		{policy.MySQL, "explain policy 'i%'", "", false},
		{policy.Postgres, "EXPLAIN SELECT 1", "", false},
		{policy.Postgres, "SELECT 'EXPLAIN POLICY SELECT 1'", "", false},
	} {
		inner, ok := ExplainPolicyText(c.d, c.sql)
		if ok != c.ok || inner != c.inner {
			t.Errorf("%s %q: %q %v", c.d, c.sql, inner, ok)
		}
	}
}
