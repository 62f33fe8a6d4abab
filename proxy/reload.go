package proxy

import (
	"maps"
	"reflect"
	"slices"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// ReloadSummary says what a reload changed.
type ReloadSummary struct {
	Added   []string `json:"added"`
	Changed []string `json:"changed"`
	Removed []string `json:"removed"`
	Users   struct {
		Added   []string `json:"added"`
		Changed []string `json:"changed"`
		Removed []string `json:"removed"`
	} `json:"users"`
}

// Reload replaces the tenants and users with cfg's, without a restart:
// added tenants and users work at once; a changed tenant gets a new pool and
// applies to new sessions, while its current sessions finish on the old one
// (closed when the last of them leaves); sessions of removed tenants and of
// removed users are closed at their next idle point with an error saying
// so, as are sessions of users who no longer hold their tenant; a changed
// role applies to open sessions at their next statement (Refresh); sessions
// of untouched tenants and users never notice. Proxy-wide settings
// (listeners, limits of the proxy itself) need a restart.
func (s *Server) Reload(cfg Config) ReloadSummary {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.reg.Load()
	reg := &registry{tenants: make(map[string]*TenantState), users: make(map[string]*User), version: old.version + 1}
	var sum ReloadSummary
	var retired []*TenantState
	for _, t := range cfg.Tenants {
		ot := old.tenants[t.ID]
		switch {
		case ot != nil && sameTenant(ot.Tenant, t):
			reg.tenants[t.ID] = ot
		case ot != nil:
			reg.tenants[t.ID] = s.newTenantState(t)
			retired = append(retired, ot)
			sum.Changed = append(sum.Changed, t.ID)
		default:
			reg.tenants[t.ID] = s.newTenantState(t)
			sum.Added = append(sum.Added, t.ID)
		}
	}
	removedTenants := map[string]bool{}
	for id, ot := range old.tenants {
		if reg.tenants[id] == nil {
			removedTenants[id] = true
			retired = append(retired, ot)
			sum.Removed = append(sum.Removed, id)
		}
	}
	for _, u := range cfg.Users {
		reg.users[u.Name] = u
		if ou := old.users[u.Name]; ou == nil {
			sum.Users.Added = append(sum.Users.Added, u.Name)
		} else if !maps.Equal(ou.Tenants, u.Tenants) || ou.Plain != u.Plain || ou.Operator != u.Operator || !reflect.DeepEqual(ou.Verifier, u.Verifier) {
			sum.Users.Changed = append(sum.Users.Changed, u.Name)
		}
	}
	removedUsers := map[string]bool{}
	for name := range old.users {
		if reg.users[name] == nil {
			removedUsers[name] = true
			sum.Users.Removed = append(sum.Users.Removed, name)
		}
	}
	s.reg.Store(reg)

	s.clientsMu.Lock()
	for e := range s.clients {
		tenant, user := e.c.Bound()
		switch {
		case removedTenants[tenant]:
			e.c.Evict(sqlerr.New(sqlerr.UnknownTenant, "terminating connection: tenant %q was removed from the proxy's configuration", tenant))
		case removedUsers[user]:
			e.c.Evict(sqlerr.New(sqlerr.AuthFailed, "terminating connection: user %q was removed from the proxy's configuration", user))
		case tenant != "" && !reg.stillHolds(user, tenant):
			e.c.Evict(sqlerr.New(sqlerr.NoRoleOnTenant, "terminating connection: user %q no longer holds a role on tenant %q", user, tenant))
		}
	}
	s.clientsMu.Unlock()
	for _, t := range retired {
		t.retired.Store(true)
		if t.ClientConnections() == 0 {
			t.closePools()
		}
	}
	for _, l := range [][]string{sum.Added, sum.Changed, sum.Removed, sum.Users.Added, sum.Users.Changed, sum.Users.Removed} {
		slices.Sort(l)
	}
	s.log.Info("config_reloaded", "tenants_added", sum.Added, "tenants_changed", sum.Changed, "tenants_removed", sum.Removed,
		"users_added", sum.Users.Added, "users_changed", sum.Users.Changed, "users_removed", sum.Users.Removed)
	return sum
}

// sameTenant reports whether a tenant's configuration is unchanged.
func sameTenant(a, b *Tenant) bool {
	return a.ID == b.ID && a.Engine == b.Engine && a.DSN == b.DSN &&
		reflect.DeepEqual(a.Scope, b.Scope) && reflect.DeepEqual(a.Roles, b.Roles) &&
		reflect.DeepEqual(a.Pool, b.Pool) && a.Limits == b.Limits &&
		slices.Equal(a.ReplicaDSNs, b.ReplicaDSNs) && a.ReadAfterWrite == b.ReadAfterWrite &&
		reflect.DeepEqual(a.Mongo, b.Mongo)
}
