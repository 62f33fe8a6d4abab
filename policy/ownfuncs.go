package policy

import (
	"strings"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// ownFunc refuses a call of name when it is a function defined in the
// database (Tables.Funcs): its body runs with the backend account's rights,
// so on a row tenant it reads the shared tables unfiltered, and for a role
// with read rules (ReadRules) it reads past them: masked columns in clear,
// rows its filters exclude, tables it may not name.
// shown is how the statement reaches it: "function f()", "operator ###",
// "cast to t".
func (s Subject) ownFunc(name, shown string, role *Role) *sqlerr.Error {
	if s.Tables == nil || !s.Tables.Funcs[name] {
		return nil
	}
	if s.Scope.Isolation == IsolationRow {
		return sqlerr.New(sqlerr.CrossTenant, "permission denied: %s is defined in the shared database and is not allowed on row tenant %q (its body reads the shared tables unfiltered)", shown, s.Scope.Tenant)
	}
	if role.ReadRules() {
		return sqlerr.New(sqlerr.Permission, "permission denied: %s is defined in the database and is not allowed for role %q (its body would read past the role's masks, row filters or table lists)", shown, role.Name)
	}
	return nil
}

// hazard refuses every statement of a row tenant or a role with read rules
// when the catalog holds code any statement may run unseen (Tables.Hazard).
func (s Subject) hazard() *sqlerr.Error {
	if s.Tables == nil || s.Tables.Hazard == "" {
		return nil
	}
	if s.Scope.Isolation == IsolationRow {
		return sqlerr.New(sqlerr.CrossTenant, "permission denied: row tenant %q cannot be served: %s", s.Scope.Tenant, s.Tables.Hazard)
	}
	if s.Role.ReadRules() {
		return sqlerr.New(sqlerr.Permission, "permission denied: role %q (masks, row filters or table lists) cannot be served: %s", s.Role.Name, s.Tables.Hazard)
	}
	return nil
}

// ReadRules reports whether the role has rules on what it reads (masked
// columns, row filters, allowed or denied tables) that the body of a
// function or procedure of the database would not follow.
func (r *Role) ReadRules() bool {
	return len(r.MaskedColumns) > 0 || len(r.RowFilters) > 0 || len(r.AllowedTables) > 0 || len(r.DeniedTables) > 0
}

// viewRule returns the relation behind view (read by it, through other
// views too, or ViewOpaque) that one of the role's read rules covers, ""
// when none does. The view's own rows carry no trace of the tables they
// came from, so the rule could not be applied to them:
//   - a masked table: its columns' origin is the view, nothing is masked;
//   - a table with a row filter, a denied table, a table outside the
//     allowed list: the view reads all of it. Naming the view itself in
//     allowed_tables or row_filters says it is meant to be read, and lets
//     it through.
func (s Subject) viewRule(view string, role *Role) string {
	if s.Tables == nil || !role.ReadRules() {
		return ""
	}
	reads := s.Tables.Views[view]
	if len(reads) == 0 {
		return ""
	}
	masked := map[string]bool{}
	for _, mc := range role.MaskedColumns {
		tbl, _, _ := strings.Cut(lower(mc), ".")
		masked[tbl] = true
	}
	named := func(list []string, rel string) bool {
		for _, x := range list {
			if lower(x) == rel {
				return true
			}
		}
		return false
	}
	filtered := func(rel string) bool {
		for t := range role.RowFilters {
			if lower(t) == rel {
				return true
			}
		}
		return false
	}
	explicit := named(role.AllowedTables, view) || filtered(view)
	for _, rel := range reads {
		switch {
		case masked[rel], rel == ViewOpaque && (len(masked) > 0 || !explicit):
			return rel
		case explicit:
		case filtered(rel), named(role.DeniedTables, rel),
			len(role.AllowedTables) > 0 && !named(role.AllowedTables, rel):
			return rel
		}
	}
	return ""
}

// viewRuleErr is the refusal of a view whose reads escape a read rule.
func viewRuleErr(view, rel string, role *Role) *sqlerr.Error {
	if rel == ViewOpaque {
		return sqlerr.New(sqlerr.Permission, "permission denied: view %q calls a function defined in the database, or its definition cannot be read, and is not allowed for role %q (the role's masks, row filters or table lists would not apply to what it reads); select from the tables themselves", view, role.Name)
	}
	for _, mc := range role.MaskedColumns {
		if tbl, _, _ := strings.Cut(lower(mc), "."); tbl == rel {
			return sqlerr.New(sqlerr.Permission, "permission denied: view %q reads table %q, which has masked columns, and is not allowed for role %q; select from the table itself", view, rel, role.Name)
		}
	}
	return sqlerr.New(sqlerr.Permission, "permission denied: view %q reads table %q, which role %q may read only under its row filters or table lists; select from the table itself, or name the view in the role's allowed_tables or row_filters", view, rel, role.Name)
}
