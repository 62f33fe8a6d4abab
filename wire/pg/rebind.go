package pg

import (
	"reflect"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// rebind brings the session's binding up to date with a reload (a changed
// role applies from this message on; prepared statements made under the old
// binding are checked again when next used). An error ends the session: the
// user or tenant was removed, or the user no longer holds the tenant.
func (s *session) rebind() error {
	nb, err := s.srv.p.Refresh(s.b)
	if err != nil {
		return err
	}
	if nb != s.b && s.pinned && !reflect.DeepEqual(nb.Role, s.b.Role) {
		// SQL-level prepared statements and cursors on the pinned backend
		// connection were checked under the old role: they cannot be
		// checked again, so the session ends.
		return sqlerr.New(sqlerr.NoRoleOnTenant, "terminating connection: the role of user %q on tenant %q changed while the session held SQL-level prepared statements, cursors or other state made under the old one; reconnect", nb.User.Name, nb.Tenant.ID)
	}
	if nb != s.b {
		s.mu.Lock()
		s.b = nb
		s.mu.Unlock()
	}
	return nil
}

// staleErr refuses a portal bound under the session's previous binding:
// its rows would come with the old role's rules.
func staleErr(portal string) error {
	return sqlerr.New(sqlerr.Permission, "portal %q was bound under the session's previous role or tenant (the configuration was reloaded): bind it again", portal)
}
