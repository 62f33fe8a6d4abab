package test

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantproxy/tenantproxy/admin"
)

// shopSQL is a small shop schema; each tenant gets its own rows.
var shopSQL = []string{
	`CREATE TABLE customer (customer_id int PRIMARY KEY, name varchar(40) NOT NULL, email varchar(60), country varchar(40))`,
	`CREATE TABLE invoice (invoice_id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer(customer_id), invoice_date date NOT NULL, total numeric(10,2) NOT NULL)`,
}

// pgShop creates a Postgres database with the shop schema and the rows.
func pgShop(t *testing.T, prefix string, rows ...string) string {
	db := tempPGDatabase(t, prefix)
	pgExec(t, db, append(append([]string{}, shopSQL...), rows...)...)
	return db
}

func apiYAML(alphaDB, betaDB string) string {
	return fmt.Sprintf(`
tenants:
  - id: alpha
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
  - id: beta
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      viewer:
        max_rows: 2
        masked_columns: ["customer.email"]
    glossary:
      patron: customer
    examples:
      - question: "big spenders over {amount}"
        sql: "SELECT customer_id, total FROM invoice WHERE total > {amount}"
        params: {amount: number}
users:
  - name: alice
    password: "alice-secret"
    tenants: {alpha: analyst, beta: viewer}
  - name: bob
    password: "bob-secret"
    tenants: {beta: admin}
`, alphaDB, betaDB)
}

func startShops(t *testing.T, extra string) *apiServer {
	requirePostgres(t)
	alpha := pgShop(t, "api_alpha",
		`INSERT INTO customer VALUES (1,'Ana','ana@a.example','Brazil'),(2,'Bob','bob@a.example','Canada'),(3,'Carla','carla@a.example','Brazil')`,
		`INSERT INTO invoice VALUES (1,1,'2023-01-05',10.50),(2,1,'2023-02-07',5.00),(3,2,'2024-03-01',7.25),(4,3,'2024-12-31',1.00)`)
	beta := pgShop(t, "api_beta",
		`INSERT INTO customer VALUES (1,'Dave','dave@b.example','Brazil'),(2,'Eve','eve@b.example','Peru'),(3,'Finn','finn@b.example','Peru'),(4,'Gus','gus@b.example','Chile')`,
		`INSERT INTO invoice VALUES (1,1,'2023-01-05',100.00),(2,2,'2023-02-07',50.00)`)
	return startAPI(t, apiYAML(alpha, beta)+extra)
}

