// Package proxy owns the session pipeline shared by both wire front ends:
// the tenant registry, binding an authenticated user to a tenant and role,
// tenant switching, the policy check of every statement, the per-tenant
// backend pools, the cancel-key map, client tracking for draining, and the
// metrics of it all. It knows nothing of wire framing.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/mongopipe"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Engines a tenant's backend can run.
const (
	EnginePostgres = "postgres"
	EngineMySQL    = "mysql"
	// EngineSQLite tenants (a database file each) are served through the
	// admin API only (sqlite.go).
	EngineSQLite = "sqlite"
	// EngineMongo tenants (a MongoDB database each, or shared collections
	// filtered on a tenant field) are served through the admin API only
	// (mongo.go).
	EngineMongo = "mongodb"
)

// Tenant is one tenant's configuration, resolved and validated.
type Tenant struct {
	ID       string
	Engine   string
	DSN      string
	Scope    policy.Scope
	Roles    map[string]*policy.Role // every role usable on this tenant (built-ins, shared and own)
	Pool     pool.Config
	PGConfig *pgconn.Config // Postgres tenants: the parsed DSN
	Limits   Limits         // per-tenant client, rate and time limits
	// Replicas are read replicas of a Postgres tenant (parsed DSNs, in the
	// order of ReplicaDSNs); ReadAfterWrite is how long a session reads from
	// the primary after it wrote.
	Replicas       []*pgconn.Config
	MySQLReplicas  []*MySQLBackend
	ReplicaDSNs    []string
	ReadAfterWrite time.Duration
	MySQL          *MySQLBackend  // MySQL tenants: the parsed DSN
	SQLite         *SQLiteBackend // SQLite tenants: the file's DSNs
	Mongo          *MongoBackend  // MongoDB tenants: the DSN, database and collections
}

// MySQLBackend is a MySQL tenant's parsed DSN.
type MySQLBackend struct {
	Addr     string
	User     string
	Password string
	Database string
	Params   map[string]string
}

// User is a configured user.
type User struct {
	Name     string
	Plain    string            // the password when the config gives it in clear (dev)
	Verifier scram.Verifier    // always set: derived from Plain when needed
	Tenants  map[string]string // tenant id -> role name
	// Operator lets the user operate the proxy itself (reload, status of
	// every tenant, the /api/v1/admin endpoints); no tenant role does.
	Operator bool
}

