// Package configs loads tenantproxy's YAML configuration with viper, applies
// TENANTPROXY_* environment overrides, validates every key (errors name the
// key path) and turns it into each package's own config types.
//
// example.yaml beside this file documents every key.
package configs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/go-viper/mapstructure/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/viper"
	"github.com/tenantproxy/tenantproxy/admin"
	"github.com/tenantproxy/tenantproxy/nlp"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
)

// File mirrors the YAML file. Keys are a contract (ARCHITECTURE.md): extend
// them, never rename them.
type File struct {
	// Statements bounds the per-tenant statement digests; Provisioning is
	// where tenants added at run time are kept and created.
	Statements   proxy.DigestConfig `mapstructure:"statements"`
	Provisioning Provisioning       `mapstructure:"provisioning"`

	Listen  Listen              `mapstructure:"listen"`
	Auth    Auth                `mapstructure:"auth"`
	Redis   Redis               `mapstructure:"redis"`
	TLS     TLS                 `mapstructure:"tls"`
	Cache   Cache               `mapstructure:"cache"`
	Proxy   ProxyOptions        `mapstructure:"proxy"`
	Log     Log                 `mapstructure:"log"`
	Health  Health              `mapstructure:"health"`
	Catalog Catalog             `mapstructure:"catalog"`
	NLP     NLP                 `mapstructure:"nlp"`
	Tenants []Tenant            `mapstructure:"tenants"`
	Users   []User              `mapstructure:"users"`
	Roles   map[string]RoleSpec `mapstructure:"roles"`
	// Audit is the audit log; Alerts the webhook alerts.
	Audit  proxy.AuditConfig `mapstructure:"audit"`
	Alerts proxy.AlertConfig `mapstructure:"alerts"`
	// Fleet joins several proxies through Redis (proxy/fleet.go).
	Fleet proxy.FleetConfig `mapstructure:"fleet"`
	// Verify schedules isolation verification.
	Verify proxy.VerifyConfig `mapstructure:"verify"`
}

// Listen is where the proxy listens; an empty address disables that listener.
type Listen struct {
	Postgres string `mapstructure:"postgres"`
	MySQL    string `mapstructure:"mysql"`
	Admin    string `mapstructure:"admin"`
	// Metrics, when set, serves /metrics (and /healthz) there instead of
	// on the admin port.
	Metrics string `mapstructure:"metrics"`
}

// Auth configures tokens.
type Auth struct {
	JWTSecret string        `mapstructure:"jwt_secret"`
	TokenTTL  time.Duration `mapstructure:"token_ttl"`
	// JWTAlgorithm is HS256 (default, with JWTSecret), RS256 or ES256 (with
	// the PEM private key in JWTKeyFile).
	JWTAlgorithm string `mapstructure:"jwt_algorithm"`
	JWTKeyFile   string `mapstructure:"jwt_key_file"`
	// TokenPasswordsOnLoopback lets Postgres clients on loopback give an
	// access token as their password without TLS (over TLS they always may).
	TokenPasswordsOnLoopback bool `mapstructure:"token_passwords_on_loopback"`
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string `mapstructure:"metrics_token"`
	// Lockout slows down password guessing on every login (both wire
	// front ends and the API).
	Lockout proxy.LockoutConfig `mapstructure:"lockout"`
}

// Redis is the optional shared cache.
type Redis struct {
	Addr     string `mapstructure:"addr"`
	Password string `mapstructure:"password"`
	DB       int    `mapstructure:"db"`
}

// TLS is the server certificate for the wire front ends.
type TLS struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Cache sizes the result and schema caches.
type Cache struct {
	MemoryMB  int           `mapstructure:"memory_mb"`
	QueryTTL  time.Duration `mapstructure:"query_ttl"`
	SchemaTTL time.Duration `mapstructure:"schema_ttl"`
}