func TestAdminAuth(t *testing.T) {
	a := startShops(t, "")
	tok := a.login(t, "alice", "alice-secret", "alpha")

	t.Run("login answer", func(t *testing.T) {
		r := a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username_or_email": "alice", "password": "alice-secret", "tenant_id": "beta"})
		m := r.JSON(t)
		if r.Status != 200 || m["token_type"] != "bearer" || m["tenant_id"] != "beta" || m["role"] != "viewer" || m["expires_in"].(json.Number).String() != "3600" {
			t.Fatalf("HTTP %d %v", r.Status, m)
		}
	})
	rejections := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"wrong password", map[string]string{"username": "alice", "password": "nope", "tenant_id": "alpha"}, 401, "auth"},
		{"unknown user", map[string]string{"username": "mallory", "password": "x", "tenant_id": "alpha"}, 401, "auth"},
		{"tenant not held", map[string]string{"username": "bob", "password": "bob-secret", "tenant_id": "alpha"}, 403, "forbidden"},
		{"unknown tenant", map[string]string{"username": "bob", "password": "bob-secret", "tenant_id": "nosuch"}, 403, "forbidden"},
		{"unknown field", `{"username":"alice","password":"alice-secret","tenant_id":"alpha","admin":true}`, 400, "invalid_request"},
		{"not json", `username=alice`, 400, "invalid_request"},
		{"body too large", `{"username":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "body_too_large"},
		{"ambiguous tenant", map[string]string{"username": "alice", "password": "alice-secret"}, 400, "no_tenant"},
	}
	for _, c := range rejections {
		t.Run(c.name, func(t *testing.T) {
			r := a.call(t, "POST", "/api/v1/auth/login", "", c.body)
			if r.Status != c.status || r.ErrCode(t) != c.code {
				t.Fatalf("want %d %s, got %d %s", c.status, c.code, r.Status, r.Body)
			}
		})
	}

	now := time.Now()
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(tenant string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"user": "alice", "tenant": tenant, "role": "analyst", "iss": "tenantproxy", "iat": now.Unix(), "exp": exp.Unix(), "jti": "x"}
	}
	none := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("alpha", now.Add(time.Hour)))
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alpha"`, `"beta"`, 1))) + "." + parts[2]
	bad := []struct {
		name, token string
		headers     []string
		status      int
		code        string
	}{
		{"no token", "", nil, 401, "unauthorized"},
		{"alg none", none, nil, 401, "invalid_token"},
		{"wrong signature", sign(jwt.SigningMethodHS256, []byte("another-secret-0123456789"), claims("alpha", now.Add(time.Hour))), nil, 401, "invalid_token"},
		{"tampered payload", forged, nil, 401, "invalid_token"},
		{"expired", sign(jwt.SigningMethodHS256, []byte(testSecret), claims("alpha", now.Add(-time.Minute))), nil, 401, "invalid_token"},
		{"HS512", sign(jwt.SigningMethodHS512, []byte(testSecret), claims("alpha", now.Add(time.Hour))), nil, 401, "invalid_token"},
		{"token for a tenant not held", sign(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"user": "bob", "tenant": "alpha", "role": "admin", "iss": "tenantproxy", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}), nil, 403, "forbidden"},
		{"X-Tenant-ID mismatch", tok, []string{"X-Tenant-ID", "beta"}, 403, "tenant_mismatch"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			r := a.call(t, "GET", "/api/v1/tenant/current", c.token, nil, c.headers...)
			if r.Status != c.status || r.ErrCode(t) != c.code {
				t.Fatalf("want %d %s, got %d %s", c.status, c.code, r.Status, r.Body)
			}
		})
	}
	t.Run("current and accessible", func(t *testing.T) {
		r := a.call(t, "GET", "/api/v1/tenant/current", tok, nil, "X-Tenant-ID", "alpha")
		if m := r.JSON(t); r.Status != 200 || m["tenant_id"] != "alpha" || m["role"] != "analyst" || m["user"] != "alice" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		r = a.call(t, "GET", "/api/v1/tenant/accessible", tok, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"beta"`) || !strings.Contains(string(r.Body), `"viewer"`) {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
	})
	t.Run("switch", func(t *testing.T) {
		r := a.call(t, "POST", "/api/v1/tenant/switch", tok, map[string]string{"tenant_id": "beta"})
		m := r.JSON(t)
		if r.Status != 200 || m["tenant_id"] != "beta" || m["role"] != "viewer" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		cur := a.call(t, "GET", "/api/v1/tenant/current", m["access_token"].(string), nil).JSON(t)
		if cur["tenant_id"] != "beta" {
			t.Fatalf("switched token is for %v", cur["tenant_id"])
		}
		bobTok := a.login(t, "bob", "bob-secret", "beta")
		r = a.call(t, "POST", "/api/v1/tenant/switch", bobTok, map[string]string{"tenant_id": "alpha"})
		if r.Status != 403 || r.ErrCode(t) != "forbidden" {
			t.Fatalf("switch to a tenant not held: HTTP %d %s", r.Status, r.Body)
		}
	})
	t.Run("system status needs admin", func(t *testing.T) {
		if r := a.call(t, "GET", "/api/v1/tenant/system/status", tok, nil); r.Status != 403 {
			t.Fatalf("analyst got HTTP %d", r.Status)
		}
		// A tenant's admin sees its own tenant only.
		r := a.call(t, "GET", "/api/v1/tenant/system/status", a.login(t, "bob", "bob-secret", "beta"), nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"beta"`) || strings.Contains(string(r.Body), `"alpha"`) {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
	})
	t.Run("unknown endpoint and method", func(t *testing.T) {
		if r := a.call(t, "GET", "/api/v1/nope", tok, nil); r.Status != 404 || r.ErrCode(t) != "not_found" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		if r := a.call(t, "GET", "/api/v1/auth/login", "", nil); r.Status != 405 || r.ErrCode(t) != "method_not_allowed" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
	})
}

func TestAdminAPIDisabledWithoutSecret(t *testing.T) {
	requirePostgres(t)
	a := startAPI(t, `auth: {jwt_secret: "short"}
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}]
users: [{name: alice, password: x, tenants: {alpha: analyst}}]
`)
	r := a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "x", "tenant_id": "alpha"})
	if r.Status != 503 || r.ErrCode(t) != "api_disabled" {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
}