// TenantIDs returns the ids of the tenants the user holds, sorted.
func (u *User) TenantIDs() []string {
	ids := make([]string, 0, len(u.Tenants))
	for id := range u.Tenants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Config is what the proxy serves.
type Config struct {
	Tenants []*Tenant
	Users   []*User
	// MaxMessageSize bounds one client protocol message (default 64 MiB).
	MaxMessageSize int
	// DrainTimeout bounds how long SIGTERM waits for running statements.
	DrainTimeout time.Duration
	// PolicyCacheEntries sizes the rewrite cache.
	PolicyCacheEntries int
	// MaxClientConnections caps the client connections of both front ends
	// together, logged in or not (0: no cap); MaxUnauthenticatedPerSource
	// caps one address's connections that have not logged in yet (0: the
	// default, -1: no cap). See Gate.
	MaxClientConnections        int
	MaxUnauthenticatedPerSource int
	// Lockout is the brute-force protection of logins (auth.lockout).
	Lockout LockoutConfig
	// CatalogRefresh is how often a row tenant's catalog snapshot in use is
	// read again (default 30s); see catalog.go.
	CatalogRefresh time.Duration
}

// TenantState is a live tenant: its config and its backend pool.
type TenantState struct {
	*Tenant
	PGPool *pool.Pool[*pool.PGConn]
	// PGReplicas and MySQLReplicas are the read replicas' pools.
	PGReplicas    []*pool.Pool[*pool.PGConn]
	MySQLReplicas []*pool.Pool[*pool.MySQLConn]
	// MySQLPool is the backend pool of a MySQL tenant.
	MySQLPool *pool.Pool[*pool.MySQLConn]
	// SQLitePool opens an SQLite tenant's file as configured (writes);
	// SQLiteROPool read-only, for reads.
	SQLitePool, SQLiteROPool *pool.Pool[*pool.SQLiteConn]
	// MongoPool is the backend pool of a MongoDB tenant.
	MongoPool *pool.Pool[*pool.MongoConn]
	// ServerParams are the backend's ParameterStatus values, learned from
	// the first backend connection (Postgres tenants).
	serverParams atomic.Pointer[map[string]string]
	lim          limiter
	mongoCaps    atomic.Pointer[mongopipe.Caps] // what a MongoDB tenant's server runs of a pipeline
	catalog      catalog                        // row isolation: the live catalog snapshot (catalog.go)
	// retired is set when a reload replaced or removed the tenant: its
	// pool closes once no client is bound to it any more.
	retired   atomic.Bool
	closeOnce sync.Once
}

// closePools closes the tenant's backend pools.
func (t *TenantState) closePools() {
	t.closeOnce.Do(func() {
		if t.PGPool != nil {
			t.PGPool.Close()
		}
		for _, r := range t.PGReplicas {
			r.Close()
		}
		for _, r := range t.MySQLReplicas {
			r.Close()
		}
		for _, p := range []*pool.Pool[*pool.SQLiteConn]{t.SQLitePool, t.SQLiteROPool} {
			if p != nil {
				p.Close()
			}
		}
		if t.MySQLPool != nil {
			t.MySQLPool.Close()
		}
		if t.MongoPool != nil {
			t.MongoPool.Close()
		}
	})
}

// limitedPool is what the fleet needs of a tenant's main pool.
type limitedPool interface {
	ClusterMax() int
	Stats() pool.Stats
	SetLimit(n int)
}

// mainPool returns the tenant's primary pool, or nil.
func (t *TenantState) mainPool() limitedPool {
	switch {
	case t.PGPool != nil:
		return t.PGPool
	case t.MySQLPool != nil:
		return t.MySQLPool
	case t.SQLitePool != nil:
		return t.SQLitePool
	case t.MongoPool != nil:
		return t.MongoPool
	}
	return nil
}

// ReadPool returns the pool of the healthy replica with the fewest
// connections in use, or nil when there is none.
func (t *TenantState) ReadPool() *pool.Pool[*pool.PGConn] { return leastBusy(t.PGReplicas) }

// MySQLReadPool is ReadPool for a MySQL tenant.
func (t *TenantState) MySQLReadPool() *pool.Pool[*pool.MySQLConn] { return leastBusy(t.MySQLReplicas) }

func leastBusy[C pool.Conn](pools []*pool.Pool[C]) *pool.Pool[C] {
	var best *pool.Pool[C]
	bestUse := 0
	for _, r := range pools {
		if r.Health().Breaker == "open" {
			continue
		}
		if u := r.Stats().InUse; best == nil || u < bestUse {
			best, bestUse = r, u
		}
	}
	return best
}

// ServerParams returns the backend's reported parameters, or nil before the
// first connection.
func (t *TenantState) ServerParams() map[string]string {
	if p := t.serverParams.Load(); p != nil {
		return *p
	}
	return nil
}

type registry struct {
	tenants map[string]*TenantState
	users   map[string]*User
	version uint64
}

// Server is the proxy core shared by the front ends.
type Server struct {
	log     *slog.Logger
	cfg     Config
	policy  *policy.Engine
	Metrics *Metrics
	digests atomic.Pointer[Digests] // digest.go

	reg atomic.Pointer[registry]

	cancelMu sync.Mutex
	cancels  map[uint32]cancelEntry

	clientsMu sync.Mutex
	clients   map[*clientEntry]struct{}
	reloadMu  sync.Mutex
	draining  atomic.Bool

	gate       gate           // gate.go
	logins     loginGuard     // loginguard.go
	dummy      scram.Verifier // CheckPassword's verifier for unknown users
	catalogGen atomic.Uint64  // numbers catalog snapshots (catalog.go)

	audit  atomic.Pointer[AuditLog] // audit.go
	alerts atomic.Pointer[Alerter]  // alerts.go
	fleet  atomic.Pointer[Fleet]    // fleet.go, when the proxy is one of several
	kill   atomic.Pointer[KillFunc] // peer.go: the MySQL front end's local KILL
	tables tableVersions            // fleetcache.go
	// mysqlVersion is the version string the last MySQL backend reported.
	mysqlVersion atomic.Pointer[string]

	iso isoGuard // overlap.go: tenants refused until their isolation is verified
}

type cancelEntry struct {
	secret uint32
	fn     func()
}

// New builds the proxy core. Pools are created here but open no connection
// until first used.
func New(cfg Config, engine *policy.Engine, metrics *Metrics, log *slog.Logger) (*Server, error) {
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 64 << 20
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if err := cfg.Lockout.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("auth.lockout: %w", err)
	}
	var seed [16]byte
	_, _ = rand.Read(seed[:])
	dummy, err := scram.NewVerifier(fmt.Sprintf("%x", seed), scram.DefaultIterations)
	if err != nil {
		return nil, err
	}
	if cfg.CatalogRefresh == 0 {
		cfg.CatalogRefresh = 30 * time.Second
	}
	s := &Server{
		dummy:   dummy,
		log:     log,
		cfg:     cfg,
		policy:  engine,
		Metrics: metrics,
		cancels: make(map[uint32]cancelEntry),
		clients: make(map[*clientEntry]struct{}),
	}
	reg := &registry{tenants: make(map[string]*TenantState), users: make(map[string]*User), version: 1}
	for _, t := range cfg.Tenants {
		reg.tenants[t.ID] = s.newTenantState(t)
	}
	for _, u := range cfg.Users {
		reg.users[u.Name] = u
	}
	s.reg.Store(reg)
	if metrics != nil {
		metrics.watch(s)
	}
	return s, nil
}

