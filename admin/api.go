package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tenantproxy/tenantproxy/nlp"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Config configures the /api/v1 endpoints.
type Config struct {
	// JWTSecret signs tokens (HS256); at least MinSecretLen bytes.
	JWTSecret string
	// JWTAlgorithm is HS256 (default), RS256 or ES256; the latter two sign
	// with the PEM private key in JWTKeyFile.
	JWTAlgorithm string
	JWTKeyFile   string
	// TokenTTL is the lifetime of issued tokens (default 1h).
	TokenTTL time.Duration
	// RedisAddr, when set, adds Redis as the cache's second level.
	RedisAddr     string
	RedisPassword string
	RedisDB       int
	// CacheBytes bounds the in-memory cache (default 64 MiB).
	CacheBytes int64
	// QueryTTL is how long results are cached and kept for
	// GET /tenant/query/{id} (default 5m); SchemaTTL how long an
	// introspected schema is reused (default 10m).
	QueryTTL  time.Duration
	SchemaTTL time.Duration
	// StatementTimeout bounds one API statement (default 30s).
	StatementTimeout time.Duration
	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64
	// MaxResults caps max_results (default 100000).
	MaxResults int
	// NLP chooses the translator.
	NLP NLPConfig
	// Tenants holds each tenant's glossary and verified examples.
	Tenants map[string]TenantNL
	// Registerer receives the API's metrics (default: the gatherer when it
	// is a registry).
	Registerer prometheus.Registerer
}

// NLPConfig selects the translator: "deterministic" (default) or "openai"
// (an OpenAI-compatible chat-completions endpoint, falling back to the
// deterministic translator).
type NLPConfig struct {
	Provider  string
	BaseURL   string
	Model     string
	APIKeyEnv string
	// Timeout bounds the model's part of one question (default 20s).
	Timeout time.Duration
}

// TenantNL is a tenant's vocabulary for questions.
type TenantNL struct {
	Glossary nlp.Glossary
	Examples []nlp.Example
}

// Option configures a Server.
type Option func(*Server)

// WithAPI enables the /api/v1 endpoints with cfg.
func WithAPI(cfg Config) Option {
	return func(s *Server) { s.api.cfg, s.api.enabled = cfg, true }
}

// WithReload enables POST /api/v1/admin/reload (operators only): reload re-reads
// the configuration and returns what changed, or why the new configuration
// was rejected (the running one stays).
func WithReload(reload func() (any, error)) Option {
	return func(s *Server) { s.reload = reload }
}

// api is the state of the /api/v1 endpoints.
type api struct {
	cfg        Config
	enabled    bool
	disabledBy string
	cache      *cache
	translator nlp.Translator

	schemaMu sync.Mutex
	schemas  map[string]*schemaEntry

	statsMu sync.Mutex
	stats   map[string]*tenantStats
}

type tenantStats struct {
	queries, errors, nanos, hits, misses atomic.Int64
}

func (s *Server) tstats(id string) *tenantStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats[id]
	if st == nil {
		st = &tenantStats{}
		s.stats[id] = st
	}
	return st
}

