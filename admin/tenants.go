package admin

// Tenant provisioning (operators only):
//
//	POST   /api/v1/admin/tenants       clone a template database, register the tenant and its users
//	GET    /api/v1/admin/tenants       the tenants, and which were provisioned
//	PATCH  /api/v1/admin/tenants/{id}  change pool, limits, roles
//	DELETE /api/v1/admin/tenants/{id}  drain and remove ({"drop_database": true} drops the database)
//
// A provisioned tenant lives in one YAML file, <tenants_dir>/<id>.yaml,
// written atomically (temporary file, fsync, rename); the configuration
// includes the directory, so the tenant survives a restart and a reload.
// Every change is validated as the reload would see it before anything is
// made, and undone when a later step fails: a missing template, an id in
// use or a failed clone leave no database, file or tenant behind.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
	"go.yaml.in/yaml/v3"
)

// Provisioning configures the tenant endpoints.
type Provisioning struct {
	// Dir is provisioning.tenants_dir.
	Dir string
	// PostgresDSN and MySQLDSN reach the servers where databases are made.
	PostgresDSN, MySQLDSN string
	// Check validates the configuration as the next reload would load it,
	// with overlay applied to Dir (file name -> content; nil: removed).
	Check func(overlay map[string][]byte) error
}

// WithProvisioning enables the tenant endpoints. They also need
// WithReload, which registers a change without a restart.
func WithProvisioning(p Provisioning) Option {
	return func(s *Server) { s.SetProvisioning(p) }
}

// SetProvisioning enables the tenant endpoints like WithProvisioning; call
// it before Serve.
func (s *Server) SetProvisioning(p Provisioning) { s.prov = &provisioner{cfg: p} }

type provisioner struct {
	cfg Provisioning
	mu  sync.Mutex // one change at a time
}

var tenantIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

type provisionUser struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

type provisionRequest struct {
	ID       string          `json:"id"`
	Engine   string          `json:"engine"`
	Template string          `json:"template"`
	Database string          `json:"database"`
	Users    []provisionUser `json:"users"`
	Pool     map[string]any  `json:"pool"`
	Limits   map[string]any  `json:"limits"`
	Roles    map[string]any  `json:"roles"`
}

type patchRequest struct {
	Pool   map[string]any  `json:"pool"`
	Limits map[string]any  `json:"limits"`
	Roles  map[string]any  `json:"roles"`
	Users  []provisionUser `json:"users"`
}

type deleteRequest struct {
	DropDatabase bool `json:"drop_database"`
}

// tenantFile is the YAML of one provisioned tenant.
type tenantFile struct {
	Tenant struct {
		ID     string         `yaml:"id"`
		Engine string         `yaml:"engine"`
		DSN    string         `yaml:"dsn"`
		Pool   map[string]any `yaml:"pool,omitempty"`
		Limits map[string]any `yaml:"limits,omitempty"`
		Roles  map[string]any `yaml:"roles,omitempty"`
	} `yaml:"tenant"`
	Users []fileUser `yaml:"users,omitempty"`
}

type fileUser struct {
	Name     string            `yaml:"name"`
	Password string            `yaml:"password"`
	Tenants  map[string]string `yaml:"tenants"`
}

func fieldErr(status int, code, field, format string, args ...any) *apiError {
	e := errf(status, code, "%s: %s", field, fmt.Sprintf(format, args...))
	e.Extra = map[string]any{"field": field}
	return e
}

func (s *Server) provisioning(w http.ResponseWriter) bool {
	if s.prov == nil || s.prov.cfg.Dir == "" || s.prov.cfg.Check == nil || s.reload == nil {
		writeErr(w, errf(http.StatusNotImplemented, "provisioning_unavailable",
			"tenant provisioning needs provisioning.tenants_dir and a configuration file to reload"))
		return false
	}
	return true
}

func (p *provisioner) path(id string) string { return filepath.Join(p.cfg.Dir, id+".yaml") }

// writeAtomic writes data to path through a temporary file in the same
// directory, synced, then renamed over path.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*.yaml")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func (s *Server) checkUsers(users []provisionUser, id, engine string, roles map[string]any) *apiError {
	seen := map[string]bool{}
	for i, u := range users {
		f := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Name == "":
			return fieldErr(http.StatusBadRequest, "invalid_request", f+".name", "missing")
		case u.Password == "":
			return fieldErr(http.StatusBadRequest, "invalid_request", f+".password", "missing")
		case u.Role == "":
			return fieldErr(http.StatusBadRequest, "invalid_request", f+".role", "missing")
		case seen[u.Name]:
			return fieldErr(http.StatusBadRequest, "invalid_request", f+".name", "user %q given twice", u.Name)
		}
		seen[u.Name] = true
		if _, builtin := policy.BuiltinRole(u.Role); !builtin {
			if _, own := roles[u.Role]; !own {
				return fieldErr(http.StatusBadRequest, "invalid_request", f+".role", "role %q is neither built in nor in roles", u.Role)
			}
		}
	}
	return nil
}

