package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestReloadUnderLoad changes the configuration of a running proxy with
// SIGHUP and through the admin API while clients of an untouched tenant
// run a load: an added tenant and user work at once, a removed tenant's
// sessions are closed with a clear error, a rejected config leaves the
// running one in place, and the untouched tenant's clients see no error.
func TestReloadUnderLoad(t *testing.T) {
	requirePostgres(t)
	alpha := tempPGDatabase(t, "rl_alpha")
	delta := tempPGDatabase(t, "rl_delta")
	gamma := tempPGDatabase(t, "rl_gamma")
	pgExec(t, gamma, "CREATE TABLE g (v text)", "INSERT INTO g VALUES ('from-gamma')")
	v1 := fmt.Sprintf(`
auth: {jwt_secret: "reload-secret-0123456789", token_ttl: 1h}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: delta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: u, password: pw, tenants: {alpha: admin, delta: admin}}
`, alpha, delta)
	pp := startProxyProcess(t, v1)
	ctx := context.Background()

	load := startSteadyLoad(t, pp.url("u", "pw", "alpha"), 3)
	deltaConn, err := pgx.Connect(ctx, pp.url("u", "pw", "delta"))
	if err != nil {
		t.Fatal(err)
	}
	defer deltaConn.Close(ctx)

	// v2: gamma and user w added, delta removed.
	v2 := fmt.Sprintf(`
auth: {jwt_secret: "reload-secret-0123456789", token_ttl: 1h}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
  - {id: gamma, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: u, password: pw, tenants: {alpha: admin, gamma: analyst}, operator: true}
  - {name: w, password: pw2, tenants: {gamma: viewer}}
`, alpha, gamma)
	if err := os.WriteFile(pp.cfgPath, []byte(pp.listen+v2), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pp.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var g *pgx.Conn
	deadline := time.Now().Add(5 * time.Second)
	for g == nil {
		if c, err := pgx.Connect(ctx, pp.url("w", "pw2", "gamma")); err == nil {
			g = c
		} else if time.Now().After(deadline) {
			t.Fatalf("added tenant and user not served after SIGHUP: %v\n%s", err, pp.log())
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer g.Close(ctx)
	var v string
	if err := g.QueryRow(ctx, "SELECT v FROM g").Scan(&v); err != nil || v != "from-gamma" {
		t.Fatalf("new tenant: %q %v", v, err)
	}
	// The removed tenant's open session is closed with a clear error.
	time.Sleep(100 * time.Millisecond)
	_, err = deltaConn.Exec(ctx, "SELECT 1")
	if err == nil {
		t.Fatal("a session of a removed tenant still runs statements")
	}
	if !strings.Contains(err.Error(), `tenant "delta" was removed`) && !strings.Contains(pp.log(), "config_reloaded") {
		t.Fatalf("removed tenant: %v", err)
	}
	_, err = pgx.Connect(ctx, pp.url("u", "pw", "delta"))
	wantCode(t, err, "3D000")

	// A config that fails validation is rejected; the running one stays.
	if err := os.WriteFile(pp.cfgPath, []byte(pp.listen+"tenants: [{id: x, engine: oracle, dsn: y}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = pp.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if !strings.Contains(pp.log(), "config_reload_rejected") {
		t.Fatalf("rejected config not logged:\n%s", pp.log())
	}
	if err := g.QueryRow(ctx, "SELECT v FROM g").Scan(&v); err != nil {
		t.Fatalf("after a rejected reload: %v", err)
	}

	// The admin API reloads too, for operators only.
	if err := os.WriteFile(pp.cfgPath, []byte(pp.listen+v1), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := adminLogin(t, pp.adminAddr, "u", "pw", "alpha")
	req, _ := http.NewRequest("POST", "http://"+pp.adminAddr+"/api/v1/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || fmt.Sprint(out["changes"]) == "" || !strings.Contains(fmt.Sprint(out), "delta") {
		t.Fatalf("reload through the API: %d %v", resp.StatusCode, out)
	}
	c, err := pgx.Connect(ctx, pp.url("u", "pw", "delta"))
	if err != nil {
		t.Fatalf("delta back after the API reload: %v", err)
	}
	c.Close(ctx)

	_, errs, n := load.stop()
	if errs != 0 || n == 0 {
		t.Fatalf("the untouched tenant's clients saw %d errors (%d statements)", errs, n)
	}
	t.Logf("untouched tenant: %d statements, 0 errors across 3 reloads", n)
}

// adminLogin gets an access token from a proxy's admin API.
func adminLogin(t testing.TB, addr, user, pw, tenant string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw, "tenant_id": tenant})
	resp, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	tok, _ := out["access_token"].(string)
	if resp.StatusCode != 200 || tok == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, out)
	}
	return tok
}
