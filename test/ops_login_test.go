package test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestOpsLoginLockoutAPI: after 5 wrong passwords the right one gets 429
// with Retry-After, for a known and an unknown user alike (the answers
// never tell which exists); the lockout ends after its time; a metric
// counts it.
func TestOpsLoginLockoutAPI(t *testing.T) {
	requirePostgres(t)
	a := startAPI(t, `
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}]
users: [{name: alice, password: alice-pw, tenants: {alpha: analyst}}]
`)
	login := func(user, pw string) apiResp {
		return a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw, "tenant_id": "alpha"})
	}
	for _, user := range []string{"alice", "nobody"} {
		var first []byte
		for i := range 5 {
			r := login(user, "wrong")
			if r.Status != http.StatusUnauthorized || r.ErrCode(t) != "auth" {
				t.Fatalf("%s wrong password %d: HTTP %d %s", user, i, r.Status, r.Body)
			}
			if first == nil {
				first = r.Body
			}
		}
		if user == "nobody" && !strings.Contains(string(first), "invalid username or password") {
			t.Fatalf("unknown user's answer: %s", first)
		}
		r := login(user, "alice-pw")
		if r.Status != http.StatusTooManyRequests || r.ErrCode(t) != "too_many_attempts" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s after 5 failures: HTTP %d %s (Retry-After %q)", user, r.Status, r.Body, r.Header.Get("Retry-After"))
		}
	}
	m := a.call(t, "GET", "/metrics", "", nil)
	if !strings.Contains(string(m.Body), `tenantproxy_login_lockouts_total{frontend="api"} 2`) ||
		!strings.Contains(string(m.Body), `tenantproxy_login_failures_total{frontend="api"} 10`) {
		t.Fatalf("metrics lack the lockouts:\n%s", grepLines(string(m.Body), "tenantproxy_login"))
	}
	// The first lockout lasts 1s.
	time.Sleep(1200 * time.Millisecond)
	if r := login("alice", "alice-pw"); r.Status != http.StatusOK {
		t.Fatalf("after the lockout: HTTP %d %s", r.Status, r.Body)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestOpsLoginLockoutWire: the same on both wire front ends: 28000 on
// Postgres, 1129 on MySQL, for the right password too while locked.
func TestOpsLoginLockoutWire(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	mydb := tempMyDatabase(t, "opslock")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: pgt, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}
  - {id: myt, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}
users:
  - {name: pguser, password: pg-pw, tenants: {pgt: analyst}}
  - {name: myuser, password: my-pw, tenants: {myt: analyst}}
`, mydb))
	ctx := context.Background()
	pgTry := func(pw string) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(cctx, rp.pgURL("pguser", pw, "pgt"))
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	for i := range 5 {
		if err := pgTry("wrong"); pgCode(err) != "28P01" {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	err := pgTry("pg-pw")
	if pgCode(err) != "28000" || !strings.Contains(err.Error(), "too many failed logins") {
		t.Fatalf("right password while locked: want 28000, got %v", err)
	}
	// Control: an unknown user gets the same.
	for range 5 {
		_ = func() error {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := pgx.Connect(cctx, rp.pgURL("ghost", "x", "pgt"))
			return err
		}()
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := pgx.Connect(cctx, rp.pgURL("ghost", "x", "pgt")); pgCode(err) != "28000" {
		t.Fatalf("unknown user after 5 failures: %v", err)
	}

	myTry := func(pw string) error {
		db, err := sql.Open("mysql", rp.myDSN("myuser", pw, "myt", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return db.PingContext(ctx)
	}
	for i := range 5 {
		err := myTry("wrong")
		wantMyErr(t, err, 1045, fmt.Sprintf("wrong password %d", i))
	}
	err = myTry("my-pw")
	wantMyErr(t, err, 1129, "right password while locked")
	time.Sleep(1200 * time.Millisecond)
	if err := myTry("my-pw"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if err := pgTry("pg-pw"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
}

// TestOpsLoginTimingUnknownUser: a login of an unknown user takes about as
// long as one of a known user with a wrong password (both check a SCRAM
// verifier). Medians of interleaved samples; the bound is loose (unknown
// at least half the known), the difference it catches is the hash skipped
// entirely.
func TestOpsLoginTimingUnknownUser(t *testing.T) {
	requirePostgres(t)
	a := startAPI(t, `
auth: {jwt_secret: "`+testSecret+`", lockout: {max_failures: -1}}
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}]
users: [{name: alice, password: alice-pw, tenants: {alpha: analyst}}]
`)
	var known, unknown []time.Duration
	for i := range 40 {
		for _, user := range []string{"alice", fmt.Sprintf("nobody%d", i)} {
			start := time.Now()
			r := a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": "wrong", "tenant_id": "alpha"})
			d := time.Since(start)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
			if user == "alice" {
				known = append(known, d)
			} else {
				unknown = append(unknown, d)
			}
		}
	}
	slices.Sort(known)
	slices.Sort(unknown)
	mk, mu := known[len(known)/2], unknown[len(unknown)/2]
	t.Logf("median login: known user %s, unknown user %s", mk, mu)
	if mu*2 < mk {
		t.Fatalf("an unknown user answers much faster (%s) than a known one (%s): the hash is skipped", mu, mk)
	}
}

// jwtClaims decodes a token's payload (no verification).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOpsTokensCredentialVersion: a no-op reload changes no user and keeps
// tokens valid; after a password change (reload) tokens issued before fail
// in the API and as wire passwords; a tenant switch never extends the
// login's lifetime.
func TestOpsTokensCredentialVersion(t *testing.T) {
	requirePostgres(t)
	yaml := func(pw string) string {
		return `
