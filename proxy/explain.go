package proxy

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Explain dry-runs sql for binding b: what the policy would do with it and
// why, without running anything.
//
// It is decided as a real run is: a row tenant's statements, and a masked
// role's on a Postgres database or schema tenant, on the same catalog
// snapshot (tables, functions) that Check reads.
func (s *Server) Explain(b *Binding, sql string) *policy.Explanation {
	if b.Tenant.Scope.Isolation == policy.IsolationRow || needsCatalog(b) {
		subj, dec, err := s.decideOnCatalog(b, b.Tenant.Dialect(), sql)
		return policy.ExplainDecision(subj, dec, err)
	}
	return s.policy.Explain(b.Subject, b.Tenant.Dialect(), sql)
}

// BindAs returns a binding on b's tenant for another user (user, or b's
// user when "") under another role (role, or that user's own role on the
// tenant when ""), for a dry-run on someone's behalf. The user must hold a
// role on the tenant; role must be defined on it.
func (s *Server) BindAs(b *Binding, user, role string) (*Binding, error) {
	nb := b
	if user != "" && user != b.User.Name {
		u, ok := s.User(user)
		if !ok {
			return nil, sqlerr.New(sqlerr.UnknownTenant, "user %q does not exist or holds no role on tenant %q", user, b.Tenant.ID)
		}
		var err error
		if nb, err = s.Bind(u, b.Tenant.ID, b.Tenant.Engine); err != nil {
			return nil, err
		}
	}
	if role != "" && role != nb.Role.Name {
		r := nb.Tenant.Roles[role]
		if r == nil {
			return nil, sqlerr.New(sqlerr.InvalidValue, "role %q is not defined on tenant %q", role, nb.Tenant.ID)
		}
		cp := *nb
		cp.Role = r
		cp.Subject.Role = r
		nb = &cp
	}
	return nb, nil
}

var explainPolicyRe = regexp.MustCompile(`(?is)^\s*explain\s+policy\s+(.+)$`)

// ExplainPolicyText returns the statement of an `EXPLAIN POLICY <statement>`
// text, which the wire front ends answer themselves (admins only). In MySQL
// `EXPLAIN policy col` describes column col of a table named policy: a
// single word after POLICY is left to the server.
func ExplainPolicyText(d policy.Dialect, sql string) (string, bool) {
	if !startsWithExplain(sql) {
		// Every statement comes here: most are answered without the
		// regexp, which costs more than the cached policy check.
		return "", false
	}
	m := explainPolicyRe.FindStringSubmatch(sql)
	if m == nil {
		return "", false
	}
	inner := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(m[1]), ";"))
	if d == policy.MySQL && !strings.ContainsAny(inner, " \t\r\n(") {
		return "", false
	}
	return m[1], true
}

// ExplainAllowed refuses EXPLAIN POLICY to a binding without the admin
// role on its tenant.
func ExplainAllowed(b *Binding) error {
	if b.Role.Access != policy.AccessAdmin {
		return sqlerr.New(sqlerr.Privilege, "permission denied: EXPLAIN POLICY needs the admin role on tenant %q (you are %s)", b.Tenant.ID, b.Role.Name)
	}
	return nil
}

// ExplainRows renders a dry-run as (field, value) rows: allowed, class,
// rewritten, sql, error_code and error_message when refused (the error code
// as protocol's clients see it: SQLSTATE, or the MySQL error number), then
// one reason a row.
func ExplainRows(x *policy.Explanation, protocol string) [][2]string {
	rows := [][2]string{{"allowed", strconv.FormatBool(x.Allowed)}}
	if x.Err != nil {
		code := x.Err.SQLState()
		if protocol == ProtocolMySQL {
			code = strconv.Itoa(int(x.Err.MySQLCode()))
		}
		rows = append(rows, [2]string{"error_code", code}, [2]string{"error_message", x.Err.Message})
	} else {
		rows = append(rows, [2]string{"class", x.Class}, [2]string{"rewritten", strconv.FormatBool(x.Rewritten)},
			[2]string{"sql", x.SQL})
		if len(x.Tables) > 0 {
			rows = append(rows, [2]string{"tables", strings.Join(x.Tables, ",")})
		}
	}
	for _, r := range x.Reasons {
		rows = append(rows, [2]string{"reason", r})
	}
	return rows
}

// startsWithExplain reports whether sql, after the regexp's \s
// ([\t\n\f\r ]), begins with the word EXPLAIN in any ASCII case: the
// letters of EXPLAIN have no case variant outside ASCII, so a text that
// fails this cannot match explainPolicyRe.
func startsWithExplain(sql string) bool {
	i := 0
	for i < len(sql) && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\f' || sql[i] == '\r') {
		i++
	}
	const word = "explain"
	if len(sql)-i < len(word) {
		return false
	}
	for j := 0; j < len(word); j++ {
		if c := sql[i+j] | 0x20; c != word[j] {
			return false
		}
	}
	return true
}