// newTenantState builds a live tenant; its pool opens no connection until
// first used.
func (s *Server) newTenantState(t *Tenant) *TenantState {
	ts := &TenantState{Tenant: t}
	if t.Engine == EnginePostgres {
		ts.PGPool = pool.New(t.ID, t.Pool, s.pgDialer(ts, t.PGConfig), pool.PingPostgres)
		for i, rc := range t.Replicas {
			name := fmt.Sprintf("%s (replica %d)", t.ID, i+1)
			ts.PGReplicas = append(ts.PGReplicas, pool.New(name, t.Pool, s.pgDialer(ts, rc), pool.PingPostgres))
		}
	}
	if t.Engine == EngineSQLite {
		ts.SQLitePool = pool.New(t.ID, t.Pool, pool.DialSQLite(t.SQLite.DSN), pool.PingSQLite)
		ts.SQLiteROPool = pool.New(t.ID+" (read-only)", t.Pool, pool.DialSQLite(t.SQLite.RODSN), pool.PingSQLite)
	}
	if t.Engine == EngineMongo && t.Mongo != nil {
		ts.MongoPool = pool.New(t.ID, t.Pool, s.mongoDialer(ts, t.Mongo), pool.PingMongo)
	}
	if t.Engine == EngineMySQL && t.MySQL != nil {
		ts.MySQLPool = pool.New(t.ID, t.Pool, s.mysqlDialer(ts, t.MySQL), pool.PingMySQL)
		for i, rb := range t.MySQLReplicas {
			name := fmt.Sprintf("%s (replica %d)", t.ID, i+1)
			ts.MySQLReplicas = append(ts.MySQLReplicas, pool.New(name, t.Pool, s.mysqlDialer(ts, rb), pool.PingMySQL))
		}
	}
	s.watchBreaker(ts)
	return ts
}