auth: {jwt_secret: "` + testSecret + `", token_ttl: 1h, token_passwords_on_loopback: true}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}
  - {id: beta, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}
users: [{name: alice, password: ` + pw + `, tenants: {alpha: analyst, beta: viewer}}]
`
	}
	a := startAPI(t, yaml("old-pw"))
	tok := a.login(t, "alice", "old-pw", "alpha")
	ctx := context.Background()
	host, port := splitHostPort(t, a.PGAddr)
	wire := func(tok string) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(cctx, fmt.Sprintf("postgres://alice:%s@%s:%s/alpha?sslmode=disable", tok, host, port))
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	if err := wire(tok); err != nil {
		t.Fatalf("token as a wire password: %v", err)
	}

	// A tenant switch a second later expires with the login, not later.
	time.Sleep(1100 * time.Millisecond)
	r := a.call(t, "POST", "/api/v1/tenant/switch", tok, map[string]string{"tenant_id": "beta"})
	if r.Status != http.StatusOK {
		t.Fatalf("switch: HTTP %d %s", r.Status, r.Body)
	}
	sw := r.JSON(t)["access_token"].(string)
	if orig, got := jwtClaims(t, tok)["exp"].(float64), jwtClaims(t, sw)["exp"].(float64); got > orig {
		t.Fatalf("the switched token expires at %v, after the login's %v", got, orig)
	}
	back := a.call(t, "POST", "/api/v1/tenant/switch", sw, map[string]string{"tenant_id": "alpha"}).JSON(t)["access_token"].(string)
	if jwtClaims(t, back)["exp"].(float64) > jwtClaims(t, tok)["exp"].(float64) {
		t.Fatal("switching back and forth extends the login")
	}

	// A no-op reload: nobody changed, the token still works.
	sum := reloadYAML(t, a.Proxy, yaml("old-pw"))
	if len(sum.Users.Changed) != 0 || len(sum.Changed) != 0 {
		t.Fatalf("a no-op reload reports changes: %+v", sum)
	}
	if r := a.call(t, "GET", "/api/v1/tenant/current", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("after a no-op reload: HTTP %d %s", r.Status, r.Body)
	}

	// The password changes: every token issued before fails.
	sum = reloadYAML(t, a.Proxy, yaml("new-pw"))
	if strings.Join(sum.Users.Changed, ",") != "alice" {
		t.Fatalf("password change not reported: %+v", sum.Users)
	}
	for name, tk := range map[string]string{"login": tok, "switched": sw} {
		r := a.call(t, "GET", "/api/v1/tenant/current", tk, nil)
		if r.Status != http.StatusUnauthorized || r.ErrCode(t) != "invalid_token" || !strings.Contains(string(r.Body), "password changed") {
			t.Fatalf("%s token after the password change: HTTP %d %s", name, r.Status, r.Body)
		}
	}
	if err := wire(tok); pgCode(err) != "28P01" {
		t.Fatalf("old token as a wire password after the password change: %v", err)
	}
	nt := a.login(t, "alice", "new-pw", "alpha")
	if err := wire(nt); err != nil {
		t.Fatalf("new token on the wire: %v", err)
	}
}

func splitHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}
