package proxy

// Overlap checks: two tenants must never share what their isolation model
// gives each of them alone. The same (server, database) under database
// isolation, the same (server, database, schema) under schema isolation,
// the same (server, database, tenant_value) under row isolation, and one
// database used under two models are configuration errors.
//
// A server is what the backend says it is, not the DSN's text: Postgres
// reports system_identifier (pg_control_system()) and its port, MySQL
// @@server_uuid; MariaDB has no server_uuid, so it is identified by
// @@hostname, @@port and @@datadir, which together name one running server.
// "localhost" and "127.0.0.1" thus resolve to the same server.
//
// A backend that cannot be reached when the check runs does not hold up the
// start: its tenants are compared by their resolved address meanwhile, and
// they are refused to clients ("isolation not yet verified") until their
// backend answers and the check passes with its real identity.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Overlap is a pair of tenants sharing what isolation gives each alone.
type Overlap struct {
	A, B   string // the two tenants (A configured first)
	Object string // the shared object, e.g. `database "shop" on server pg:7714…:5432`
	Reason string // why that breaks isolation
}

// String is the overlap as one config error line.
func (o Overlap) String() string {
	return fmt.Sprintf("tenants %q and %q share %s: %s", o.A, o.B, o.Object, o.Reason)
}

// IsolationCheck is the outcome of CheckIsolation.
type IsolationCheck struct {
	// Servers maps each tenant to its server identity ("pg:<system_identifier>:<port>",
	// "mysql:<server_uuid>", "mariadb:<host>:<port>:<datadir>", or, for a backend that
	// did not answer, "addr:<ip>:<port>").
	Servers map[string]string
	// Pending maps each tenant whose backend did not answer to the reason.
	Pending map[string]string
	// Overlaps found (empty when the check passed).
	Overlaps []Overlap
}

// Err returns the overlaps as one error, or nil.
func (c *IsolationCheck) Err() error {
	if len(c.Overlaps) == 0 {
		return nil
	}
	lines := make([]string, len(c.Overlaps))
	for i, o := range c.Overlaps {
		lines[i] = o.String()
	}
	return fmt.Errorf("isolation: %s", strings.Join(lines, "; "))
}

// identityTimeout bounds one backend's identity probe.
const identityTimeout = 3 * time.Second

// CheckIsolation asks every backend server for its identity (each probe
// bounded by a few seconds, the servers in parallel, one connection per
// server address) and compares the tenants.
// The error lists every overlap, naming both tenants and the shared object;
// tenants whose backend did not answer are in the result's Pending.
func CheckIsolation(ctx context.Context, tenants []*Tenant) (*IsolationCheck, error) {
	chk := &IsolationCheck{Servers: map[string]string{}, Pending: map[string]string{}}
	// A server is asked once per address as written: the first of its
	// tenants whose backend answers names it for all of them.
	groups := map[string][]*Tenant{}
	var keys []string
	for _, t := range tenants {
		k := t.Engine + " " + dialAddr(t)
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], t)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var server string
			why := map[string]string{}
			gctx, gcancel := context.WithTimeout(ctx, 3*identityTimeout)
			defer gcancel()
			for _, t := range groups[k] {
				pctx, cancel := context.WithTimeout(gctx, identityTimeout)
				id, err := ServerIdentity(pctx, t)
				cancel()
				if err == nil {
					server = id
					break
				}
				why[t.ID] = err.Error()
				if !serverAnswered(err) {
					break // the server is not reachable: its other tenants would wait in vain
				}
			}
			for _, t := range groups[k] {
				if _, tried := why[t.ID]; !tried && server == "" {
					why[t.ID] = "the backend server did not answer"
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, t := range groups[k] {
				if server != "" {
					chk.Servers[t.ID] = server
					continue
				}
				chk.Servers[t.ID] = addrIdentity(t)
				chk.Pending[t.ID] = why[t.ID]
			}
		}()
	}
	wg.Wait()
	chk.Overlaps = Overlaps(tenants, chk.Servers)
	return chk, chk.Err()
}