func (s *Server) pgDialer(ts *TenantState, cfg *pgconn.Config) pool.Dialer[*pool.PGConn] {
	dial := pool.PostgresDialer(cfg)
	return func(ctx context.Context) (*pool.PGConn, error) {
		c, err := dial(ctx)
		if err != nil {
			s.log.Warn("backend_connect_failed", "tenant", ts.ID, "error", err)
			return nil, err
		}
		if ts.serverParams.Load() == nil {
			p := maps.Clone(c.Params)
			ts.serverParams.Store(&p)
		}
		return c, nil
	}
}

func (s *Server) mysqlDialer(ts *TenantState, m *MySQLBackend) pool.Dialer[*pool.MySQLConn] {
	dial := pool.MySQLDialer(pool.MySQLDSN{Addr: m.Addr, User: m.User, Password: m.Password, Database: m.Database, Params: m.Params})
	return func(ctx context.Context) (*pool.MySQLConn, error) {
		c, err := dial(ctx)
		if err != nil {
			s.log.Warn("backend_connect_failed", "tenant", ts.ID, "error", err)
			return nil, err
		}
		if c.ServerVersion != "" {
			s.mysqlVersion.Store(&c.ServerVersion)
		}
		return c, nil
	}
}

// MySQLServerVersion returns the version string the last MySQL backend
// connection reported ("" before the first): the MySQL front end greets
// with it, so that drivers pick the session variables the backends have
// (MariaDB 10.x has tx_isolation, MySQL 8 only transaction_isolation).
func (s *Server) MySQLServerVersion() string {
	if v := s.mysqlVersion.Load(); v != nil {
		return *v
	}
	return ""
}

// MaxMessageSize is the largest client message the front ends accept.
func (s *Server) MaxMessageSize() int { return s.cfg.MaxMessageSize }

// Logger returns the proxy's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// User returns a configured user.
func (s *Server) User(name string) (*User, bool) {
	u, ok := s.reg.Load().users[name]
	return u, ok
}