// ProxyOptions are limits of the proxy itself.
type ProxyOptions struct {
	MaxMessageSize     int           `mapstructure:"max_message_size"`
	DrainTimeout       time.Duration `mapstructure:"drain_timeout"`
	PolicyCacheEntries int           `mapstructure:"policy_cache_entries"`
	// MaxClientConnections caps all client connections (0: none);
	// MaxUnauthenticatedPerSource caps one address's connections that have
	// not logged in yet (-1: none).
	MaxClientConnections        int `mapstructure:"max_client_connections"`
	MaxUnauthenticatedPerSource int `mapstructure:"max_unauthenticated_per_source"`
}

// NLP chooses the translator of the admin API's natural-language queries.
type NLP struct {
	Provider  string `mapstructure:"provider"`    // deterministic (default) | openai
	BaseURL   string `mapstructure:"base_url"`    // openai: the chat-completions API base URL
	Model     string `mapstructure:"model"`       // openai: the model name
	APIKeyEnv string `mapstructure:"api_key_env"` // openai: environment variable holding the API key
}

// Example is a verified question and the SQL that answers it.
type Example struct {
	Question string            `mapstructure:"question"`
	SQL      string            `mapstructure:"sql"`
	Params   map[string]string `mapstructure:"params"` // placeholder -> text | number
}

// Health configures the active health checks of the backends.
type Health struct {
	Interval time.Duration `mapstructure:"interval"` // how often a used pool checks its backend (0: never)
}

// Catalog configures the live catalog snapshots of row-isolated tenants.
type Catalog struct {
	// Refresh is how often a snapshot in use is read again (default 30s).
	Refresh time.Duration `mapstructure:"refresh"`
}

// Log configures logging.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info (default), warn, error
	Format string `mapstructure:"format"` // text (default) or json
}

// Tenant is one entry of tenants.
type Tenant struct {
	ID           string   `mapstructure:"id"`
	Engine       string   `mapstructure:"engine"`
	DSN          string   `mapstructure:"dsn"`
	Isolation    string   `mapstructure:"isolation"`
	Schema       string   `mapstructure:"schema"`
	TenantColumn string   `mapstructure:"tenant_column"`
	TenantValue  string   `mapstructure:"tenant_value"`
	TenantTables []string `mapstructure:"tenant_tables"`
	// TenantField is tenant_column for a mongodb row tenant: the field
	// every collection's documents are filtered on.
	TenantField string `mapstructure:"tenant_field"`
	// Collections is a mongodb tenant's allow-list of collections (empty:
	// all of its database's collections).
	Collections    []string            `mapstructure:"collections"`
	Pool           pool.Config         `mapstructure:"pool"`
	Breaker        pool.BreakerConfig  `mapstructure:"breaker"`
	Limits         proxy.Limits        `mapstructure:"limits"`
	Replicas       []string            `mapstructure:"replicas"`
	ReadAfterWrite time.Duration       `mapstructure:"read_after_write"`
	Roles          map[string]RoleSpec `mapstructure:"roles"`
	Glossary       map[string]string   `mapstructure:"glossary"` // phrase -> table or table.column, for questions
	Examples       []Example           `mapstructure:"examples"` // verified questions answered by their SQL
}

// RoleSpec is a role definition or an override of a built-in role.
type RoleSpec struct {
	Access        string            `mapstructure:"access"`
	MaxRows       *int              `mapstructure:"max_rows"`
	AllowedTables []string          `mapstructure:"allowed_tables"`
	DeniedTables  []string          `mapstructure:"denied_tables"`
	RowFilters    map[string]string `mapstructure:"row_filters"`
	MaskedColumns []string          `mapstructure:"masked_columns"`
	Mask          string            `mapstructure:"mask"`
}

// User is one entry of users.
type User struct {
	Name     string            `mapstructure:"name"`
	Password string            `mapstructure:"password"`
	Tenants  map[string]string `mapstructure:"tenants"`
	// Operator lets the user operate the proxy (reload, every tenant's
	// status, /api/v1/admin/*); a tenant's admin role does not.
	Operator bool `mapstructure:"operator"`
}