// ServerIdentity asks t's backend who it is.
func ServerIdentity(ctx context.Context, t *Tenant) (string, error) {
	switch {
	case t.Engine == EnginePostgres && t.PGConfig != nil:
		cfg := t.PGConfig.Copy()
		cfg.ConnectTimeout = identityTimeout
		c, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return "", fmt.Errorf("tenant %q: cannot reach the backend: %w", t.ID, err)
		}
		defer func() { _ = c.Close(context.Background()) }()
		res := c.ExecParams(ctx, "SELECT (SELECT system_identifier FROM pg_control_system())::text, current_setting('port')", nil, nil, nil, nil).Read()
		if res.Err == nil && len(res.Rows) == 1 {
			return "pg:" + string(res.Rows[0][0]) + ":" + string(res.Rows[0][1]), nil
		}
		// pg_control_system() may be revoked from the backend user: the
		// address the server answers on and its port are the next best.
		res = c.ExecParams(ctx, "SELECT inet_server_addr()::text, current_setting('port')", nil, nil, nil, nil).Read()
		if res.Err == nil && len(res.Rows) == 1 && res.Rows[0][0] != nil {
			return "addr:" + canonicalHost(string(res.Rows[0][0])) + ":" + string(res.Rows[0][1]), nil
		}
		return "", fmt.Errorf("tenant %q: the backend does not say which server it is", t.ID)
	case t.Engine == EngineMySQL && t.MySQL != nil:
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = t.MySQL.User, t.MySQL.Password, "tcp", t.MySQL.Addr, t.MySQL.Database
		mc.Timeout = identityTimeout
		switch tlsMode := strings.ToLower(t.MySQL.Params["tls"]); tlsMode {
		case "true", "skip-verify", "preferred":
			mc.TLSConfig = tlsMode // as the pool connects
		}
		db, err := sql.Open("mysql", mc.FormatDSN())
		if err != nil {
			return "", err
		}
		defer db.Close()
		var uuid string
		if err := db.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&uuid); err == nil && uuid != "" {
			return "mysql:" + uuid, nil
		}
		var host, port, dir string
		if err := db.QueryRowContext(ctx, "SELECT @@hostname, @@port, @@datadir").Scan(&host, &port, &dir); err != nil {
			return "", fmt.Errorf("tenant %q: cannot reach the backend: %w", t.ID, err)
		}
		return "mariadb:" + host + ":" + port + ":" + dir, nil
	case t.Engine == EngineSQLite && t.SQLite != nil:
		// A file on this machine: the file's path (Scope.Database) tells
		// two tenants' databases apart.
		return "sqlite:local", nil
	case t.Engine == EngineMongo && t.Mongo != nil:
		// Named by its address as written: the database (Scope.Database)
		// tells tenants apart.
		return "mongodb:" + dialAddr(t), nil
	}
	return "", fmt.Errorf("tenant %q: no backend", t.ID)
}

// serverAnswered reports whether err came from a server that answered
// (a login or database refused) rather than from an unreachable one.
func serverAnswered(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	return errors.As(err, &pe) || errors.As(err, &me)
}

// dialAddr is the backend address as the DSN writes it.
func dialAddr(t *Tenant) string {
	switch {
	case t.PGConfig != nil:
		return fmt.Sprintf("%s:%d", t.PGConfig.Host, t.PGConfig.Port)
	case t.MySQL != nil:
		return t.MySQL.Addr
	case t.Mongo != nil:
		if u, err := url.Parse(t.Mongo.DSN); err == nil {
			return u.Host
		}
	}
	return ""
}

// addrIdentity is the best guess of a server without asking it: the
// backend's address with the host resolved.
func addrIdentity(t *Tenant) string {
	switch {
	case t.PGConfig != nil:
		return fmt.Sprintf("addr:%s:%d", canonicalHost(t.PGConfig.Host), t.PGConfig.Port)
	case t.MySQL != nil:
		host, port, err := net.SplitHostPort(t.MySQL.Addr)
		if err != nil {
			return "addr:" + t.MySQL.Addr
		}
		return "addr:" + canonicalHost(host) + ":" + port
	}
	return "addr:?"
}

// canonicalHost resolves host to one address; every loopback name and
// address is 127.0.0.1.
func canonicalHost(host string) string {
	if strings.HasPrefix(host, "/") {
		return "127.0.0.1" // a Unix socket: this machine
	}
	host, _, _ = strings.Cut(host, "/") // inet text "127.0.0.1/32"
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.LookupIP(host)
		if err != nil || len(addrs) == 0 {
			return strings.ToLower(host)
		}
		ips = addrs
	}
	for _, ip := range ips {
		if ip.IsLoopback() {
			return "127.0.0.1"
		}
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].String() < ips[j].String() })
	return ips[0].String()
}

// Overlaps compares tenants placed on servers (tenant id -> server
// identity) and returns every pair that breaks isolation.
func Overlaps(tenants []*Tenant, servers map[string]string) []Overlap {
	var out []Overlap
	for i, a := range tenants {
		for _, b := range tenants[i+1:] {
			if o, ok := overlap(a, b, servers); ok {
				out = append(out, o)
			}
		}
	}
	return out
}