// routes registers the API, or 503 answers when it is disabled.
func (s *Server) routes(mux *http.ServeMux, gatherer prometheus.Gatherer) {
	a := &s.api
	switch {
	case !a.enabled:
		a.disabledBy = "the admin API is not configured"
	default:
		keys, err := loadKeys(a.cfg)
		if err != nil {
			a.disabledBy = err.Error()
			s.log.Error("api_disabled", "reason", a.disabledBy)
		}
		s.keys = keys
	}
	if a.disabledBy != "" {
		mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
			writeErr(w, errf(http.StatusServiceUnavailable, "api_disabled", "%s", a.disabledBy))
		})
		return
	}
	c := &a.cfg
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = 64 << 20
	}
	if c.QueryTTL <= 0 {
		c.QueryTTL = 5 * time.Minute
	}
	if c.SchemaTTL <= 0 {
		c.SchemaTTL = 10 * time.Minute
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = 30 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxResults <= 0 {
		c.MaxResults = 100000
	}
	reg := c.Registerer
	if reg == nil {
		reg, _ = gatherer.(prometheus.Registerer)
	}
	var rc *redis.Client
	if c.RedisAddr != "" {
		rc = redis.NewClient(&redis.Options{Addr: c.RedisAddr, Password: c.RedisPassword, DB: c.RedisDB,
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
			MaxRetries: -1})
	}
	a.cache = newCache(c.CacheBytes, c.QueryTTL, rc, reg, s.log)
	a.schemas = map[string]*schemaEntry{}
	a.stats = map[string]*tenantStats{}
	det := nlp.NewDeterministic()
	a.translator = det
	if c.NLP.Provider == "openai" {
		key := ""
		if c.NLP.APIKeyEnv != "" {
			key = os.Getenv(c.NLP.APIKeyEnv)
		}
		a.translator = &nlp.OpenAI{BaseURL: c.NLP.BaseURL, Model: c.NLP.Model, APIKey: key, Fallback: det, Log: s.log,
			Client: &http.Client{Timeout: 30 * time.Second}, Timeout: c.NLP.Timeout}
	}
	route := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			ew := &errWriter{ResponseWriter: w}
			defer s.countError(ew)
			w = ew
			if r.Method != method {
				w.Header().Set("Allow", method)
				writeErr(w, errf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s", r.Method, path))
				return
			}
			h(w, r.WithContext(proxy.WithClient(r.Context(), r.RemoteAddr)))
		})
	}
	authed := func(h func(http.ResponseWriter, *http.Request, *proxy.Binding)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _, e := s.authenticate(r)
			if e != nil {
				writeErr(w, e)
				return
			}
			if ew, ok := w.(*errWriter); ok {
				ew.tenant = b.Tenant.ID
			}
			h(w, r, b)
		}
	}
	route("POST", "/api/v1/auth/login", s.login)
	route("POST", "/api/v1/tenant/switch", s.switchTenant)
	route("GET", "/api/v1/tenant/current", authed(s.current))
	route("GET", "/api/v1/tenant/accessible", authed(s.accessible))
	route("POST", "/api/v1/tenant/query", authed(s.query))
	route("GET", "/api/v1/tenant/query/{id}", authed(s.getQuery))
	route("POST", "/api/v1/tenant/query/export", authed(s.export))
	route("GET", "/api/v1/tenant/schema", authed(s.schema))
	s.operatorRoutes(route, authed) // statements.go
	route("POST", "/api/v1/tenant/schema/refresh", authed(s.refreshSchema))
	route("GET", "/api/v1/tenant/health", authed(s.health))
	route("GET", "/api/v1/tenant/metrics", authed(s.metrics))
	route("GET", "/api/v1/tenant/system/status", authed(s.systemStatus))
	// Operating the proxy needs an operator (users[].operator), never a
	// tenant role.
	operator := func(h func(http.ResponseWriter, *http.Request, *proxy.Binding)) http.HandlerFunc {
		return authed(func(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
			if !b.User.Operator {
				writeErr(w, errf(http.StatusForbidden, "forbidden", "%s needs an operator (users[].operator); a tenant role is not enough", r.URL.Path))
				return
			}
			h(w, r, b)
		})
	}
	route("POST", "/api/v1/admin/reload", operator(s.reloadConfig))
	route("GET", "/api/v1/admin/status", operator(s.adminStatus))
	route("GET", "/api/v1/admin/fleet", operator(s.fleetStatus))
	route("GET", "/api/v1/admin/isolation", operator(s.isolation))
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, errf(http.StatusNotFound, "not_found", "no endpoint %s %s", r.Method, r.URL.Path))
	})
}

// --- errors ---

// apiError is an error answer: {"error": {"code", "message", ...}}.
type apiError struct {
	status int
	Code   string         `json:"code"`
	Msg    string         `json:"message"`
	Extra  map[string]any `json:"-"`
	// for tenantproxy_errors_total: the category and SQLSTATE (set by
	// fromError; else derived from the status), and whether the proxy
	// core counted the error already (statements it ran)
	category string
	sqlstate string
	counted  bool
}

// errWriter notes the error answer a handler writes, for countError.
type errWriter struct {
	http.ResponseWriter
	tenant string // the caller's tenant, once authenticated
	e      *apiError
}