// Config is a loaded, validated configuration.
type Config struct {
	File  File
	Proxy proxy.Config
	Admin admin.Config // the admin API's settings
}

var idPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Load reads path (YAML), applies TENANTPROXY_* environment overrides and
// validates the result.
func Load(path string) (*Config, error) { return load(path, nil) }

func load(path string, overlay map[string][]byte) (*Config, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix("TENANTPROXY")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for k, d := range map[string]any{
		"listen.postgres": "127.0.0.1:6432", "listen.mysql": "127.0.0.1:6033", "listen.admin": "127.0.0.1:8080", "listen.metrics": "", "auth.metrics_token": "",
		"auth.jwt_secret": "", "auth.token_ttl": time.Hour, "auth.token_passwords_on_loopback": false,
		"auth.jwt_algorithm": "HS256", "auth.jwt_key_file": "",
		"auth.lockout.max_failures": 0, "auth.lockout.address_max_failures": 0, "auth.lockout.duration": time.Duration(0), "auth.lockout.max_duration": time.Duration(0),
		"redis.addr": "", "redis.password": "", "redis.db": 0,
		"tls.cert_file": "", "tls.key_file": "",
		"cache.memory_mb": 64, "cache.query_ttl": 5 * time.Minute, "cache.schema_ttl": 10 * time.Minute,
		"proxy.max_message_size": 64 << 20, "proxy.drain_timeout": 30 * time.Second, "proxy.policy_cache_entries": 100000,
		"proxy.max_client_connections": 0, "proxy.max_unauthenticated_per_source": proxy.DefaultMaxUnauthenticatedPerSource,
		"log.level": "info", "log.format": "text", "health.interval": 30 * time.Second, "catalog.refresh": 30 * time.Second,
		"nlp.provider": "deterministic", "nlp.base_url": "", "nlp.model": "", "nlp.api_key_env": "",
		"audit.path": "", "audit.log_literals": false, "audit.fingerprint": false, "audit.buffer": 4096,
		"statements.top": 100, "statements.recent": 400,
		"provisioning.tenants_dir": "", "provisioning.postgres_dsn": "", "provisioning.mysql_dsn": "",
		"alerts.webhook_url": "", "alerts.error_rate_threshold": 0.0, "alerts.window": time.Minute,
		"alerts.max_attempts": 5, "alerts.backoff": time.Second, "alerts.timeout": 5 * time.Second, "alerts.queue": 256,
		"fleet.enabled": false, "fleet.peer_listen": "", "fleet.peer_advertise": "", "fleet.secret": "",
		"fleet.heartbeat": time.Second, "fleet.lease_ttl": 5 * time.Second, "fleet.prefix": "tp:fleet:",
		"verify.interval": time.Duration(0), "verify.budget": proxy.DefaultVerifyBudget,
	} {
		v.SetDefault(k, d)
	}
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var f File
	err := v.UnmarshalExact(&f, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
		dc.ErrorUnused = true
	})
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := restoreTenantKeys(path, &f); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	applyListEnv(&f)
	if err := includeTenantsDir(&f, overlay); err != nil { // tenantsdir.go
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := Build(f)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// envName turns an id into the part of an environment variable name.
func envName(id string) string {
	return strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(id, "_"))
}

// applyListEnv applies overrides for list entries, which have no fixed path:
// TENANTPROXY_TENANTS_<ID>_DSN and TENANTPROXY_USERS_<NAME>_PASSWORD.
func applyListEnv(f *File) {
	for i := range f.Tenants {
		if v, ok := os.LookupEnv("TENANTPROXY_TENANTS_" + envName(f.Tenants[i].ID) + "_DSN"); ok {
			f.Tenants[i].DSN = v
		}
	}
	for i := range f.Users {
		if v, ok := os.LookupEnv("TENANTPROXY_USERS_" + envName(f.Users[i].Name) + "_PASSWORD"); ok {
			f.Users[i].Password = v
		}
	}
}

