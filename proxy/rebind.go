package proxy

import (
	"reflect"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Refresh returns b as the configuration in force now has it: b itself
// when no reload happened since it was made, else a new binding with the
// user's current role on the same tenant. Open sessions call it before each
// statement, so a reload that changes a user's role applies at their next
// statement (prepared statements made under the old binding are checked
// again, as after a tenant switch).
//
// The session keeps its tenant's backend pool: a reconfigured tenant's
// sessions finish on the old pool, but under the new roles. It is an error,
// which ends the session, when the user or tenant was removed, the user no
// longer holds the tenant, or the tenant's engine or isolation (database,
// schema, row filter) changed under the session.
func (s *Server) Refresh(b *Binding) (*Binding, error) {
	reg := s.reg.Load()
	if b.Subject.Version == reg.version {
		return b, nil
	}
	u := reg.users[b.User.Name]
	if u == nil {
		return nil, sqlerr.New(sqlerr.AuthFailed, "terminating connection: user %q was removed from the proxy's configuration", b.User.Name)
	}
	t := reg.tenants[b.Tenant.ID]
	if t == nil {
		return nil, sqlerr.New(sqlerr.UnknownTenant, "terminating connection: tenant %q was removed from the proxy's configuration", b.Tenant.ID)
	}
	roleName, held := u.Tenants[t.ID]
	if !held {
		return nil, sqlerr.New(sqlerr.NoRoleOnTenant, "terminating connection: user %q no longer holds a role on tenant %q", u.Name, t.ID)
	}
	if t != b.Tenant && (t.Engine != b.Tenant.Engine || !reflect.DeepEqual(t.Scope, b.Tenant.Scope)) {
		return nil, sqlerr.New(sqlerr.UnknownTenant, "terminating connection: the isolation of tenant %q changed; reconnect", t.ID)
	}
	role := t.Roles[roleName]
	if role == nil {
		return nil, sqlerr.New(sqlerr.NoRoleOnTenant, "terminating connection: role %q of user %q is not defined on tenant %q", roleName, u.Name, t.ID)
	}
	if role.Name != b.Role.Name || !reflect.DeepEqual(role, b.Role) {
		s.log.Info("session_role_changed", "tenant", t.ID, "user", u.Name, "from", b.Role.Name, "to", role.Name)
	}
	// The session's pool stays b.Tenant's (its client count and held
	// backend connection belong to it); scope and roles are the new ones.
	return &Binding{
		User:   u,
		Tenant: b.Tenant,
		Role:   role,
		Subject: policy.Subject{
			User:    u.Name,
			Scope:   &t.Scope,
			Role:    role,
			Version: reg.version,
		},
	}, nil
}

// stillHolds reports whether user name still holds tenant id in reg, for
// eviction at reload.
func (reg *registry) stillHolds(name, id string) bool {
	u := reg.users[name]
	if u == nil {
		return false
	}
	_, ok := u.Tenants[id]
	return ok
}