// Flush lets streaming exports flush through the wrapper.
func (w *errWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *errWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countError counts the error answer of a request, once, in
// tenantproxy_errors_total.
func (s *Server) countError(w *errWriter) {
	e := w.e
	if e == nil || e.counted {
		return
	}
	cat := e.category
	if cat == "" {
		switch {
		case e.status == http.StatusUnauthorized:
			cat = "auth"
		case e.status == http.StatusForbidden:
			cat = "policy"
		case e.status == http.StatusTooManyRequests:
			cat = "limit"
		case e.status == http.StatusServiceUnavailable:
			cat = "backend_unavailable"
		case e.status == http.StatusGatewayTimeout:
			cat = "timeout"
		case e.status >= 500:
			cat = "internal"
		default:
			cat = "client_protocol"
		}
	}
	s.p.Metrics.CountError(w.tenant, e.sqlstate, cat)
}

// countedError marks an error the proxy core already counted (the
// statements it runs for the API count their own errors).
type countedError struct{ error }

func (e countedError) Unwrap() error { return e.error }

// counted marks err as counted by the proxy core; its drain refusal is not.
func counted(err error) error {
	if err == nil || sqlerr.Is(err, sqlerr.ShuttingDown) {
		return err
	}
	return countedError{err}
}

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

func writeErr(w http.ResponseWriter, e *apiError) {
	if ew, ok := w.(*errWriter); ok && ew.e == nil {
		ew.e = e
	}
	body := map[string]any{"code": e.Code, "message": e.Msg}
	for k, v := range e.Extra {
		body[k] = v
	}
	writeJSON(w, e.status, map[string]any{"error": body})
}

// fromError maps an error of the proxy, the policy engine, a backend or
// the translator to an HTTP answer.
func fromError(err error) *apiError {
	ae := httpError(err)
	ae.counted = errors.As(err, new(countedError))
	var pe *pgconn.PgError
	var me *gmysql.MyError
	switch e := sqlerr.As(err); {
	case e != nil:
		ae.sqlstate = e.SQLState()
	case errors.As(err, &pe):
		ae.sqlstate = pe.Code
	case errors.As(err, &me):
		ae.sqlstate = me.State
	}
	switch {
	case ae.Code == "unanswerable":
		ae.category = "client_protocol"
	case ae.Code == "internal" && ae.sqlstate == "":
		ae.category = "internal"
	default:
		ae.category = proxy.ErrorCategory(ae.sqlstate, err)
	}
	return ae
}

// httpError is fromError without the metric labels.
func httpError(err error) *apiError {
	var un *nlp.Unanswerable
	if errors.As(err, &un) {
		e := errf(http.StatusUnprocessableEntity, "unanswerable", "%s", un.Error())
		e.Extra = map[string]any{"unmapped_words": un.Unmapped, "understood": un.Understood, "tables_available": un.Tables}
		if un.Confidence > 0 {
			e.Extra["confidence"] = un.Confidence
		}
		return e
	}
	if e := sqlerr.As(err); e != nil {
		st := http.StatusBadRequest
		code := e.Category()
		switch e.Kind {
		case sqlerr.AuthFailed:
			st = http.StatusUnauthorized
		case sqlerr.UnknownTenant, sqlerr.NoRoleOnTenant, sqlerr.Permission, sqlerr.Privilege, sqlerr.CrossTenant:
			st = http.StatusForbidden
			code = "forbidden"
		case sqlerr.Syntax:
			st = http.StatusBadRequest
		case sqlerr.PoolTimeout, sqlerr.TooManyConnections, sqlerr.Unavailable, sqlerr.ReadOnlyBackend, sqlerr.ShuttingDown:
			st = http.StatusServiceUnavailable
		case sqlerr.RateLimited:
			st = http.StatusTooManyRequests
		case sqlerr.StatementTimeout:
			st = http.StatusGatewayTimeout
		case sqlerr.Canceled:
			st = http.StatusRequestTimeout
		case sqlerr.Internal:
			st = http.StatusInternalServerError
		}
		ae := errf(st, code, "%s", e.Message)
		ae.Extra = map[string]any{"sqlstate": e.SQLState()}
		return ae
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		st := http.StatusBadRequest
		switch {
		case pe.Code == "57014":
			st = http.StatusGatewayTimeout
		case strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"):
			st = http.StatusServiceUnavailable
		case pe.Code == "42501":
			st = http.StatusForbidden
		}
		ae := errf(st, "backend_error", "%s", pe.Message)
		ae.Extra = map[string]any{"sqlstate": pe.Code}
		return ae
	}
	var me *gmysql.MyError
	if errors.As(err, &me) {
		st := http.StatusBadRequest
		switch me.Code {
		case 1317, 3024, 1969:
			st = http.StatusGatewayTimeout
		case 1142, 1044, 1045:
			st = http.StatusForbidden
		case 1040, 1203:
			st = http.StatusServiceUnavailable
		}
		ae := errf(st, "backend_error", "%s", me.Message)
		ae.Extra = map[string]any{"sqlstate": me.State, "mysql_errno": me.Code}
		return ae
	}
	return errf(http.StatusInternalServerError, "internal", "internal error")
}

// decodeBody reads a size-limited JSON body into v, refusing unknown
// fields and trailing data.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is over %d bytes", mbe.Limit)
		}
		return errf(http.StatusBadRequest, "invalid_request", "invalid JSON body: %v", err)
	}
	if dec.More() {
		return errf(http.StatusBadRequest, "invalid_request", "invalid JSON body: trailing data")
	}
	return nil
}