// Tenants returns the live tenants sorted by id.
func (s *Server) Tenants() []*TenantState {
	reg := s.reg.Load()
	out := make([]*TenantState, 0, len(reg.tenants))
	for _, t := range reg.tenants {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *TenantState) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// Binding is a session's tie to one tenant under one role.
type Binding struct {
	User    *User
	Tenant  *TenantState
	Role    *policy.Role
	Subject policy.Subject
}

// Bind ties user u to tenant id for a client speaking engine. A tenant that
// does not exist and one the user holds no role on get the same answer, so
// a client learns nothing about other tenants.
//
// Postgres clients such as psql send the user name as the database when
// none is given: a database equal to the user's name that is not a tenant
// the user holds counts as no tenant chosen (whether or not such a tenant
// exists, so the answer tells nothing about other tenants).
func (s *Server) Bind(u *User, id, engine string) (*Binding, error) {
	if engine == EnginePostgres && id == u.Name {
		if _, held := u.Tenants[id]; !held {
			id = ""
		}
	}
	if id == "" {
		ids := u.TenantIDs()
		var own []string
		reg := s.reg.Load()
		for _, tid := range ids {
			if t := reg.tenants[tid]; t != nil && t.Engine == engine {
				own = append(own, tid)
			}
		}
		if len(own) != 1 {
			e := sqlerr.New(sqlerr.NoTenantChosen,
				"no tenant chosen: user %q holds %d tenants on this port; choose one by connecting with its id as the database name", u.Name, len(own))
			if len(own) > 0 {
				e = e.WithHint("tenants: %s", strings.Join(own, ", "))
			}
			return nil, e
		}
		id = own[0]
	}
	reg := s.reg.Load()
	roleName, held := u.Tenants[id]
	t := reg.tenants[id]
	if held && t != nil && t.Engine != engine {
		// The user holds it: saying which port serves it reveals nothing.
		if apiOnly(t.Engine) {
			return nil, sqlerr.New(sqlerr.Unsupported,
				"tenant %q is a %s tenant: it is served through the admin API only (POST /api/v1/tenant/query), not on this port", id, t.Engine)
		}
		return nil, sqlerr.New(sqlerr.Unsupported,
			"tenant %q is a %s tenant: connect to the proxy's %s port for it", id, t.Engine, t.Engine)
	}
	if !held || t == nil || t.Engine != engine {
		return nil, sqlerr.New(sqlerr.UnknownTenant,
			"tenant %q does not exist or user %q holds no role on it", id, u.Name)
	}
	if err := s.isolationBlocked(id); err != nil {
		return nil, err
	}
	role := t.Roles[roleName]
	if role == nil {
		// The config loader checks roles; this guards a reload race.
		return nil, sqlerr.New(sqlerr.NoRoleOnTenant, "role %q of user %q is not defined on tenant %q", roleName, u.Name, id)
	}
	return &Binding{
		User:   u,
		Tenant: t,
		Role:   role,
		Subject: policy.Subject{
			User:    u.Name,
			Scope:   &t.Scope,
			Role:    role,
			Version: reg.version,
		},
	}, nil
}

// Switch rebinds a session to another tenant the user holds (SET tenant /
// USE). A tenant the user does not hold is refused with 42501 / 1044.
func (s *Server) Switch(b *Binding, id, engine string) (*Binding, error) {
	nb, err := s.Bind(b.User, id, engine)
	if err != nil {
		if sqlerr.Is(err, sqlerr.UnknownTenant) {
			return nil, sqlerr.New(sqlerr.NoRoleOnTenant,
				"permission denied to switch to tenant %q: it does not exist or user %q holds no role on it", id, b.User.Name)
		}
		return nil, err
	}
	return nb, nil
}

// Check runs the policy engine on sql for the binding. A row tenant's
// statements are decided on its live catalog snapshot (catalog.go).
func (s *Server) Check(b *Binding, d policy.Dialect, sql string) (*policy.Decision, error) {
	var dec *policy.Decision
	var err error
	if b.Tenant.Scope.Isolation == policy.IsolationRow || needsCatalog(b) {
		dec, err = s.checkCatalog(b, d, sql)
	} else if dec, err = s.policy.Check(b.Subject, d, sql); err == nil {
		s.noteDDL(dec)
	}
	if err == nil {
		s.noteWrites(b.Tenant.ID, dec, true) // before it runs; Record notes it again after
	}
	return dec, err
}

// NewCancelKey registers fn under a fresh (pid, secret) pair for the
// protocol's cancel request and returns the pair and a function that
// unregisters it.
func (s *Server) NewCancelKey(fn func()) (pid, secret uint32, unregister func()) {
	var b [8]byte
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		pid = s.newCancelPID(binary.BigEndian.Uint32(b[:4]))
		secret = binary.BigEndian.Uint32(b[4:])
		if _, taken := s.cancels[pid]; !taken && pid != 0 {
			break
		}
	}
	s.cancels[pid] = cancelEntry{secret: secret, fn: fn}
	return pid, secret, func() {
		s.cancelMu.Lock()
		delete(s.cancels, pid)
		s.cancelMu.Unlock()
	}
}

// Cancel runs the cancel function registered under (pid, secret), if any;
// a key another fleet member handed out is forwarded to it. A wrong secret
// does nothing, as in Postgres.
func (s *Server) Cancel(pid, secret uint32) bool {
	return s.cancelLocal(pid, secret) || s.forwardCancel(pid, secret)
}