// fileUsers turns the request's users into config entries: a SCRAM
// verifier for Postgres tenants; MySQL's native authentication needs the
// password itself (the file is 0600).
func fileUsers(users []provisionUser, id, engine string) ([]fileUser, error) {
	var out []fileUser
	for _, u := range users {
		pw := u.Password
		if engine == proxy.EnginePostgres && !scram.IsVerifier(pw) {
			v, err := scram.NewVerifier(pw, scram.DefaultIterations)
			if err != nil {
				return nil, err
			}
			pw = v.String()
		}
		out = append(out, fileUser{Name: u.Name, Password: pw, Tenants: map[string]string{id: u.Role}})
	}
	return out, nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	if !s.provisioning(w) {
		return
	}
	var req provisionRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	switch {
	case req.ID == "":
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "id", "missing"))
		return
	case !tenantIDPattern.MatchString(req.ID):
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "id", "%q is not a valid tenant id (letters, digits and _, starting with a letter or _)", req.ID))
		return
	case req.Engine != proxy.EnginePostgres && req.Engine != proxy.EngineMySQL:
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "engine", "want postgres or mysql, got %q", req.Engine))
		return
	case req.Template == "":
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "template", "missing: the database to clone"))
		return
	case len(req.Users) == 0:
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "users", "give at least one user"))
		return
	}
	if req.Database == "" {
		req.Database = req.ID
	}
	if !tenantIDPattern.MatchString(req.Database) {
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "database", "%q is not a valid database name", req.Database))
		return
	}
	if req.Database == req.Template {
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "database", "the new database cannot be the template"))
		return
	}
	if e := s.checkUsers(req.Users, req.ID, req.Engine, req.Roles); e != nil {
		writeErr(w, e)
		return
	}
	p := s.prov
	server := p.cfg.PostgresDSN
	if req.Engine == proxy.EngineMySQL {
		server = p.cfg.MySQLDSN
	}
	if server == "" {
		writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", "engine", "provisioning.%s_dsn is not configured", req.Engine))
		return
	}
	dsn, err := tenantDSN(req.Engine, server, req.Database)
	if err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "provisioning_misconfigured", "%v", err))
		return
	}
	users, err := fileUsers(req.Users, req.ID, req.Engine)
	if err != nil {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "users: %v", err))
		return
	}
	var tf tenantFile
	tf.Tenant.ID, tf.Tenant.Engine, tf.Tenant.DSN = req.ID, req.Engine, dsn
	tf.Tenant.Pool, tf.Tenant.Limits, tf.Tenant.Roles = req.Pool, req.Limits, req.Roles
	tf.Users = users
	data, err := yaml.Marshal(&tf)
	if err != nil {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "%v", err))
		return
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if e := s.tenantConflicts(req); e != nil {
		writeErr(w, e)
		return
	}
	name := req.ID + ".yaml"
	if err := p.cfg.Check(map[string][]byte{name: data}); err != nil {
		writeErr(w, errf(http.StatusBadRequest, "invalid_config", "the tenant would not load: %v", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	clone, drop := clonePG, dropPG
	if req.Engine == proxy.EngineMySQL {
		clone, drop = cloneMySQL, dropMySQL
	}
	start := time.Now()
	if err := clone(ctx, server, req.Template, req.Database); err != nil {
		switch {
		case errors.Is(err, errTemplateMissing):
			writeErr(w, fieldErr(http.StatusBadRequest, "template_not_found", "template", "database %q does not exist", req.Template))
		case errors.Is(err, errDatabaseInUse):
			writeErr(w, fieldErr(http.StatusConflict, "conflict", "database", "database %q already exists", req.Database))
		default:
			writeErr(w, errf(http.StatusUnprocessableEntity, "clone_failed", "cloning %q failed, nothing was created: %v", req.Template, err))
		}
		return
	}
	undo := func() {
		_ = os.Remove(p.path(req.ID))
		_ = drop(context.WithoutCancel(ctx), server, req.Database)
	}
	if err := writeAtomic(p.path(req.ID), data); err != nil {
		undo()
		writeErr(w, errf(http.StatusInternalServerError, "write_failed", "writing the tenant file failed, nothing was created: %v", err))
		return
	}
	sum, err := s.reload()
	if err != nil {
		undo()
		// the file is gone again: bring the running config back in line
		_, _ = s.reload()
		writeErr(w, errf(http.StatusUnprocessableEntity, "invalid_config", "registering the tenant failed, nothing was created: %v", err))
		return
	}
	s.log.Info("tenant_provisioned", "tenant", req.ID, "engine", req.Engine, "by", b.User.Name)
	names := make([]string, 0, len(req.Users))
	for _, u := range req.Users {
		names = append(names, u.Name)
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": req.ID, "engine": req.Engine, "database": req.Database, "template": req.Template,
		"users": names, "file": p.path(req.ID), "clone_ms": ms(time.Since(start)), "changes": sum,
	})
}

// tenantConflicts answers 409 when the id, the database or a user name is
// taken.
func (s *Server) tenantConflicts(req provisionRequest) *apiError {
	for _, t := range s.p.Tenants() {
		if t.ID == req.ID {
			return fieldErr(http.StatusConflict, "conflict", "id", "tenant %q exists", req.ID)
		}
		if t.Engine == req.Engine && t.Scope.Database == req.Database {
			return fieldErr(http.StatusConflict, "conflict", "database", "database %q is tenant %q's", req.Database, t.ID)
		}
	}
	if _, err := os.Stat(s.prov.path(req.ID)); err == nil {
		return fieldErr(http.StatusConflict, "conflict", "id", "a tenant file for %q exists", req.ID)
	}
	for i, u := range req.Users {
		if _, ok := s.p.User(u.Name); ok {
			return fieldErr(http.StatusConflict, "conflict", fmt.Sprintf("users[%d].name", i), "user %q exists", u.Name)
		}
	}
	return nil
}

// readTenantFile reads a provisioned tenant's file, or answers 404/409.
func (s *Server) readTenantFile(id string) (*tenantFile, *apiError) {
	data, err := os.ReadFile(s.prov.path(id))
	if err != nil {
		for _, t := range s.p.Tenants() {
			if t.ID == id {
				return nil, errf(http.StatusConflict, "not_provisioned", "tenant %q is defined in the configuration file, not provisioned: change it there", id)
			}
		}
		return nil, errf(http.StatusNotFound, "not_found", "no provisioned tenant %q", id)
	}
	var tf tenantFile
	if err := yaml.Unmarshal(data, &tf); err != nil {
		return nil, errf(http.StatusInternalServerError, "invalid_file", "%s: %v", s.prov.path(id), err)
	}
	return &tf, nil
}

func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	if !s.provisioning(w) {
		return
	}
	id := r.PathValue("id")
	var req patchRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	p := s.prov
	p.mu.Lock()
	defer p.mu.Unlock()
	tf, e := s.readTenantFile(id)
	if e != nil {
		writeErr(w, e)
		return
	}
	if req.Pool != nil {
		tf.Tenant.Pool = req.Pool
	}
	if req.Limits != nil {
		tf.Tenant.Limits = req.Limits
	}
	if req.Roles != nil {
		tf.Tenant.Roles = req.Roles
	}
	if req.Users != nil {
		// Users are replaced by name: a given user gets the given role (and
		// password, when one is given); others stay.
		for i, u := range req.Users {
			f := fmt.Sprintf("users[%d]", i)
			if u.Name == "" || u.Role == "" {
				writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", f, "name and role are required"))
				return
			}
			j := slices.IndexFunc(tf.Users, func(x fileUser) bool { return x.Name == u.Name })
			if j < 0 {
				if _, ok := s.p.User(u.Name); ok {
					writeErr(w, fieldErr(http.StatusConflict, "conflict", f+".name", "user %q exists outside this tenant", u.Name))
					return
				}
				if u.Password == "" {
					writeErr(w, fieldErr(http.StatusBadRequest, "invalid_request", f+".password", "missing for a new user"))
					return
				}
				tf.Users = append(tf.Users, fileUser{Name: u.Name})
				j = len(tf.Users) - 1
			}
			if u.Password != "" {
				fu, err := fileUsers([]provisionUser{u}, id, tf.Tenant.Engine)
				if err != nil {
					writeErr(w, errf(http.StatusBadRequest, "invalid_request", "%s.password: %v", f, err))
					return
				}
				tf.Users[j].Password = fu[0].Password
			}
			tf.Users[j].Tenants = map[string]string{id: u.Role}
		}
	}
	data, err := yaml.Marshal(tf)
	if err != nil {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "%v", err))
		return
	}
	if err := p.cfg.Check(map[string][]byte{id + ".yaml": data}); err != nil {
		writeErr(w, errf(http.StatusBadRequest, "invalid_config", "the change would not load, nothing changed: %v", err))
		return
	}
	old, _ := os.ReadFile(p.path(id))
	if err := writeAtomic(p.path(id), data); err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "write_failed", "%v", err))
		return
	}
	sum, err := s.reload()
	if err != nil {
		_ = writeAtomic(p.path(id), old)
		_, _ = s.reload()
		writeErr(w, errf(http.StatusUnprocessableEntity, "invalid_config", "the change was rejected, nothing changed: %v", err))
		return
	}
	s.log.Info("tenant_changed", "tenant", id, "by", b.User.Name)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "status": "changed", "changes": sum})
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	if !s.provisioning(w) {
		return
	}
	id := r.PathValue("id")
	var req deleteRequest
	if r.ContentLength != 0 {
		if e := s.decodeBody(w, r, &req); e != nil {
			writeErr(w, e)
			return
		}
	}
	if v := r.URL.Query().Get("drop_database"); v == "true" {
		req.DropDatabase = true
	}
	p := s.prov
	p.mu.Lock()
	defer p.mu.Unlock()
	tf, e := s.readTenantFile(id)
	if e != nil {
		writeErr(w, e)
		return
	}
	if id == b.Tenant.ID {
		writeErr(w, errf(http.StatusConflict, "conflict", "tenant %q is the one you are logged in to: log in to another tenant to remove it", id))
		return
	}
	var state *proxy.TenantState
	for _, t := range s.p.Tenants() {
		if t.ID == id {
			state = t
		}
	}
	if err := p.cfg.Check(map[string][]byte{id + ".yaml": nil}); err != nil {
		writeErr(w, errf(http.StatusConflict, "conflict", "removing the tenant would leave a configuration that does not load: %v", err))
		return
	}
	old, _ := os.ReadFile(p.path(id))
	if err := os.Remove(p.path(id)); err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "write_failed", "%v", err))
		return
	}
	sum, err := s.reload()
	if err != nil {
		_ = writeAtomic(p.path(id), old)
		_, _ = s.reload()
		writeErr(w, errf(http.StatusUnprocessableEntity, "invalid_config", "removing the tenant was rejected, nothing changed: %v", err))
		return
	}
	// Drain: the reload closes the tenant's sessions at their next idle
	// point; wait for them to go before the database is dropped.
	drained := true
	if state != nil {
		deadline := time.Now().Add(10 * time.Second)
		for state.ClientConnections() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		drained = state.ClientConnections() == 0
	}
	dropped := false
	if req.DropDatabase {
		db, server := "", ""
		if tf.Tenant.Engine == proxy.EngineMySQL {
			server = p.cfg.MySQLDSN
		} else {
			server = p.cfg.PostgresDSN
		}
		if state != nil {
			db = state.Scope.Database
		}
		drop := dropPG
		if tf.Tenant.Engine == proxy.EngineMySQL {
			drop = dropMySQL
		}
		if db != "" && server != "" {
			if err := drop(r.Context(), server, db); err != nil {
				writeErr(w, errf(http.StatusInternalServerError, "drop_failed", "the tenant was removed, its database %q was not dropped: %v", db, err))
				return
			}
			dropped = true
		}
	}
	s.p.Digests().Reset(id)
	s.log.Info("tenant_removed", "tenant", id, "database_dropped", dropped, "by", b.User.Name)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "status": "removed", "drained": drained, "database_dropped": dropped, "changes": sum})
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	var out []map[string]any
	for _, t := range s.p.Tenants() {
		m := map[string]any{"id": t.ID, "engine": t.Engine, "database": t.Scope.Database, "isolation": t.Scope.Isolation,
			"clients": t.ClientConnections(), "provisioned": false}
		if s.prov != nil && s.prov.cfg.Dir != "" {
			if _, err := os.Stat(s.prov.path(t.ID)); err == nil {
				m["provisioned"] = true
			}
		}
		if h, ok := t.Health(); ok {
			m["health"] = h
		}
		if st, ok := t.PoolStats(); ok {
			m["pool"] = st
		}
		m["statements"] = s.p.Digests().Totals(t.ID)
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
}