// Build validates f and turns it into the proxy's configuration.
func Build(f File) (*Config, error) {
	pc := proxy.Config{
		MaxMessageSize:     f.Proxy.MaxMessageSize,
		DrainTimeout:       f.Proxy.DrainTimeout,
		PolicyCacheEntries: f.Proxy.PolicyCacheEntries,

		MaxClientConnections:        f.Proxy.MaxClientConnections,
		MaxUnauthenticatedPerSource: f.Proxy.MaxUnauthenticatedPerSource,
		CatalogRefresh:              f.Catalog.Refresh,
	}
	if f.Catalog.Refresh <= 0 {
		return nil, errors.New("catalog.refresh: must be positive")
	}
	if f.Proxy.MaxClientConnections < 0 {
		return nil, errors.New("proxy.max_client_connections: must not be negative (0: no cap)")
	}
	if f.Proxy.MaxUnauthenticatedPerSource < -1 {
		return nil, errors.New("proxy.max_unauthenticated_per_source: must be -1 (no cap) or more")
	}
	if err := f.Auth.Lockout.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("auth.lockout: %w", err)
	}
	pc.Lockout = f.Auth.Lockout
	if f.Auth.TokenTTL < 0 {
		return nil, errors.New("auth.token_ttl: must not be negative")
	}
	if (f.TLS.CertFile == "") != (f.TLS.KeyFile == "") {
		return nil, errors.New("tls: cert_file and key_file go together")
	}
	if f.Listen.Postgres == "" && f.Listen.MySQL == "" {
		return nil, errors.New("listen: at least one of postgres and mysql must be set")
	}
	switch f.NLP.Provider {
	case "", "deterministic":
	case "openai":
		if f.NLP.BaseURL == "" || f.NLP.Model == "" {
			return nil, errors.New("nlp: provider openai needs base_url and model")
		}
	default:
		return nil, fmt.Errorf("nlp.provider: unknown provider %q (deterministic or openai)", f.NLP.Provider)
	}
	if err := f.Statements.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("statements.%w", err)
	}
	if err := f.Audit.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("audit.%w", err)
	}
	if err := f.Alerts.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("alerts.%w", err)
	}
	if err := f.Fleet.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("fleet.%w", err)
	}
	if f.Fleet.Enabled && f.Redis.Addr == "" {
		return nil, errors.New("fleet.enabled: the fleet shares its state through Redis: set redis.addr")
	}
	if err := f.Verify.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("verify.%w", err)
	}
	shared := make(map[string]*policy.Role)
	for _, name := range sortedKeys(f.Roles) {
		r, err := buildRole(name, f.Roles[name], nil)
		if err != nil {
			return nil, fmt.Errorf("roles.%s.%w", name, err)
		}
		shared[name] = r
	}
	seen := make(map[string]int)
	for i, t := range f.Tenants {
		path := fmt.Sprintf("tenants[%d]", i)
		if t.ID == "" {
			return nil, fmt.Errorf("%s.id: missing", path)
		}
		if !idPattern.MatchString(t.ID) {
			return nil, fmt.Errorf("%s.id: %q is not a valid tenant id (letters, digits and _, starting with a letter or _)", path, t.ID)
		}
		if j, dup := seen[strings.ToLower(t.ID)]; dup {
			return nil, fmt.Errorf("%s.id: duplicate tenant id %q (also tenants[%d]; ids may not differ only in case)", path, t.ID, j)
		}
		seen[strings.ToLower(t.ID)] = i
		pt, err := buildTenant(t, shared)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", path, err)
		}
		pt.Pool.HealthInterval = f.Health.Interval
		if err := checkNL(t); err != nil {
			return nil, fmt.Errorf("%s.%w", path, err)
		}
		pc.Tenants = append(pc.Tenants, pt)
	}
	if len(pc.Tenants) == 0 {
		return nil, errors.New("tenants: at least one tenant is required")
	}
	users := make(map[string]int)
	for i, u := range f.Users {
		path := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			return nil, fmt.Errorf("%s.name: missing", path)
		}
		if j, dup := users[u.Name]; dup {
			return nil, fmt.Errorf("%s.name: duplicate user %q (also users[%d])", path, u.Name, j)
		}
		users[u.Name] = i
		pu, err := buildUser(u, pc.Tenants)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", path, err)
		}
		pc.Users = append(pc.Users, pu)
	}
	return &Config{File: f, Proxy: pc, Admin: adminConfig(f)}, nil
}