// cancelLocal runs the cancel function registered here under (pid, secret).
func (s *Server) cancelLocal(pid, secret uint32) bool {
	s.cancelMu.Lock()
	e, ok := s.cancels[pid]
	s.cancelMu.Unlock()
	if !ok || e.secret != secret {
		return false
	}
	e.fn()
	return true
}

// Client is what the proxy needs of a client connection to drain it.
type Client interface {
	// Evict asks the client connection to close at its next idle point
	// (between transactions), telling the client err.
	Evict(err *sqlerr.Error)
	// Close closes it now.
	Close() error
	// Bound returns the tenant and user the connection is bound to now.
	Bound() (tenant, user string)
}

type clientEntry struct {
	c Client
}

// Track registers a client connection for draining and returns the function
// that unregisters it. It fails while the proxy is draining.
func (s *Server) Track(c Client) (untrack func(), err error) {
	if s.draining.Load() {
		return nil, sqlerr.New(sqlerr.ShuttingDown, "the proxy is shutting down")
	}
	e := &clientEntry{c: c}
	s.clientsMu.Lock()
	s.clients[e] = struct{}{}
	s.clientsMu.Unlock()
	return func() {
		s.clientsMu.Lock()
		delete(s.clients, e)
		s.clientsMu.Unlock()
	}, nil
}

func (s *Server) clientCount() int {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	return len(s.clients)
}

// Draining reports whether the proxy is shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

// closeGrace is how long Shutdown waits for closed connections to end.
const closeGrace = 5 * time.Second

// Shutdown drains: new clients are refused, each client closes at its next
// idle point, and after the drain timeout (or ctx) the rest are closed. Then
// the pools are closed.
func (s *Server) Shutdown(ctx context.Context) {
	s.draining.Store(true)
	s.clientsMu.Lock()
	for e := range s.clients {
		e.c.Evict(sqlerr.New(sqlerr.ShuttingDown, "terminating connection because the proxy is shutting down"))
	}
	s.clientsMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	closed := false
drain:
	for s.clientCount() > 0 {
		select {
		case <-ctx.Done():
			if closed {
				// Never wait forever on a connection that does not end.
				s.log.Error("drain_abandoned", "clients", s.clientCount())
				break drain
			}
			closed = true
			s.clientsMu.Lock()
			s.log.Warn("drain_timeout", "clients_closed", len(s.clients))
			for e := range s.clients {
				_ = e.c.Close()
			}
			s.clientsMu.Unlock()
			// Closing makes each connection's goroutine untrack itself.
			ctx, cancel = context.WithTimeout(context.Background(), closeGrace)
			defer cancel()
		case <-t.C:
		}
	}
	for _, t := range s.Tenants() {
		t.closePools()
	}
}

// String describes a binding for logs.
func (b *Binding) String() string {
	return fmt.Sprintf("%s@%s(%s)", b.User.Name, b.Tenant.ID, b.Role.Name)
}

// Health returns the state of the tenant's backend (up, degraded, down)
// with its reason, since when, and the breaker state.
func (t *TenantState) Health() (pool.Health, bool) {
	if t.PGPool != nil {
		return t.PGPool.Health(), true
	}
	if t.SQLitePool != nil {
		return t.SQLiteROPool.Health(), true
	}
	if t.MySQLPool != nil {
		return t.MySQLPool.Health(), true
	}
	if t.MongoPool != nil {
		return t.MongoPool.Health(), true
	}
	return pool.Health{}, false
}

// PoolStats returns the tenant's pool statistics.
func (t *TenantState) PoolStats() (pool.Stats, bool) {
	if t.PGPool != nil {
		return t.PGPool.Stats(), true
	}
	if t.SQLitePool != nil {
		return t.SQLiteROPool.Stats(), true
	}
	if t.MySQLPool != nil {
		return t.MySQLPool.Stats(), true
	}
	if t.MongoPool != nil {
		return t.MongoPool.Stats(), true
	}
	return pool.Stats{}, false
}