func overlap(a, b *Tenant, servers map[string]string) (Overlap, bool) {
	sa, sb := servers[a.ID], servers[b.ID]
	if a.Engine != b.Engine || sa == "" || sa != sb || a.Scope.Database != b.Scope.Database {
		return Overlap{}, false
	}
	db := fmt.Sprintf("database %q on server %s", a.Scope.Database, sa)
	o := Overlap{A: a.ID, B: b.ID, Object: db}
	ia, ib := a.Scope.Isolation, b.Scope.Isolation
	switch {
	case ia != ib:
		o.Reason = fmt.Sprintf("one database used under two isolation models (%s and %s)", ia, ib)
	case ia == policy.IsolationDatabase:
		o.Reason = "both own the whole database under database isolation: each sees the other's data unfiltered"
	case ia == policy.IsolationSchema && a.Scope.Schema == b.Scope.Schema:
		o.Object = fmt.Sprintf("schema %q of %s", a.Scope.Schema, db)
		o.Reason = "both own the same schema under schema isolation"
	case ia == policy.IsolationRow && a.Scope.TenantValue == b.Scope.TenantValue:
		o.Object = fmt.Sprintf("tenant_value %q of %s", a.Scope.TenantValue, db)
		o.Reason = "both are filtered on the same tenant value under row isolation"
	default:
		return Overlap{}, false
	}
	return o, true
}

// isoGuard holds the tenants refused until their isolation is verified.
type isoGuard struct {
	mu      sync.Mutex
	blocked map[string]string // tenant id -> reason
	cancel  context.CancelFunc
}

func (g *isoGuard) reason(id string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked[id]
}

// isolationBlocked returns the error a client of tenant id gets while its
// isolation is not verified, or nil.
func (s *Server) isolationBlocked(id string) error {
	if r := s.iso.reason(id); r != "" {
		return sqlerr.New(sqlerr.Unavailable, "tenant %q is not served: %s", id, r)
	}
	return nil
}

// GuardIsolation refuses the tenants chk could not verify (their backend
// did not answer) until a background check, retried with backoff, finds
// their backend and no overlap; a tenant found to overlap stays refused,
// with the overlap as the reason, and an alert is raised. A later call
// (after a reload) replaces the previous guard.
func (s *Server) GuardIsolation(chk *IsolationCheck) {
	g := &s.iso
	g.mu.Lock()
	if g.cancel != nil {
		g.cancel()
		g.cancel = nil
	}
	g.blocked = map[string]string{}
	for id := range chk.Pending {
		g.blocked[id] = "its isolation is not verified yet: the backend did not answer when the configuration was loaded"
	}
	if len(g.blocked) == 0 {
		g.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.mu.Unlock()
	servers := make(map[string]string, len(chk.Servers))
	for k, v := range chk.Servers {
		servers[k] = v
	}
	pending := make(map[string]bool, len(chk.Pending))
	for id := range chk.Pending {
		pending[id] = true
	}
	go s.watchPending(ctx, servers, pending)
}

// watchPending retries the identity of pending tenants until every one is
// known, then compares them with all tenants and unblocks or keeps them.
func (s *Server) watchPending(ctx context.Context, servers map[string]string, pending map[string]bool) {
	wait := 500 * time.Millisecond
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if wait < 5*time.Second {
			wait *= 2
		}
		var tenants []*Tenant
		for _, ts := range s.Tenants() {
			tenants = append(tenants, ts.Tenant)
		}
		for _, t := range tenants {
			if !pending[t.ID] {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, identityTimeout)
			id, err := ServerIdentity(pctx, t)
			cancel()
			if err != nil {
				continue
			}
			servers[t.ID] = id
			delete(pending, t.ID)
			var found []Overlap
			for _, o := range Overlaps(tenants, servers) {
				if o.A == t.ID || o.B == t.ID {
					found = append(found, o)
				}
			}
			s.iso.mu.Lock()
			if ctx.Err() != nil {
				s.iso.mu.Unlock()
				return
			}
			if len(found) == 0 {
				delete(s.iso.blocked, t.ID)
			} else {
				s.iso.blocked[t.ID] = "isolation: " + found[0].String()
			}
			s.iso.mu.Unlock()
			if len(found) == 0 {
				s.log.Info("isolation_verified", "tenant", t.ID, "server", id)
				continue
			}
			s.log.Error("isolation_overlap", "tenant", t.ID, "error", found[0].String())
			if a := s.alerts.Load(); a != nil {
				a.send(Alert{Event: AlertIsolationFailed, Tenant: t.ID, Message: found[0].String()})
			}
		}
	}
}
