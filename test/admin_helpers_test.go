package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/admin"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	mysqlwire "github.com/tenantproxy/tenantproxy/wire/mysql"
	"github.com/tenantproxy/tenantproxy/wire/pg"
)

// testSecret is the JWT secret of the API test configs.
const testSecret = "test-secret-0123456789abcdef"

// apiServer is the proxy core, the admin API and both wire front ends
// (accepting access tokens as passwords), in-process on free ports.
type apiServer struct {
	URL       string
	PGAddr    string
	MySQLAddr string
	Proxy     *proxy.Server
	Config    *configs.Config
}

// startAPI loads yaml (a whole config; listen addresses and the JWT secret
// are set here) and serves the admin API until the test ends. mutate, when
// given, adjusts the admin config (LLM stand-ins, TTLs).
func startAPI(t testing.TB, yaml string, mutate ...func(*admin.Config)) *apiServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	head := "listen: {postgres: \"127.0.0.1:0\", mysql: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\n"
	if !strings.Contains(yaml, "auth:") {
		head += "auth: {jwt_secret: \"" + testSecret + "\", token_ttl: 1h}\n"
	}
	if err := os.WriteFile(path, []byte(head+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TP_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewRegistry()
	p, err := proxy.New(cfg.Proxy, policy.NewEngine(10000), proxy.NewMetrics(reg), log)
	if err != nil {
		t.Fatal(err)
	}
	ac := cfg.Admin
	ac.StatementTimeout = 20 * time.Second
	for _, m := range mutate {
		m(&ac)
	}
	adm := admin.New(p, reg, log, admin.WithAPI(ac))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = adm.Serve(l) }()
	tokens := func(tok string) (string, string, error) {
		c, err := adm.ParseToken(tok)
		if err != nil {
			return "", "", err
		}
		return c.User, c.Tenant, nil
	}
	pgl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pgSrv := pg.New(p, nil, log)
	pgSrv.AcceptTokens(tokens, cfg.File.Auth.TokenPasswordsOnLoopback)
	go func() { _ = pgSrv.Serve(pgl) }()
	myl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mySrv := mysqlwire.New(p, mysqlTLS(t), log)
	mySrv.AcceptTokens(tokens)
	go func() { _ = mySrv.Serve(myl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pgl.Close()
		_ = myl.Close()
		_ = adm.Shutdown(ctx)
		p.Shutdown(ctx)
		pgSrv.Wait()
		mySrv.Wait()
	})
	return &apiServer{URL: "http://" + l.Addr().String(), PGAddr: pgl.Addr().String(), MySQLAddr: myl.Addr().String(), Proxy: p, Config: cfg}
}

// apiResp is an HTTP answer of the API.
type apiResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body (numbers as json.Number).
func (r apiResp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("HTTP %d: body is not JSON: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// ErrCode is the error code of an error answer.
func (r apiResp) ErrCode(t testing.TB) string {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("HTTP %d: no error object: %s", r.Status, r.Body)
	}
	if _, ok := e["message"].(string); !ok {
		t.Fatalf("error without a message: %s", r.Body)
	}
	return e["code"].(string)
}

// call sends a request; body may be a string (sent as is) or a value
// (sent as JSON).
func (a *apiServer) call(t testing.TB, method, path, token string, body any, headers ...string) apiResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return apiResp{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// login returns an access token or fails the test.
func (a *apiServer) login(t testing.TB, user, password, tenant string) string {
	t.Helper()
	r := a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": password, "tenant_id": tenant})
	if r.Status != http.StatusOK {
		t.Fatalf("login %s@%s: HTTP %d %s", user, tenant, r.Status, r.Body)
	}
	return r.JSON(t)["access_token"].(string)
}

// ask posts a question and returns the answer.
func (a *apiServer) ask(t testing.TB, token, question string, extra ...any) apiResp {
	t.Helper()
	body := map[string]any{"query": question, "max_results": 10000}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return a.call(t, "POST", "/api/v1/tenant/query", token, body)
}
