package policy

// The policy dry-run: what the engine decides for a text and why, in words,
// without running anything. Explain goes through Check itself (and its
// cache), so a dry-run and a real run never disagree; the reasons are read
// off the decision and the subject's role and scope.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Explanation is the outcome of a dry-run.
type Explanation struct {
	Allowed bool
	// Class is the most far-reaching statement class ("" when refused).
	Class string
	// Kinds are the statements' kinds, in order.
	Kinds []string
	// SQL is what would be sent to the backend (the rewritten text, or the
	// text itself); "" when refused.
	SQL       string
	Rewritten bool
	Capped    bool
	MaxRows   int
	Masked    []string
	// Tables are the tables the statements reference.
	Tables []string
	// Reasons say, one rule a line, what the policy applied or which rule
	// refused the text.
	Reasons []string
	// Err is the error a client would get when refused.
	Err *sqlerr.Error
	// Decision is the decision a real run would use (nil when refused).
	Decision *Decision
}

// accessName is the config word of an access level.
func accessName(a Access) string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessAdmin:
		return "admin"
	}
	return "none"
}

// Explain checks sql in dialect d for subject s, exactly as Check does, and
// says why the outcome is what it is.
func (e *Engine) Explain(s Subject, d Dialect, sql string) *Explanation {
	dec, err := e.Check(s, d, sql)
	return ExplainDecision(s, dec, err)
}

// ExplainDecision says why dec is the decision made for subject s, or why
// the statement was refused with err (by the policy, or before it: a
// catalog that could not be read).
func ExplainDecision(s Subject, dec *Decision, err error) *Explanation {
	role, tenant := "", ""
	if s.Role != nil {
		role = s.Role.Name
	}
	if s.Scope != nil {
		tenant = s.Scope.Tenant
	}
	x := &Explanation{}
	if err != nil {
		x.Err = sqlerr.As(err)
		if x.Err == nil {
			x.Err = sqlerr.Wrap(sqlerr.Internal, err, "%s", err.Error())
		}
		x.Reasons = append(x.Reasons, fmt.Sprintf("refused under role %s on tenant %s: %s", role, tenant, x.Err.Message))
		return x
	}
	x.Allowed, x.Decision = true, dec
	x.Class, x.SQL, x.Rewritten = dec.Class().String(), dec.SQL, dec.Rewritten
	x.Capped, x.MaxRows, x.Masked = dec.Capped, dec.MaxRows, dec.Masked
	tables := map[string]bool{}
	for _, st := range dec.Stmts {
		x.Kinds = append(x.Kinds, st.Kind)
		for _, t := range st.Tables {
			tables[t] = true
		}
	}
	for t := range tables {
		x.Tables = append(x.Tables, t)
	}
	slices.Sort(x.Tables)
	if len(dec.Stmts) == 0 {
		x.Reasons = append(x.Reasons, "empty statement: nothing to run")
		return x
	}
	x.Reasons = append(x.Reasons, fmt.Sprintf("allowed: role %s (access %s) on tenant %s may run %s (class %s)",
		role, accessName(s.Role.Access), tenant, strings.Join(dedup(x.Kinds), ", "), x.Class))
	r := s.Role
	if len(x.Tables) > 0 {
		switch {
		case len(r.AllowedTables) > 0:
			x.Reasons = append(x.Reasons, fmt.Sprintf("tables %s are in the role's allowed_tables", strings.Join(x.Tables, ", ")))
		case len(r.DeniedTables) > 0:
			x.Reasons = append(x.Reasons, fmt.Sprintf("tables %s are not in the role's denied_tables (%s)", strings.Join(x.Tables, ", "), strings.Join(r.DeniedTables, ", ")))
		}
	}
	for _, st := range dec.Stmts {
		switch {
		case st.TenantSwitch != "":
			x.Reasons = append(x.Reasons, fmt.Sprintf("the proxy switches the session to tenant %s itself (not sent to the backend)", st.TenantSwitch))
		case st.ShowVar == "tenant":
			x.Reasons = append(x.Reasons, "the proxy answers the current tenant itself (not sent to the backend)")
		case st.Set != nil:
			x.Reasons = append(x.Reasons, fmt.Sprintf("session setting %s is tracked and replayed on whichever backend connection serves the session", orAll(st.Set.Name)))
		case st.Pins:
			x.Reasons = append(x.Reasons, fmt.Sprintf("%s keeps state on its backend connection: the session is pinned to it", st.Kind))
		}
	}
	for _, t := range x.Tables {
		if s.Scope != nil && s.Scope.Isolation == IsolationRow && s.Scope.TenantColumn != "" && containsFold(s.Scope.TenantTables, t) {
			v := s.Scope.TenantValue
			if v == "" {
				v = s.Scope.Tenant
			}
			x.Reasons = append(x.Reasons, fmt.Sprintf("row isolation: table %s is limited to rows with %s = '%s'", t, s.Scope.TenantColumn, v))
		}
		for ft, p := range r.RowFilters {
			if strings.EqualFold(ft, t) {
				x.Reasons = append(x.Reasons, fmt.Sprintf("row filter of role %s on table %s: %s", r.Name, t, p))
			}
		}
	}
	if dec.Capped {
		x.Reasons = append(x.Reasons, fmt.Sprintf("LIMIT %d: role %s returns at most %d rows (max_rows; the backend is asked for one more, so that the client is told only when rows were withheld)", dec.MaxRows, r.Name, dec.MaxRows))
	}
	mask := r.Mask
	if mask == "" {
		mask = MaskStars
	}
	for _, m := range dec.Masked {
		x.Reasons = append(x.Reasons, fmt.Sprintf("column %s is masked (%s) for role %s", m, mask, r.Name))
	}
	if !dec.Rewritten {
		x.Reasons = append(x.Reasons, "sent to the backend unchanged")
	} else if s.Scope != nil && s.Scope.Isolation == IsolationSchema {
		x.Reasons = append(x.Reasons, fmt.Sprintf("rewritten for the tenant's schema %s", s.Scope.Schema))
	}
	return x
}

func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func orAll(name string) string {
	if name == "" {
		return "(all)"
	}
	return name
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
