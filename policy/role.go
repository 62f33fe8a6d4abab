package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Built-in role names.
const (
	RoleViewer  = "viewer"
	RoleAnalyst = "analyst"
	RoleEditor  = "editor"
	RoleAdmin   = "admin"
)

// ViewerMaxRows is the row cap of the built-in viewer role.
const ViewerMaxRows = 100

// BuiltinRole returns the built-in role called name (viewer, analyst, editor,
// admin), or false. The viewer's masked columns come from tenant config, so
// the returned role has none; the caller owns the returned value.
func BuiltinRole(name string) (Role, bool) {
	switch name {
	case RoleViewer:
		return Role{Name: RoleViewer, Access: AccessRead, MaxRows: ViewerMaxRows, Mask: MaskStars}, true
	case RoleAnalyst:
		return Role{Name: RoleAnalyst, Access: AccessRead, Mask: MaskStars}, true
	case RoleEditor:
		return Role{Name: RoleEditor, Access: AccessWrite, Mask: MaskStars}, true
	case RoleAdmin:
		return Role{Name: RoleAdmin, Access: AccessAdmin, Mask: MaskStars}, true
	}
	return Role{}, false
}

// ParseAccess parses a config access level: read, write or admin.
func ParseAccess(s string) (Access, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read":
		return AccessRead, nil
	case "write":
		return AccessWrite, nil
	case "admin":
		return AccessAdmin, nil
	}
	return 0, fmt.Errorf("access %q is not one of read, write, admin", s)
}

// String returns the config spelling of the access level.
func (a Access) String() string {
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

// Validate reports what is wrong with the role, if anything: its access
// level, row cap, table lists, row-filter predicates (which must parse as a
// boolean expression in both dialects' grammar) and column masks. The config
// loader prefixes the key path.
func (r *Role) Validate() error {
	var errs []error
	if r.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	if r.Access < AccessRead || r.Access > AccessAdmin {
		errs = append(errs, errors.New("access: must be read, write or admin"))
	}
	if r.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("max_rows: %d is negative", r.MaxRows))
	}
	for i, t := range r.AllowedTables {
		if !validIdent(t) {
			errs = append(errs, fmt.Errorf("allowed_tables[%d]: %q is not a table name", i, t))
		}
	}
	for i, t := range r.DeniedTables {
		if !validIdent(t) {
			errs = append(errs, fmt.Errorf("denied_tables[%d]: %q is not a table name", i, t))
		}
	}
	for t, pred := range r.RowFilters {
		if !validIdent(t) {
			errs = append(errs, fmt.Errorf("row_filters: key %q is not a table name", t))
			continue
		}
		if strings.TrimSpace(pred) == "" {
			errs = append(errs, fmt.Errorf("row_filters.%s: predicate is empty", t))
			continue
		}
		if err := validatePredicate(pred); err != nil {
			errs = append(errs, fmt.Errorf("row_filters.%s: %v", t, err))
		}
	}
	for i, mc := range r.MaskedColumns {
		tbl, col, ok := strings.Cut(mc, ".")
		// col may be a dotted field path (MongoDB tenants: a nested field).
		okPath := ok
		for _, seg := range strings.Split(col, ".") {
			okPath = okPath && validIdent(seg)
		}
		if !okPath || !validIdent(tbl) {
			errs = append(errs, fmt.Errorf("masked_columns[%d]: %q is not table.column", i, mc))
		}
	}
	switch r.Mask {
	case "", MaskStars, MaskHash, MaskNull:
	default:
		errs = append(errs, fmt.Errorf("mask: %q is not one of stars, hash, null", r.Mask))
	}
	return errors.Join(errs...)
}

// Validate reports what is wrong with the scope, if anything: the tenant id,
// the isolation model and the fields that model needs.
func (s *Scope) Validate() error {
	var errs []error
	if s.Tenant == "" {
		errs = append(errs, errors.New("id: must not be empty"))
	}
	switch s.Isolation {
	case IsolationDatabase:
	case IsolationSchema:
		if s.Schema == "" {
			errs = append(errs, errors.New("schema: required with isolation schema"))
		} else if !validIdent(s.Schema) {
			errs = append(errs, fmt.Errorf("schema: %q is not a schema name", s.Schema))
		}
	case IsolationRow:
		if s.TenantColumn == "" {
			errs = append(errs, errors.New("tenant_column: required with isolation row"))
		} else if !validIdent(s.TenantColumn) {
			errs = append(errs, fmt.Errorf("tenant_column: %q is not a column name", s.TenantColumn))
		}
		for i, t := range s.TenantTables {
			if !validIdent(t) {
				errs = append(errs, fmt.Errorf("tenant_tables[%d]: %q is not a table name", i, t))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("isolation: %q is not one of database, schema, row", s.Isolation))
	}
	return errors.Join(errs...)
}

// validIdent reports whether s is a plain identifier: letters, digits, _ and
// $, not starting with a digit. Config names are matched case-insensitively.
func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9', c == '$':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
