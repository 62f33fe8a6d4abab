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
		{policy.Postgres, "\f\r ExPlAiN   POLICY\nSELECT 2;", "SELECT 2;", true},
		{policy.Postgres, "EXPLAI", "", false},
		{policy.Postgres, "", "", false},
		{policy.Postgres, "\u00a0EXPLAIN POLICY SELECT 1", "", false}, // not \s for the regexp
	} {
		inner, ok := ExplainPolicyText(c.d, c.sql)
		if ok != c.ok || inner != c.inner {
			t.Errorf("%s %q: %q %v", c.d, c.sql, inner, ok)
		}
	}
}

// TestExplainPolicyPrefix checks the regexp's verdict on the texts the
// prefix check lets through or not: the check may only skip texts the
// regexp does not match.
func TestExplainPolicyPrefix(t *testing.T) {
	for _, sql := range []string{
		"EXPLAIN POLICY SELECT 1", "explain policy x y", "\v explain policy select 1",
		"\texplain\tpolicy\tselect 1", "EXPLAİN POLICY SELECT 1", "EXPLAIN\u00a0POLICY SELECT 1",
		"EXPLAIN", "EXPLAINPOLICY SELECT 1", "SELECT 1", "  ", "E", "\x00EXPLAIN POLICY SELECT 1",
	} {
		if explainPolicyRe.MatchString(sql) && !startsWithExplain(sql) {
			t.Errorf("%q: the regexp matches but the prefix check skips it", sql)
		}
	}
}
