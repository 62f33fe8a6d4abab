package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tenantproxy/tenantproxy/nlp"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// schemaEntry is one tenant's introspected schema and its per-role views.
// The schema is read from the live catalog, reused for SchemaTTL and
// dropped by POST /tenant/schema/refresh.
type schemaEntry struct {
	mu     sync.Mutex // serialises loads
	schema *nlp.Schema
	loaded time.Time
	gen    int64
	byRole map[string]*nlp.Schema
}

// catalogRunner runs the nlp package's catalog statements on a tenant.
type catalogRunner struct {
	p *proxy.Server
	t *proxy.TenantState
}

func (c catalogRunner) RunCatalog(ctx context.Context, sql string, fn func([]any) error) error {
	_, err := c.p.SystemQuery(ctx, c.t, sql, fn)
	return err
}

// entry returns tenant t's schema entry; a tenant reconfigured onto another
// backend starts a new one.
func (s *Server) entry(t *proxy.TenantState) *schemaEntry {
	id := t.ID + "\x00" + t.DSN
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	e := s.schemas[id]
	if e == nil {
		e = &schemaEntry{}
		s.schemas[id] = e
	}
	return e
}

// schemaGen is the tenant's schema generation, part of result cache keys
// so that a refresh also retires cached answers.
func (s *Server) schemaGen(t *proxy.TenantState) int64 {
	e := s.entry(t)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gen
}

// schemaFor returns the schema b's role may read.
func (s *Server) schemaFor(ctx context.Context, b *proxy.Binding) (*nlp.Schema, error) {
	e := s.entry(b.Tenant)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.schema == nil || time.Since(e.loaded) > s.cfg.SchemaTTL {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
		defer cancel()
		d := nlp.Postgres
		switch b.Tenant.Engine {
		case proxy.EngineMySQL:
			d = nlp.MySQL
		case proxy.EngineSQLite:
			d = nlp.SQLite
		}
		var scope nlp.RowScope
		if b.Tenant.Scope.Isolation == policy.IsolationRow {
			scope = nlp.RowScope{Column: b.Tenant.Scope.TenantColumn, Value: b.Tenant.Scope.TenantValue}
		}
		var sc *nlp.Schema
		var err error
		if b.Tenant.Engine == proxy.EngineMongo {
			sc, err = s.introspectMongo(ctx, b.Tenant)
		} else {
			sc, err = nlp.Introspect(ctx, catalogRunner{s.p, b.Tenant}, d, scope)
		}
		if err != nil {
			s.log.Warn("schema_introspection_failed", "tenant", b.Tenant.ID, "error", err)
			return nil, err
		}
		e.schema, e.loaded, e.byRole = sc, time.Now(), map[string]*nlp.Schema{}
		e.gen++
	}
	key := fmt.Sprintf("%s\x00%d", b.Role.Name, b.Subject.Version)
	if v := e.byRole[key]; v != nil {
		return v, nil
	}
	v := e.schema.Filter(func(table string) bool { return tableAllowed(b.Role, table) }, nil)
	e.byRole[key] = v
	return v, nil
}

// introspectMongo infers a MongoDB tenant's schema from sampled documents.
// A row tenant's collections hold other tenants' documents: every read of
// the sampling is confined to the tenant's own (its tenant_field value), so
// no other tenant's fields, values or counts reach its schema.
func (s *Server) introspectMongo(ctx context.Context, t *proxy.TenantState) (*nlp.Schema, error) {
	opts := nlp.MongoIntrospectOptions{Collections: t.Mongo.Collections}
	if t.Scope.Isolation == policy.IsolationRow {
		if t.Scope.TenantColumn == "" || t.Scope.TenantValue == "" {
			return nil, sqlerr.New(sqlerr.Unsupported, "the schema of MongoDB tenant %q is not available: it shares its collections but has no tenant_field and value", t.ID)
		}
		opts.Scope = nlp.RowScope{Column: t.Scope.TenantColumn, Value: t.Scope.TenantValue}
	}
	var sc *nlp.Schema
	err := s.p.WithMongo(ctx, t, func(ctx context.Context, db *mongo.Database) error {
		var err error
		sc, err = nlp.IntrospectMongo(ctx, db, opts)
		return err
	})
	return sc, err
}

// tableAllowed applies the role's allowed_tables and denied_tables.
func tableAllowed(r *policy.Role, table string) bool {
	t := strings.ToLower(table)
	for _, d := range r.DeniedTables {
		if d == t {
			return false
		}
	}
	if len(r.AllowedTables) == 0 {
		return true
	}
	for _, a := range r.AllowedTables {
		if a == t {
			return true
		}
	}
	return false
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	sc, err := s.schemaFor(r.Context(), b)
	if err != nil {
		writeErr(w, fromError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant_id": b.Tenant.ID, "dialect": sc.Dialect, "loaded_at": sc.LoadedAt, "tables": sc.Tables})
}

func (s *Server) refreshSchema(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	e := s.entry(b.Tenant)
	e.mu.Lock()
	e.schema = nil
	e.mu.Unlock()
	sc, err := s.schemaFor(r.Context(), b)
	if err != nil {
		writeErr(w, fromError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant_id": b.Tenant.ID, "refreshed": true, "loaded_at": sc.LoadedAt, "tables": len(sc.Tables)})
}