// adminConfig maps the file's keys onto the admin API's settings.
func adminConfig(f File) admin.Config {
	ac := admin.Config{
		JWTSecret: f.Auth.JWTSecret, TokenTTL: f.Auth.TokenTTL, JWTAlgorithm: f.Auth.JWTAlgorithm, JWTKeyFile: f.Auth.JWTKeyFile,
		RedisAddr: f.Redis.Addr, RedisPassword: f.Redis.Password, RedisDB: f.Redis.DB,
		CacheBytes: int64(f.Cache.MemoryMB) << 20, QueryTTL: f.Cache.QueryTTL, SchemaTTL: f.Cache.SchemaTTL,
		NLP:     admin.NLPConfig{Provider: f.NLP.Provider, BaseURL: f.NLP.BaseURL, Model: f.NLP.Model, APIKeyEnv: f.NLP.APIKeyEnv},
		Tenants: map[string]admin.TenantNL{},
	}
	for _, t := range f.Tenants {
		nl := admin.TenantNL{Glossary: nlp.Glossary(t.Glossary)}
		for _, ex := range t.Examples {
			nl.Examples = append(nl.Examples, nlp.Example{Question: ex.Question, SQL: ex.SQL, Params: ex.Params})
		}
		ac.Tenants[t.ID] = nl
	}
	return ac
}

// checkNL validates a tenant's glossary and examples.
func checkNL(t Tenant) error {
	for phrase, target := range t.Glossary {
		if strings.TrimSpace(phrase) == "" || target == "" || strings.Count(target, ".") > 1 {
			return fmt.Errorf("glossary.%s: the target must be table or table.column, got %q", phrase, target)
		}
	}
	for i, ex := range t.Examples {
		if strings.TrimSpace(ex.Question) == "" || strings.TrimSpace(ex.SQL) == "" {
			return fmt.Errorf("examples[%d]: question and sql are required", i)
		}
		for name, typ := range ex.Params {
			if typ != "text" && typ != "number" && typ != "" {
				return fmt.Errorf("examples[%d].params.%s: type must be text or number, got %q", i, name, typ)
			}
		}
	}
	return nil
}

