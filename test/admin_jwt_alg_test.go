package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAdminAsymmetricTokens signs tokens with RS256 and ES256 key files;
// a token signed with the wrong key or with HS256 (algorithm confusion) is
// refused.
func TestAdminAsymmetricTokens(t *testing.T) {
	requirePostgres(t)
	db := pgShop(t, "jwtalg", `INSERT INTO customer VALUES (1,'Ana','ana@a.example','Brazil')`)
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPath, ecPath := filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "ec.pem")
	_ = os.WriteFile(rsaPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), 0o600)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	_ = os.WriteFile(ecPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), 0o600)
	for _, c := range []struct {
		alg, path string
		method    jwt.SigningMethod
	}{{"RS256", rsaPath, jwt.SigningMethodRS256}, {"ES256", ecPath, jwt.SigningMethodES256}} {
		t.Run(c.alg, func(t *testing.T) {
			a := startAPI(t, fmt.Sprintf(`
auth: {jwt_algorithm: %s, jwt_key_file: %q, token_ttl: 1h}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: alice, password: alice-secret, tenants: {alpha: analyst}}
`, c.alg, c.path, db))
			tok := a.login(t, "alice", "alice-secret", "alpha")
			parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
			if err != nil || parsed.Method.Alg() != c.alg {
				t.Fatalf("token algorithm %v %v", parsed.Method, err)
			}
			if r := a.call(t, "GET", "/api/v1/tenant/current", tok, nil); r.Status != 200 {
				t.Fatalf("current with an %s token: %d %s", c.alg, r.Status, r.Body)
			}
			claims := jwt.MapClaims{"user": "alice", "tenant": "alpha", "role": "analyst", "iss": "tenantproxy",
				"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
			// Another key of the same algorithm.
			var forged string
			if c.alg == "RS256" {
				other, _ := rsa.GenerateKey(rand.Reader, 2048)
				forged, _ = jwt.NewWithClaims(c.method, claims).SignedString(other)
			} else {
				other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				forged, _ = jwt.NewWithClaims(c.method, claims).SignedString(other)
			}
			if r := a.call(t, "GET", "/api/v1/tenant/current", forged, nil); r.Status != 401 {
				t.Fatalf("token signed with another key: %d", r.Status)
			}
			// HS256 signed with the public key's bytes (algorithm confusion).
			pub, _ := x509.MarshalPKIXPublicKey(map[string]any{"RS256": &rsaKey.PublicKey, "ES256": &ecKey.PublicKey}[c.alg])
			confused, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
			if r := a.call(t, "GET", "/api/v1/tenant/current", confused, nil); r.Status != 401 {
				t.Fatalf("HS256 token under %s: %d", c.alg, r.Status)
			}
		})
	}
	// A bad key file disables the API with the reason.
	a := startAPI(t, fmt.Sprintf(`
auth: {jwt_algorithm: RS256, jwt_key_file: %q}
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: alice, password: alice-secret, tenants: {alpha: analyst}}
`, filepath.Join(dir, "missing.pem"), db))
	r := a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "alice-secret", "tenant_id": "alpha"})
	if r.Status != 503 || r.ErrCode(t) != "api_disabled" {
		t.Fatalf("missing key file: %d %s", r.Status, r.Body)
	}
}