// rowsOf returns the rows of an answer.
func rowsOf(t *testing.T, r apiResp) [][]any {
	t.Helper()
	m := r.JSON(t)
	if r.Status != 200 {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	var out [][]any
	for _, row := range m["rows"].([]any) {
		out = append(out, row.([]any))
	}
	return out
}

func TestAdminNLQueryPostgres(t *testing.T) {
	for _, redisAddr := range []string{"", "127.0.0.1:6379", "127.0.0.1:1"} {
		t.Run("redis="+redisAddr, func(t *testing.T) {
			extra := ""
			if redisAddr != "" {
				if redisAddr == "127.0.0.1:6379" {
					requireRedis(t)
				}
				extra = "redis: {addr: \"" + redisAddr + "\"}\n"
			}
			a := startShops(t, extra)
			alice := a.login(t, "alice", "alice-secret", "alpha")
			r := a.ask(t, alice, "How many customers are there?")
			m := r.JSON(t)
			if r.Status != 200 || fmt.Sprint(rowsOf(t, r)) != "[[3]]" || m["cached"] != false || m["generated_sql"] == "" || m["explanation"] == "" {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
			id := m["query_id"].(string)
			again := a.ask(t, alice, "how many customers are there")
			if am := again.JSON(t); am["cached"] != true || fmt.Sprint(rowsOf(t, again)) != "[[3]]" {
				t.Fatalf("second ask not cached: %s", again.Body)
			}
			if nc := a.ask(t, alice, "how many customers are there", "cache_enabled", false).JSON(t); nc["cached"] != false {
				t.Fatal("cache_enabled false served from the cache")
			}
			brazil := rowsOf(t, a.ask(t, alice, "Show customers from Brazil"))
			if len(brazil) != 2 {
				t.Fatalf("customers from Brazil: %v", brazil)
			}
			// Stored results: tenant- and role-checked.
			if g := a.call(t, "GET", "/api/v1/tenant/query/"+id, alice, nil); g.Status != 200 || g.JSON(t)["query_id"] != id {
				t.Fatalf("GET stored: HTTP %d %s", g.Status, g.Body)
			}
			aliceBeta := a.login(t, "alice", "alice-secret", "beta")
			if g := a.call(t, "GET", "/api/v1/tenant/query/"+id, aliceBeta, nil); g.Status != 404 {
				t.Fatalf("another tenant read a stored result: HTTP %d", g.Status)
			}
			// Same question, other tenant and role: never the cached answer.
			bm := a.ask(t, aliceBeta, "How many customers are there?")
			if fmt.Sprint(rowsOf(t, bm)) != "[[4]]" || bm.JSON(t)["cached"] != false {
				t.Fatalf("beta answer: %s", bm.Body)
			}
			// The viewer role: masked emails, capped rows, security_filtered.
			v := a.ask(t, aliceBeta, "list all customers")
			vm := v.JSON(t)
			rows := rowsOf(t, v)
			if len(rows) != 2 || vm["security_filtered"] != true || !strings.Contains(string(v.Body), `"****"`) || strings.Contains(string(v.Body), "@b.example") {
				t.Fatalf("viewer answer: %s", v.Body)
			}
			// Glossary and verified examples.
			if g := rowsOf(t, a.ask(t, aliceBeta, "how many patrons are there")); fmt.Sprint(g) != "[[4]]" {
				t.Fatalf("glossary: %v", g)
			}
			ex := a.ask(t, aliceBeta, "Big spenders over 60")
			if rows := rowsOf(t, ex); len(rows) != 1 || ex.JSON(t)["source"] != "example" {
				t.Fatalf("example: %s", ex.Body)
			}
			// Unanswerable questions: 422 with what was not understood.
			u := a.ask(t, alice, "What is the airspeed velocity of an unladen swallow?")
			if u.Status != 422 || u.ErrCode(t) != "unanswerable" || !strings.Contains(string(u.Body), "tables_available") {
				t.Fatalf("unanswerable: HTTP %d %s", u.Status, u.Body)
			}
			// Metrics and health of the caller's tenant only.
			mt := a.call(t, "GET", "/api/v1/tenant/metrics", alice, nil).JSON(t)
			if mt["tenant_id"] != "alpha" || mt["cache_hit_rate"] == nil || mt["total_queries"].(json.Number).String() == "0" {
				t.Fatalf("metrics: %v", mt)
			}
			h := a.call(t, "GET", "/api/v1/tenant/health", alice, nil)
			if hm := h.JSON(t); h.Status != 200 || hm["status"] != "healthy" || hm["connection_status"] != "connected" {
				t.Fatalf("health: %s", h.Body)
			}
		})
	}
}

func TestAdminExport(t *testing.T) {
	a := startShops(t, "")
	alice := a.login(t, "alice", "alice-secret", "alpha")
	r := a.call(t, "POST", "/api/v1/tenant/query/export?export_format=csv", alice, map[string]any{"query": "customers from Brazil"})
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !strings.Contains(r.Header.Get("Content-Disposition"), "alpha-") {
		t.Fatalf("csv: HTTP %d %v %s", r.Status, r.Header, r.Body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "customer_id" {
		t.Fatalf("csv: %v %q", err, recs)
	}
	r = a.call(t, "POST", "/api/v1/tenant/query/export?format=json", alice, map[string]any{"sql": "SELECT name FROM customer ORDER BY name"})
	var doc struct {
		Columns  []string `json:"columns"`
		Rows     [][]any  `json:"rows"`
		RowCount int      `json:"row_count"`
	}
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(r.Body, &doc) != nil || doc.RowCount != 3 || doc.Rows[0][0] != "Ana" {
		t.Fatalf("json: HTTP %d %s", r.Status, r.Body)
	}
	// Writes never run from the API, whatever the role.
	bob := a.login(t, "bob", "bob-secret", "beta")
	w := a.call(t, "POST", "/api/v1/tenant/query/export", bob, map[string]any{"sql": "DELETE FROM customer"})
	if w.Status != 403 || w.ErrCode(t) != "forbidden" {
		t.Fatalf("write export: HTTP %d %s", w.Status, w.Body)
	}
	if rows := rowsOf(t, a.ask(t, bob, "how many customers are there")); fmt.Sprint(rows) != "[[4]]" {
		t.Fatalf("rows after a refused delete: %v", rows)
	}
	// The viewer's export is masked and capped like its queries.
	v := a.call(t, "POST", "/api/v1/tenant/query/export?export_format=csv", a.login(t, "alice", "alice-secret", "beta"), map[string]any{"sql": "SELECT name, email FROM customer"})
	if v.Status != 200 || strings.Contains(string(v.Body), "@b.example") || strings.Count(string(v.Body), "\n") != 3 {
		t.Fatalf("viewer export: %s", v.Body)
	}
	if b := a.call(t, "POST", "/api/v1/tenant/query/export?export_format=xml", alice, map[string]any{"sql": "SELECT 1"}); b.Status != 400 {
		t.Fatalf("xml export: HTTP %d", b.Status)
	}
	if b := a.call(t, "POST", "/api/v1/tenant/query/export", alice, map[string]any{"sql": "SELEC oops"}); b.Status != 400 {
		t.Fatalf("syntax error: HTTP %d %s", b.Status, b.Body)
	}
}

func TestAdminSchema(t *testing.T) {
	a := startShops(t, "")
	alice := a.login(t, "alice", "alice-secret", "alpha")
	r := a.call(t, "GET", "/api/v1/tenant/schema", alice, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"ref_table":"customer"`) || !strings.Contains(string(r.Body), `"primary_key":["invoice_id"]`) {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	if u := a.ask(t, alice, "how many products are there"); u.Status != 422 {
		t.Fatalf("before the table exists: HTTP %d %s", u.Status, u.Body)
	}
	pgExec(t, a.Config.Proxy.Tenants[0].PGConfig.Database, `CREATE TABLE product (product_id int PRIMARY KEY, title text)`, `INSERT INTO product VALUES (1,'x')`)
	if rr := a.call(t, "POST", "/api/v1/tenant/schema/refresh", alice, nil); rr.Status != 200 {
		t.Fatalf("refresh: HTTP %d %s", rr.Status, rr.Body)
	}
	if rows := rowsOf(t, a.ask(t, alice, "how many products are there")); fmt.Sprint(rows) != "[[1]]" {
		t.Fatalf("after refresh: %v", rows)
	}
}

func TestAdminLLMProvider(t *testing.T) {
	answer := "```sql\nSELECT name FROM customer WHERE country = 'Canada'\n```"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k-123" {
			http.Error(w, "bad request", 400)
			return
		}
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		content := answer
		if strings.Contains(req.Messages[1].Content, "delete") {
			content = "DELETE FROM customer"
		}
		if !strings.Contains(req.Messages[0].Content, "TABLE customer") {
			content = "UNANSWERABLE"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": content}}}})
	}))
	defer srv.Close()
	t.Setenv("TP_TEST_LLM_KEY", "k-123")
	a := startShops(t, "nlp: {provider: openai, base_url: \""+srv.URL+"/v1\", model: test-model, api_key_env: TP_TEST_LLM_KEY}\n")
	alice := a.login(t, "alice", "alice-secret", "alpha")
	r := a.ask(t, alice, "who lives up north")
	if rows := rowsOf(t, r); fmt.Sprint(rows) != "[[Bob]]" || r.JSON(t)["source"] != "llm" {
		t.Fatalf("llm answer: %s", r.Body)
	}
	// A model that answers with a write is not obeyed: the deterministic
	// translator answers instead, and it declines a question it understands
	// only in part ("delete them" is not a read it can answer).
	r = a.ask(t, alice, "how many customers are there, then delete them")
	if r.Status != 422 || r.ErrCode(t) != "unanswerable" || !strings.Contains(string(r.Body), `"unmapped_words":["delete"]`) {
		t.Fatalf("write from the model: HTTP %d %s", r.Status, r.Body)
	}
	if r := a.ask(t, alice, "who lives up north"); fmt.Sprint(rowsOf(t, r)) != "[[Bob]]" {
		t.Fatalf("after the refused write: %s", r.Body)
	}
}

var _ = admin.MinSecretLen