func buildTenant(t Tenant, shared map[string]*policy.Role) (*proxy.Tenant, error) {
	pt := &proxy.Tenant{ID: t.ID, Engine: t.Engine, DSN: t.DSN, Pool: t.Pool}
	if err := t.Breaker.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("breaker: %w", err)
	}
	pt.Pool.Breaker = t.Breaker
	pt.Limits = t.Limits
	pt.ReadAfterWrite = t.ReadAfterWrite
	if pt.ReadAfterWrite == 0 {
		pt.ReadAfterWrite = time.Second
	}
	if pt.ReadAfterWrite < 0 {
		return nil, errors.New("read_after_write: must not be negative")
	}
	if err := pt.Limits.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if err := pt.Pool.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	if t.DSN == "" {
		return nil, errors.New("dsn: missing")
	}
	iso := policy.Isolation(t.Isolation)
	if iso == "" {
		iso = policy.IsolationDatabase
	}
	pt.Scope = policy.Scope{Tenant: t.ID, Isolation: iso}
	switch t.Engine {
	case proxy.EnginePostgres:
		pc, err := pgconn.ParseConfig(t.DSN)
		if err != nil {
			return nil, fmt.Errorf("dsn: cannot parse the Postgres DSN: %v", redact(err.Error(), t.DSN))
		}
		if pc.Database == "" {
			return nil, errors.New("dsn: names no database")
		}
		pt.PGConfig = pc
		pt.Scope.Database = pc.Database
		if pc.RuntimeParams == nil {
			pc.RuntimeParams = map[string]string{}
		}
		pc.RuntimeParams["application_name"] = "tenantproxy"
	case proxy.EngineMySQL:
		mc, err := mysql.ParseDSN(t.DSN)
		if err != nil {
			return nil, fmt.Errorf("dsn: cannot parse the MySQL DSN: %v", err)
		}
		if mc.DBName == "" {
			return nil, errors.New("dsn: names no database")
		}
		pt.MySQL = &proxy.MySQLBackend{Addr: mc.Addr, User: mc.User, Password: mc.Passwd, Database: mc.DBName, Params: mc.Params}
		pt.Scope.Database = mc.DBName
	case proxy.EngineSQLite:
		rw, err := pool.SQLiteDSN(t.DSN, false)
		if err != nil {
			return nil, fmt.Errorf("dsn: %v", err)
		}
		ro, _ := pool.SQLiteDSN(t.DSN, true)
		pt.SQLite = &proxy.SQLiteBackend{DSN: rw, RODSN: ro}
		path, _, _ := strings.Cut(strings.TrimPrefix(t.DSN, "file:"), "?")
		pt.Scope.Database = path
		if iso != policy.IsolationDatabase {
			return nil, errors.New("isolation: an SQLite tenant owns its database file (isolation database)")
		}
		if len(t.Replicas) > 0 {
			return nil, errors.New("replicas: not available for SQLite tenants")
		}
	case proxy.EngineMongo:
		db, err := pool.MongoDatabase(t.DSN)
		if err != nil {
			return nil, fmt.Errorf("dsn: %v", redact(err.Error(), t.DSN))
		}
		pt.Mongo = &proxy.MongoBackend{DSN: t.DSN, Database: db}
		for i, c := range t.Collections {
			if c == "" || strings.HasPrefix(c, "system.") || strings.ContainsAny(c, "$\x00") {
				return nil, fmt.Errorf("collections[%d]: %q is not a collection name a tenant may use", i, c)
			}
			pt.Mongo.Collections = append(pt.Mongo.Collections, c)
		}
		pt.Scope.Database = db
		if len(t.Replicas) > 0 {
			return nil, errors.New("replicas: not available for mongodb tenants (name the replica set's members in the DSN)")
		}
		if t.TenantColumn != "" {
			return nil, errors.New("tenant_column: a mongodb tenant names tenant_field")
		}
		if len(t.TenantTables) > 0 {
			return nil, errors.New("tenant_tables: not available for mongodb tenants (every collection of a row tenant is filtered on tenant_field)")
		}
		switch iso {
		case policy.IsolationDatabase:
			if t.TenantField != "" {
				return nil, errors.New("tenant_field: only meaningful with isolation row")
			}
		case policy.IsolationRow:
			if t.TenantField == "" {
				return nil, errors.New("tenant_field: required with isolation row")
			}
			if strings.HasPrefix(t.TenantField, "$") || strings.Contains(t.TenantField, "\x00") {
				return nil, fmt.Errorf("tenant_field: %q is not a field name", t.TenantField)
			}
		default:
			return nil, errors.New("isolation: a mongodb tenant owns a database (isolation database) or shares collections (isolation row with tenant_field)")
		}
	case "":
		return nil, errors.New("engine: missing (postgres, mysql, sqlite or mongodb)")
	default:
		return nil, fmt.Errorf("engine: unknown engine %q (postgres, mysql, sqlite or mongodb)", t.Engine)
	}
	if t.Engine != proxy.EngineMongo && (t.TenantField != "" || len(t.Collections) > 0) {
		return nil, errors.New("tenant_field, collections: only meaningful for mongodb tenants")
	}
	switch iso {
	case policy.IsolationDatabase:
	case policy.IsolationSchema:
		if t.Engine != proxy.EnginePostgres {
			return nil, errors.New("isolation: schema isolation needs a postgres tenant (MySQL schemas are databases: use isolation database)")
		}
		pt.Scope.Schema = t.Schema
		if pt.Scope.Schema == "" {
			pt.Scope.Schema = t.ID
		}
		pt.PGConfig.RuntimeParams["search_path"] = `"` + strings.ReplaceAll(pt.Scope.Schema, `"`, `""`) + `"`
	case policy.IsolationRow:
		if t.Engine == proxy.EngineMongo {
			// Field names are case-sensitive in MongoDB.
			pt.Scope.TenantColumn = t.TenantField
			pt.Scope.TenantValue = t.TenantValue
			if pt.Scope.TenantValue == "" {
				pt.Scope.TenantValue = t.ID
			}
			break
		}
		if t.TenantColumn == "" {
			return nil, errors.New("tenant_column: required with isolation row")
		}
		pt.Scope.TenantColumn = strings.ToLower(t.TenantColumn)
		pt.Scope.TenantValue = t.TenantValue
		if pt.Scope.TenantValue == "" {
			pt.Scope.TenantValue = t.ID
		}
		for _, tb := range t.TenantTables {
			pt.Scope.TenantTables = append(pt.Scope.TenantTables, strings.ToLower(tb))
		}
	default:
		return nil, fmt.Errorf("isolation: unknown model %q (database, schema or row)", t.Isolation)
	}
	if iso != policy.IsolationSchema && t.Schema != "" {
		return nil, errors.New("schema: only meaningful with isolation schema")
	}
	if iso != policy.IsolationRow && (len(t.TenantTables) > 0 || t.TenantColumn != "") {
		return nil, errors.New("tenant_column, tenant_tables: only meaningful with isolation row")
	}
	if err := pt.Scope.Validate(); err != nil {
		return nil, fmt.Errorf("isolation: %w", err)
	}
	pt.Roles = make(map[string]*policy.Role)
	for _, name := range []string{"viewer", "analyst", "editor", "admin"} {
		r, _ := policy.BuiltinRole(name)
		pt.Roles[name] = &r
	}
	for name, r := range shared {
		c := *r
		pt.Roles[name] = &c
	}
	for _, name := range sortedKeys(t.Roles) {
		r, err := buildRole(name, t.Roles[name], pt.Roles[name])
		if err != nil {
			return nil, fmt.Errorf("roles.%s.%w", name, err)
		}
		if t.Engine != proxy.EngineMongo {
			for i, mc := range r.MaskedColumns {
				if strings.Count(mc, ".") > 1 {
					return nil, fmt.Errorf("roles.%s.masked_columns[%d]: %q: nested field paths are for mongodb tenants (SQL tenants name table.column)", name, i, mc)
				}
			}
		}
		pt.Roles[name] = r
	}
	for i, dsn := range t.Replicas {
		if t.Engine == proxy.EngineMySQL {
			mc, err := mysql.ParseDSN(dsn)
			if err != nil {
				return nil, fmt.Errorf("replicas[%d]: cannot parse the MySQL DSN: %v", i, err)
			}
			if pt.MySQL == nil || mc.DBName != pt.MySQL.Database {
				return nil, fmt.Errorf("replicas[%d]: the replica's database must be the primary's (%q)", i, pt.Scope.Database)
			}
			pt.MySQLReplicas = append(pt.MySQLReplicas, &proxy.MySQLBackend{Addr: mc.Addr, User: mc.User, Password: mc.Passwd, Database: mc.DBName, Params: mc.Params})
			pt.ReplicaDSNs = append(pt.ReplicaDSNs, dsn)
			continue
		}
		rc, err := pgconn.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("replicas[%d]: cannot parse the Postgres DSN: %v", i, redact(err.Error(), dsn))
		}
		pt.Replicas = append(pt.Replicas, rc)
		pt.ReplicaDSNs = append(pt.ReplicaDSNs, dsn)
	}
	for _, rc := range pt.Replicas {
		// Replicas get the primary's session defaults (search_path for
		// schema isolation, application_name).
		if rc.RuntimeParams == nil {
			rc.RuntimeParams = map[string]string{}
		}
		for k, v := range pt.PGConfig.RuntimeParams {
			rc.RuntimeParams[k] = v
		}
	}
	return pt, nil
}

