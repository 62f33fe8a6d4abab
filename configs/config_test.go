package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const okTenants = `
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/alpha"}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/beta"}
users:
  - {name: alice, password: pw, tenants: {alpha: analyst, beta: viewer}}
`

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml does not load: %v", err)
	}
	if len(cfg.Proxy.Tenants) != 4 || len(cfg.Proxy.Users) != 1 {
		t.Fatalf("example.yaml: %d tenants, %d users", len(cfg.Proxy.Tenants), len(cfg.Proxy.Users))
	}
	if cfg.Proxy.Tenants[2].PGConfig.RuntimeParams["search_path"] != `"gamma"` {
		t.Fatalf("schema tenant search_path = %q", cfg.Proxy.Tenants[2].PGConfig.RuntimeParams["search_path"])
	}
}

func TestDemoConfigLoads(t *testing.T) {
	if _, err := Load("demo.yaml"); err != nil {
		t.Fatalf("demo.yaml does not load: %v", err)
	}
}

func TestBadConfigsNameTheKey(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"unknown engine", `
tenants: [{id: a, engine: oracle, dsn: "x"}]
users: []`, "tenants[0].engine: unknown engine \"oracle\""},
		{"duplicate tenant", `
tenants:
  - {id: a, engine: postgres, dsn: "postgres://h/a"}
  - {id: a, engine: postgres, dsn: "postgres://h/b"}`, "tenants[1].id: duplicate tenant id \"a\""},
		{"role on unknown tenant", `
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a"}]
users: [{name: u, password: p, tenants: {zeta: viewer}}]`, "users[0].tenants.zeta: unknown tenant"},
		{"unknown role", `
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a"}]
users: [{name: u, password: p, tenants: {a: wizard}}]`, "users[0].tenants.a: unknown role \"wizard\""},
		{"bad pg dsn", `
tenants: [{id: a, engine: postgres, dsn: "postgres://h:notaport/a"}]`, "tenants[0].dsn: cannot parse"},
		{"bad mysql dsn", `
tenants: [{id: a, engine: mysql, dsn: "root@tcp(127.0.0.1:3306"}]`, "tenants[0].dsn: cannot parse the MySQL DSN"},
		{"unknown key", `
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", colour: red}]`, "colour"},
		{"bad pool mode", `
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", pool: {mode: statement}}]`, "tenants[0].pool: mode must be transaction or session"},
		{"bad isolation", `
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a", isolation: galaxy}]`, "tenants[0].isolation: unknown model"},
		{"custom role without access", `
roles: {odd: {max_rows: 5}}
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a"}]`, "roles.odd.access: required"},
		{"bad duration", `
auth: {token_ttl: soon}
tenants: [{id: a, engine: postgres, dsn: "postgres://h/a"}]`, "token_ttl"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(write(t, c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Setenv("TENANTPROXY_AUTH_JWT_SECRET", "from-env")
	t.Setenv("TENANTPROXY_TENANTS_ALPHA_DSN", "postgres://postgres@127.0.0.1:5432/alpha2")
	t.Setenv("TENANTPROXY_USERS_ALICE_PASSWORD", "env-pw")
	cfg, err := Load(write(t, okTenants))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File.Auth.JWTSecret != "from-env" {
		t.Errorf("jwt_secret = %q", cfg.File.Auth.JWTSecret)
	}
	if cfg.Proxy.Tenants[0].PGConfig.Database != "alpha2" {
		t.Errorf("tenant dsn not overridden: %s", cfg.Proxy.Tenants[0].PGConfig.Database)
	}
	if cfg.Proxy.Users[0].Plain != "env-pw" || !cfg.Proxy.Users[0].Verifier.Check("env-pw") {
		t.Errorf("user password not overridden")
	}
}

func TestVerifierPasswordsAndRoles(t *testing.T) {
	body := `
roles: {support: {access: read, max_rows: 500}}
tenants:
  - id: a
    engine: postgres
    dsn: "postgres://h/a"
    roles: {viewer: {max_rows: 7}, support: {denied_tables: [payments]}}
users:
  - name: u
    password: "SCRAM-SHA-256$4096:5X+dNwj02Vv+x9EPob3eBg==$xZJ5V27DgnwA6BG+6WxrZ0O/hNMfaszTcVatj+NttIs=:h94mHID4lNdnjolkx3JK9yDO759jM4kydM2V9rT7Esc="
    tenants: {a: support}
`
	cfg, err := Load(write(t, body))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Proxy.Users[0]
	if u.Plain != "" || !u.Verifier.Check("postgres") {
		t.Fatal("a verifier password must be kept as a verifier")
	}
	roles := cfg.Proxy.Tenants[0].Roles
	if roles["viewer"].MaxRows != 7 {
		t.Errorf("tenant override of viewer: max_rows %d", roles["viewer"].MaxRows)
	}
	if roles["support"].MaxRows != 500 || len(roles["support"].DeniedTables) != 1 {
		t.Errorf("tenant override of a shared role lost fields: %+v", roles["support"])
	}
	if roles["analyst"].MaxRows != 0 {
		t.Errorf("built-in analyst changed: %+v", roles["analyst"])
	}
}