// --- queries ---

type queryRequest struct {
	Query string `json:"query"`
	SQL   string `json:"sql"`
	// Mongo is a request on a MongoDB tenant, in Extended JSON (see
	// policy.ParseMongoRequest).
	Mongo           json.RawMessage `json:"mongo"`
	MaxResults      int             `json:"max_results"`
	IncludeAnalysis bool            `json:"include_analysis"`
	CacheEnabled    *bool           `json:"cache_enabled"`
	// AllowLowConfidence answers a question whose translation's confidence
	// is under nlp.AnswerThreshold with the best guess, marked
	// low_confidence, instead of declining it.
	AllowLowConfidence bool `json:"allow_low_confidence"`
}

type queryResponse struct {
	QueryID          string    `json:"query_id"`
	TenantID         string    `json:"tenant_id"`
	Question         string    `json:"question,omitempty"`
	GeneratedSQL     string    `json:"generated_sql"`
	Columns          []string  `json:"columns"`
	ColumnTypes      []string  `json:"column_types"`
	Rows             [][]any   `json:"rows"`
	RowCount         int       `json:"row_count"`
	RowsAffected     *int      `json:"rows_affected,omitempty"` // a MongoDB write's documents
	Truncated        bool      `json:"truncated"`
	ExecutionTimeMS  float64   `json:"execution_time_ms"`
	Cached           bool      `json:"cached"`
	SecurityFiltered bool      `json:"security_filtered"`
	Explanation      string    `json:"explanation"`
	Confidence       float64   `json:"confidence"`
	LowConfidence    bool      `json:"low_confidence,omitempty"`
	Source           string    `json:"source"`
	Analysis         *analysis `json:"analysis,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	Role             string    `json:"-"`
	tables           []string  // the tables the statement read, for invalidation
	perCaller        bool      // the rows depend on the caller (USER()): never cached
	write            bool      // a write (MongoDB): never cached
}

type analysis struct {
	Source    string   `json:"source"`
	PolicySQL string   `json:"policy_sql"`
	Capped    bool     `json:"row_cap_applied"`
	MaxRows   int      `json:"max_rows,omitempty"`
	Masked    []string `json:"masked_columns,omitempty"`
	Rewritten bool     `json:"rewritten_by_policy"`
}

// storedResult is what GET /tenant/query/{id} reads back.
type storedResult struct {
	Tenant string         `json:"tenant"`
	Role   string         `json:"role"`
	Key    string         `json:"key"` // resultKey of the writer
	Resp   *queryResponse `json:"resp"`
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func normQuestion(q string) string {
	return strings.TrimRight(strings.Join(strings.Fields(strings.ToLower(q)), " "), " ?.!")
}

// cacheKey covers everything that may change an answer: the policy
// (decisionKey), the schema generation, the kind of request and its
// normalised text.
func (s *Server) cacheKey(b *proxy.Binding, kind, text string, maxResults int, gen int64) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%d", decisionKey(b), gen, kind, text, maxResults)
	return "tp:q:" + hex.EncodeToString(h.Sum(nil))
}

// decisionKey is what a policy decision for b depends on: the tenant, its
// backend and isolation, the role's name and whole definition, the policy
// version, and the user when the role's rules mention {{user}}.
func decisionKey(b *proxy.Binding) string {
	role := fmt.Sprintf("%+v", *b.Role)
	user := ""
	if strings.Contains(role, "{{user}}") {
		user = b.User.Name
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%+v\x00%s\x00%s\x00%d\x00%s", b.Tenant.ID, b.Tenant.DSN, b.Tenant.Scope, b.Role.Name, role, b.Subject.Version, user)
	return hex.EncodeToString(h.Sum(nil))
}

// resultKey is what a stored result's reader must share with its writer:
// the same user, tenant and role definition (not the policy version, so a
// reload that changes nothing of it keeps stored results readable).
func resultKey(b *proxy.Binding) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%+v\x00%s\x00%+v", b.User.Name, b.Tenant.ID, b.Tenant.DSN, b.Tenant.Scope, b.Role.Name, *b.Role)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	start := time.Now()
	var req queryRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	if strings.TrimSpace(req.Query) == "" && strings.TrimSpace(req.SQL) == "" && len(req.Mongo) == 0 {
		if isMongo(b) {
			writeErr(w, errf(http.StatusBadRequest, "invalid_request", "a question (\"query\") or a MongoDB request (\"mongo\") is required"))
			return
		}
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "a question (\"query\") or a statement (\"sql\") is required"))
		return
	}
	var mr *policy.MongoRequest
	if len(req.Mongo) > 0 {
		if req.Query != "" || req.SQL != "" {
			writeErr(w, errf(http.StatusBadRequest, "invalid_request", "give exactly one of query (a question), sql and mongo"))
			return
		}
		var e *apiError
		if mr, e = mongoRequest(b, req.Mongo); e != nil {
			writeErr(w, e)
			return
		}
	} else if isMongo(b) && req.Query == "" {
		writeErr(w, fromError(mongoNotSQL(b)))
		return
	}
	if req.MaxResults <= 0 {
		req.MaxResults = 1000
	}
	if req.MaxResults > s.cfg.MaxResults {
		req.MaxResults = s.cfg.MaxResults
	}
	useCache := req.CacheEnabled == nil || *req.CacheEnabled
	st := s.tstats(b.Tenant.ID)
	ctx := r.Context()
	kind, text := "nl", normQuestion(req.Query)
	switch {
	case mr != nil:
		kind, text = "mongo", mongoKeyText(b, req.Mongo)
		if mr.Op != policy.MongoFind && mr.Op != policy.MongoAggregate {
			useCache = false // a write is never answered from the cache
		}
	case req.Query == "":
		kind, text = "sql", strings.TrimSpace(req.SQL)
	}
	var gen int64
	if kind == "nl" {
		// The schema generation is part of the key: load the schema first.
		if _, err := s.schemaFor(ctx, b); err != nil {
			writeErr(w, fromError(err))
			return
		}
		gen = s.schemaGen(b.Tenant)
	}
	key := s.cacheKey(b, kind, text, req.MaxResults, gen)
	if useCache {
		if raw, ok := s.freshAnswer(ctx, b, key); ok {
			var resp queryResponse
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(&resp) == nil && (!resp.LowConfidence || req.AllowLowConfidence) {
				st.hits.Add(1)
				st.queries.Add(1)
				resp.Cached = true
				resp.ExecutionTimeMS = ms(time.Since(start))
				st.nanos.Add(int64(time.Since(start)))
				if !req.IncludeAnalysis {
					resp.Analysis = nil
				}
				writeJSON(w, http.StatusOK, &resp)
				return
			}
		}
		st.misses.Add(1)
	}
	seq := s.p.WriteSeq(ctx, b.Tenant.ID) // writes while it runs make it uncacheable
	var resp *queryResponse
	var err error
	if mr != nil {
		resp, err = s.answerMongo(ctx, b, req, mr)
	} else {
		resp, err = s.answer(ctx, b, req, kind)
	}
	st.queries.Add(1)
	st.nanos.Add(int64(time.Since(start)))
	if err != nil {
		st.errors.Add(1)
		writeErr(w, fromError(err))
		return
	}
	resp.ExecutionTimeMS = ms(time.Since(start))
	raw, _ := json.Marshal(resp)
	if useCache && !resp.perCaller && !resp.write {
		s.storeAnswer(ctx, b, key, seq, resp.tables, raw)
	}
	sr, _ := json.Marshal(storedResult{Tenant: b.Tenant.ID, Role: b.Role.Name, Key: resultKey(b), Resp: resp})
	s.cache.Set(ctx, "tp:r:"+resp.QueryID, sr)
	if !req.IncludeAnalysis {
		resp.Analysis = nil
	}
	writeJSON(w, http.StatusOK, resp)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// translate answers a question with SQL for b's tenant and role.
func (s *Server) translate(ctx context.Context, b *proxy.Binding, question string) (*nlp.Translation, error) {
	sc, err := s.schemaFor(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(b.Role.MaskedColumns) > 0 || len(b.Role.RowFilters) > 0 {
		// A masked column's values, and the values of a table the role sees
		// only some rows of, neither link questions nor reach a model: the
		// value index was read without the role's filters.
		sc = sc.WithoutValues(func(table, column string) bool {
			for _, mc := range b.Role.MaskedColumns {
				// A MongoDB mask of a parent path (customers.address)
				// hides its fields' values too (address.city).
				tc := strings.ToLower(table + "." + column)
				if mc = strings.ToLower(mc); tc == mc || strings.HasPrefix(tc, mc+".") {
					return true
				}
			}
			for t := range b.Role.RowFilters {
				if strings.EqualFold(t, table) {
					return true
				}
			}
			return false
		})
	}
	nl := s.cfg.Tenants[b.Tenant.ID]
	check := func(sql string) error {
		dec, err := s.p.Check(b, b.Tenant.Dialect(), sql)
		if err != nil {
			return err
		}
		if len(dec.Stmts) != 1 || dec.Stmts[0].Class != policy.ClassRead {
			return sqlerr.New(sqlerr.Permission, "only a single read statement may answer a question")
		}
		return nil
	}
	ctx = nlp.WithChecker(ctx, check)
	ctx = nlp.WithTrial(ctx, func(ctx context.Context, sql string) error {
		ctx, cancel := context.WithTimeout(ctx, min(5*time.Second, s.cfg.StatementTimeout))
		defer cancel()
		_, err := s.p.Query(ctx, b, sql, 2)
		return err
	})
	return s.translator.Translate(ctx, nlp.Request{Question: question, Schema: sc, Glossary: nl.Glossary, Examples: nl.Examples})
}

// answer translates (for a question) and runs the statement.
func (s *Server) answer(ctx context.Context, b *proxy.Binding, req queryRequest, kind string) (*queryResponse, error) {
	if isMongo(b) {
		return s.answerMongoQuestion(ctx, b, req)
	}
	resp := &queryResponse{QueryID: newID(), TenantID: b.Tenant.ID, Role: b.Role.Name, CreatedAt: time.Now().UTC(), Confidence: 1, Source: "sql"}
	sql := req.SQL
	if kind == "nl" {
		tr, err := s.translate(ctx, b, req.Query)
		if err != nil {
			return nil, err
		}
		if tr.Confidence < nlp.AnswerThreshold {
			if !req.AllowLowConfidence {
				return nil, &nlp.Unanswerable{Reason: fmt.Sprintf("the best reading has confidence %.2f, under %.2f (%s); send allow_low_confidence: true to get it as a guess",
					tr.Confidence, nlp.AnswerThreshold, tr.Explanation), Confidence: tr.Confidence}
			}
			resp.LowConfidence = true
		}
		sql = tr.SQL
		resp.Question = req.Query
		resp.Explanation, resp.Confidence, resp.Source = tr.Explanation, tr.Confidence, tr.Source
	}
	resp.GeneratedSQL = sql
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	res, err := s.p.Query(ctx, b, sql, req.MaxResults)
	if err != nil {
		return nil, counted(err)
	}
	resp.Columns = make([]string, len(res.Columns))
	resp.ColumnTypes = make([]string, len(res.Columns))
	for i, c := range res.Columns {
		resp.Columns[i], resp.ColumnTypes[i] = c.Name, c.Type
	}
	resp.Rows = res.Values
	if resp.Rows == nil {
		resp.Rows = [][]any{}
	}
	resp.RowCount = len(res.Values)
	resp.Truncated = res.Truncated
	resp.tables, resp.perCaller = res.Tables, res.PerCaller
	resp.SecurityFiltered = res.Capped || len(res.Masked) > 0 || res.Rewritten
	resp.Analysis = &analysis{Source: resp.Source, PolicySQL: res.SQL, Capped: res.Capped, MaxRows: res.MaxRows, Masked: res.Masked, Rewritten: res.Rewritten}
	return resp, nil
}

func (s *Server) getQuery(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	id := r.PathValue("id")
	raw, ok := s.cache.Get(r.Context(), "tp:r:"+id)
	var sr storedResult
	if ok {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		ok = dec.Decode(&sr) == nil && sr.Resp != nil
	}
	// Another user's, tenant's or role's result is reported as missing.
	if !ok || sr.Tenant != b.Tenant.ID || sr.Role != b.Role.Name || sr.Key != resultKey(b) {
		writeErr(w, errf(http.StatusNotFound, "not_found", "no stored result %q (results are kept for %s)", id, s.cache.TTL()))
		return
	}
	writeJSON(w, http.StatusOK, sr.Resp)
}

// --- export ---

func (s *Server) export(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	format := r.URL.Query().Get("export_format")
	if format == "" {
		format = r.URL.Query().Get("format")
	}
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "export_format must be csv or json, got %q", format))
		return
	}
	var req queryRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	if len(req.Mongo) > 0 {
		if req.Query != "" || req.SQL != "" {
			writeErr(w, errf(http.StatusBadRequest, "invalid_request", "give exactly one of query (a question), sql and mongo"))
			return
		}
		s.exportMongo(w, r, b, format, req)
		return
	}
	if isMongo(b) && req.Query == "" {
		writeErr(w, fromError(mongoNotSQL(b)))
		return
	}
	if (req.Query == "") == (req.SQL == "") {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "give exactly one of query (a question) and sql"))
		return
	}
	ctx := r.Context()
	sql := req.SQL
	if isMongo(b) {
		s.exportMongoQuestion(w, r, b, format, req)
		return
	}
	if req.Query != "" {
		tr, err := s.translate(ctx, b, req.Query)
		if err != nil {
			writeErr(w, fromError(err))
			return
		}
		sql = tr.SQL
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	id := newID()
	name := fmt.Sprintf("%s-%s.%s", b.Tenant.ID, time.Now().UTC().Format("20060102-150405"), format)
	started := false
	var cw *csv.Writer
	rows := 0
	flusher, _ := w.(http.Flusher)
	var enc []byte
	header := func(cols []proxy.Column) error {
		started = true
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
		w.Header().Set("X-Query-ID", id)
		w.WriteHeader(http.StatusOK)
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		if format == "csv" {
			cw = csv.NewWriter(w)
			return cw.Write(names)
		}
		enc, _ = json.Marshal(names)
		_, err := fmt.Fprintf(w, "{\"query_id\":%q,\"generated_sql\":%s,\"columns\":%s,\"rows\":[", id, jsonString(sql), enc)
		return err
	}
	rec := make([]string, 0, 16)
	info, err := s.p.QueryStream(ctx, b, sql, proxy.QueryOptions{ReadOnly: true, Limit: req.MaxResults, OnColumns: header}, func(row []any) error {
		if format == "csv" {
			rec = rec[:0]
			for _, v := range row {
				rec = append(rec, csvValue(v))
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		} else {
			line, err := json.Marshal(row)
			if err != nil {
				return err
			}
			if rows > 0 {
				if _, err := w.Write([]byte{','}); err != nil {
					return err
				}
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		rows++
		if rows%1000 == 0 && flusher != nil {
			if cw != nil {
				cw.Flush()
			}
			flusher.Flush()
		}
		return nil
	})
	if err != nil {
		if !started {
			writeErr(w, fromError(counted(err)))
			return
		}
		// The status line is gone: cut the download short so it cannot be
		// mistaken for a whole file.
		s.log.Warn("export_aborted", "tenant", b.Tenant.ID, "error", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		_ = header(info.Columns)
	}
	if format == "csv" {
		cw.Flush()
		return
	}
	fmt.Fprintf(w, "],\"row_count\":%d,\"truncated\":%t,\"security_filtered\":%t}\n", rows, info.Truncated, info.Capped || len(info.Masked) > 0 || info.Rewritten)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// --- health, metrics, status ---

func (s *Server) health(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	conn, status, code := "connected", "healthy", http.StatusOK
	start := time.Now()
	var perr error
	if isMongo(b) {
		perr = s.p.PingMongo(ctx, b.Tenant)
	} else {
		_, perr = s.p.SystemQuery(ctx, b.Tenant, "SELECT 1", func([]any) error { return nil })
	}
	if perr != nil {
		conn, status, code = "error", "unhealthy", http.StatusServiceUnavailable
	}
	ping := time.Since(start)
	h, hasHealth := b.Tenant.Health()
	if hasHealth && code == http.StatusOK && h.State != "up" {
		status = h.State // degraded: answering, after recent failures or while probing
	}
	if hasHealth && h.State == "down" {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	if s.p.Draining() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	st := s.tstats(b.Tenant.ID)
	out := map[string]any{
		"status": status, "tenant_id": b.Tenant.ID, "connection_status": conn,
		"metrics": map[string]any{"avg_response_time_ms": avgMS(st), "total_queries": st.queries.Load(), "backend_ping_ms": ms(ping)},
	}
	if ps, ok := b.Tenant.PoolStats(); ok {
		out["pool"] = ps
	}
	if hasHealth {
		out["backend"] = h // state (up, degraded, down), reason, since, breaker (closed, half-open, open)
	}
	writeJSON(w, code, out)
}

func avgMS(st *tenantStats) float64 {
	n := st.queries.Load()
	if n == 0 {
		return 0
	}
	return float64(st.nanos.Load()) / float64(n) / 1e6
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	writeJSON(w, http.StatusOK, s.tenantMetrics(b.Tenant))
}

func (s *Server) tenantMetrics(t *proxy.TenantState) map[string]any {
	st := s.tstats(t.ID)
	hits, misses := st.hits.Load(), st.misses.Load()
	rate := 0.0
	if hits+misses > 0 {
		rate = float64(hits) / float64(hits+misses)
	}
	out := map[string]any{
		"tenant_id": t.ID, "engine": t.Engine, "total_queries": st.queries.Load(), "failed_queries": st.errors.Load(),
		"avg_execution_time_ms": avgMS(st), "cache_hit_rate": rate, "cache_hits": hits, "cache_misses": misses,
	}
	if ps, ok := t.PoolStats(); ok {
		out["pool"] = ps
	}
	return out
}

// reloadConfig re-reads the configuration file (operators only).
func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	if s.reload == nil {
		writeErr(w, errf(http.StatusNotImplemented, "reload_unavailable", "this proxy was started without a configuration file to reload"))
		return
	}
	sum, err := s.reload()
	if err != nil {
		writeErr(w, errf(http.StatusUnprocessableEntity, "invalid_config", "the new configuration was rejected, the running one stays: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "changes": sum})
}

// systemStatus is the caller's tenant's status (its admin role, or an
// operator): like every /tenant/* answer it shows that tenant alone.
func (s *Server) systemStatus(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	if b.Role.Access != policy.AccessAdmin && !b.User.Operator {
		writeErr(w, errf(http.StatusForbidden, "forbidden", "system status needs the admin role (you are %s on %s)", b.Role.Name, b.Tenant.ID))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":  map[bool]string{true: "draining", false: "running"}[s.p.Draining()],
		"tenants": []map[string]any{s.tenantStatus(b.Tenant)},
	})
}

// adminStatus is the status of every tenant, the cache and the
// translator (operators only).
func (s *Server) adminStatus(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	var tenants []map[string]any
	for _, t := range s.p.Tenants() {
		tenants = append(tenants, s.tenantStatus(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":  map[bool]string{true: "draining", false: "running"}[s.p.Draining()],
		"tenants": tenants, "cache": s.cache.stats(r.Context()),
		"translator": map[string]any{"provider": providerName(s.cfg.NLP.Provider)},
		"isolation":  s.isolationStatus(),
		"fleet":      s.p.Fleet(),
	})
}

func (s *Server) tenantStatus(t *proxy.TenantState) map[string]any {
	m := s.tenantMetrics(t)
	if h, ok := t.Health(); ok {
		m["health"] = h // next to "pool": state, reason, since, breaker
	}
	return m
}

func providerName(p string) string {
	if p == "" {
		return "deterministic"
	}
	return p
}

var _ = io.EOF
