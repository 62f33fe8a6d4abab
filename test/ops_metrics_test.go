package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOpsMetricsListenerAndToken: with listen.metrics the tenant-naming
// metrics leave the admin port for their own listener, and with
// auth.metrics_token a scrape without the token gets 401.
func TestOpsMetricsListenerAndToken(t *testing.T) {
	requirePostgres(t)
	pgAddr, adminAddr, metricsAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	lp := startLimitedProxy(t, 1024, fmt.Sprintf(`listen: {postgres: %q, mysql: "", admin: %q, metrics: %q}
auth: {jwt_secret: "metrics-secret-0123456789", metrics_token: "scrape-me"}
tenants: [{id: secret_tenant_name, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}]
users: [{name: u, password: pw, tenants: {secret_tenant_name: analyst}}]
`, pgAddr, adminAddr, metricsAddr))
	lp.pgAddr = pgAddr
	connectRetry(t, fmt.Sprintf("postgres://u:pw@%s/secret_tenant_name?sslmode=disable", pgAddr), 5e9).Close(t.Context())

	if code, body := httpGet(t, "http://"+adminAddr+"/metrics", "scrape-me"); code != http.StatusNotFound || strings.Contains(body, "secret_tenant_name") {
		t.Fatalf("admin port /metrics: %d %s", code, body)
	}
	if code, _ := httpGet(t, "http://"+adminAddr+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("admin /healthz: %d", code)
	}
	if code, body := httpGet(t, "http://"+metricsAddr+"/metrics", ""); code != http.StatusUnauthorized || strings.Contains(body, "secret_tenant_name") {
		t.Fatalf("metrics without the token: %d %s", code, body)
	}
	if code, body := httpGet(t, "http://"+metricsAddr+"/metrics", "wrong"); code != http.StatusUnauthorized || strings.Contains(body, "secret_tenant_name") {
		t.Fatalf("metrics with a wrong token: %d", code)
	}
	code, body := httpGet(t, "http://"+metricsAddr+"/metrics", "scrape-me")
	if code != http.StatusOK || !strings.Contains(body, `tenant="secret_tenant_name"`) {
		t.Fatalf("metrics with the token: %d %s", code, body)
	}
}