// buildRole makes a role from spec, starting from base (a built-in or shared
// role of the same name) when there is one.
func buildRole(name string, spec RoleSpec, base *policy.Role) (*policy.Role, error) {
	r := policy.Role{Name: name}
	if base != nil {
		r = *base
	} else if b, ok := policy.BuiltinRole(name); ok {
		r = b
	}
	switch spec.Access {
	case "":
		if r.Access == 0 {
			return nil, errors.New("access: required for a custom role (read, write or admin)")
		}
	case "read":
		r.Access = policy.AccessRead
	case "write":
		r.Access = policy.AccessWrite
	case "admin":
		r.Access = policy.AccessAdmin
	default:
		return nil, fmt.Errorf("access: unknown level %q (read, write or admin)", spec.Access)
	}
	if spec.MaxRows != nil {
		if *spec.MaxRows < 0 {
			return nil, errors.New("max_rows: must not be negative")
		}
		r.MaxRows = *spec.MaxRows
	}
	if spec.AllowedTables != nil {
		r.AllowedTables = lower(spec.AllowedTables)
	}
	if spec.DeniedTables != nil {
		r.DeniedTables = lower(spec.DeniedTables)
	}
	if spec.RowFilters != nil {
		r.RowFilters = make(map[string]string, len(spec.RowFilters))
		for k, v := range spec.RowFilters {
			r.RowFilters[strings.ToLower(k)] = v
		}
	}
	if spec.MaskedColumns != nil {
		r.MaskedColumns = lower(spec.MaskedColumns)
	}
	if spec.Mask != "" {
		r.Mask = spec.Mask
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

func buildUser(u User, tenants []*proxy.Tenant) (*proxy.User, error) {
	pu := &proxy.User{Name: u.Name, Tenants: make(map[string]string, len(u.Tenants)), Operator: u.Operator}
	switch {
	case u.Password == "":
		return nil, errors.New("password: missing")
	case scram.IsVerifier(u.Password):
		v, err := scram.ParseVerifier(u.Password)
		if err != nil {
			return nil, fmt.Errorf("password: invalid SCRAM-SHA-256 verifier: %v", err)
		}
		pu.Verifier = v
	default:
		// A plain-text password gets a salt fixed by the user's name, so
		// that the verifier is the same at every load and on every proxy:
		// a no-op reload changes no user, and the credential version in
		// tokens stays valid.
		salt := sha256.Sum256([]byte("tenantproxy plain-password salt\x00" + u.Name))
		v, err := scram.NewVerifierWithSalt(u.Password, salt[:16], scram.DefaultIterations)
		if err != nil {
			return nil, fmt.Errorf("password: %v", err)
		}
		pu.Verifier = v
		pu.Plain = u.Password
	}
	if len(u.Tenants) == 0 {
		return nil, errors.New("tenants: the user holds no tenant")
	}
	byID := make(map[string]*proxy.Tenant, len(tenants))
	for _, t := range tenants {
		byID[t.ID] = t
	}
	for _, id := range sortedKeys(u.Tenants) {
		role := u.Tenants[id]
		t, ok := byID[id]
		if !ok {
			for tid := range byID {
				if strings.EqualFold(tid, id) {
					return nil, fmt.Errorf("tenants.%s: unknown tenant %q (tenant ids are case-sensitive: did you mean %q?)", id, id, tid)
				}
			}
			return nil, fmt.Errorf("tenants.%s: unknown tenant %q", id, id)
		}
		if _, ok := t.Roles[role]; !ok {
			return nil, fmt.Errorf("tenants.%s: unknown role %q (defined on this tenant: %s)", id, role, strings.Join(sortedKeys(t.Roles), ", "))
		}
		pu.Tenants[id] = role
	}
	return pu, nil
}

func lower(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// redact removes a DSN's password from a message.
func redact(msg, dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}
