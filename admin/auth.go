package admin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// MinSecretLen is the shortest auth.jwt_secret the API accepts: with a
// shorter (or no) secret the /api/v1 endpoints answer 503 and the server
// logs why; /metrics and /healthz keep working.
const MinSecretLen = 16

// tokenIssuer is the iss claim of tokens this proxy issues.
const tokenIssuer = "tenantproxy"

// Claims are a token's claims: who, on which tenant, under which role.
type Claims struct {
	User   string `json:"user"`
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	jwt.RegisteredClaims
}

// issue signs a token for b.
func (s *Server) issue(b *proxy.Binding) (string, time.Duration, error) {
	now := time.Now()
	var id [12]byte
	_, _ = rand.Read(id[:])
	c := Claims{User: b.User.Name, Tenant: b.Tenant.ID, Role: b.Role.Name, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    tokenIssuer,
		Subject:   b.User.Name,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.TokenTTL)),
		ID:        hex.EncodeToString(id[:]),
	}}
	tok, err := jwt.NewWithClaims(s.keys.method, c).SignedString(s.keys.sign)
	return tok, s.cfg.TokenTTL, err
}

// signingKeys are the keys tokens are signed and checked with.
type signingKeys struct {
	method jwt.SigningMethod
	sign   any // []byte for HS256, *rsa.PrivateKey or *ecdsa.PrivateKey
	verify any // []byte for HS256, the public key otherwise
}

// loadKeys builds the signing keys of cfg: HS256 with the secret (at least
// MinSecretLen bytes), or RS256 / ES256 with the PEM private key in
// JWTKeyFile. The error says what is missing.
func loadKeys(cfg Config) (signingKeys, error) {
	switch strings.ToUpper(cfg.JWTAlgorithm) {
	case "", "HS256":
		if len(cfg.JWTSecret) < MinSecretLen {
			return signingKeys{}, fmt.Errorf("auth.jwt_secret must be at least %d bytes", MinSecretLen)
		}
		return signingKeys{method: jwt.SigningMethodHS256, sign: []byte(cfg.JWTSecret), verify: []byte(cfg.JWTSecret)}, nil
	case "RS256":
		pemBytes, err := os.ReadFile(cfg.JWTKeyFile)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: %v", err)
		}
		k, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: not an RSA private key: %v", err)
		}
		return signingKeys{method: jwt.SigningMethodRS256, sign: k, verify: &k.PublicKey}, nil
	case "ES256":
		pemBytes, err := os.ReadFile(cfg.JWTKeyFile)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: %v", err)
		}
		k, err := jwt.ParseECPrivateKeyFromPEM(pemBytes)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: not an EC private key: %v", err)
		}
		return signingKeys{method: jwt.SigningMethodES256, sign: k, verify: &k.PublicKey}, nil
	}
	return signingKeys{}, fmt.Errorf("auth.jwt_algorithm: unknown algorithm %q (HS256, RS256 or ES256)", cfg.JWTAlgorithm)
}

// TokensEnabled reports whether the server can issue and check tokens.
func (s *Server) TokensEnabled() bool { return s.keys.method != nil }

// ParseToken checks a token's signature (the configured algorithm only: alg
// none and every other algorithm are refused), expiry and issuer, and
// returns its claims.
func (s *Server) ParseToken(tok string) (*Claims, error) {
	if s.keys.method == nil {
		return nil, errors.New("tokens are not configured")
	}
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		return s.keys.verify, nil
	}, jwt.WithValidMethods([]string{s.keys.method.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithIssuer(tokenIssuer), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, err
	}
	if c.User == "" || c.Tenant == "" {
		return nil, errors.New("token lacks user or tenant")
	}
	return &c, nil
}

// authenticate turns the request's bearer token into a binding. A token of
// another tenant than X-Tenant-ID, or for a tenant the user no longer
// holds, is refused.
func (s *Server) authenticate(r *http.Request) (*proxy.Binding, *Claims, *apiError) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return nil, nil, errf(http.StatusUnauthorized, "unauthorized", "missing bearer token")
	}
	c, err := s.ParseToken(strings.TrimSpace(tok))
	if err != nil {
		return nil, nil, errf(http.StatusUnauthorized, "invalid_token", "invalid token: %v", err)
	}
	if x := r.Header.Get("X-Tenant-ID"); x != "" && x != c.Tenant {
		return nil, nil, errf(http.StatusForbidden, "tenant_mismatch", "X-Tenant-ID %q does not match the token's tenant", x)
	}
	u, ok := s.p.User(c.User)
	if !ok {
		return nil, nil, errf(http.StatusUnauthorized, "invalid_token", "the token's user no longer exists")
	}
	t, ok := s.p.Tenant(c.Tenant)
	if !ok {
		return nil, nil, errf(http.StatusForbidden, "forbidden", "tenant %q does not exist or user %q holds no role on it", c.Tenant, c.User)
	}
	b, err := s.p.Bind(u, c.Tenant, t.Engine)
	if err != nil {
		return nil, nil, errf(http.StatusForbidden, "forbidden", "tenant %q does not exist or user %q holds no role on it", c.Tenant, c.User)
	}
	if b.Role.Name != c.Role {
		// The user's role changed since the token was issued: log in again.
		return nil, nil, errf(http.StatusUnauthorized, "invalid_token", "the token's role %q is no longer the user's role on %q", c.Role, c.Tenant)
	}
	return b, c, nil
}

type loginRequest struct {
	UsernameOrEmail string `json:"username_or_email"`
	Username        string `json:"username"`
	Password        string `json:"password"`
	TenantID        string `json:"tenant_id"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	TenantID    string `json:"tenant_id"`
	Role        string `json:"role"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	name := req.UsernameOrEmail
	if name == "" {
		name = req.Username
	}
	if name == "" || req.Password == "" {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "username (or username_or_email) and password are required"))
		return
	}
	u, ok := s.p.User(name)
	if !ok || !u.Verifier.Check(req.Password) {
		s.log.Info("login_failed", "user", name)
		writeErr(w, errf(http.StatusUnauthorized, "auth", "invalid username or password"))
		return
	}
	id := req.TenantID
	if id == "" {
		ids := u.TenantIDs()
		if len(ids) != 1 {
			writeErr(w, errf(http.StatusBadRequest, "no_tenant", "tenant_id is required: user %q holds %d tenants", name, len(ids)))
			return
		}
		id = ids[0]
	}
	b, e := s.bindTenant(u, id)
	if e != nil {
		writeErr(w, e)
		return
	}
	s.writeToken(w, b)
}

func (s *Server) bindTenant(u *proxy.User, id string) (*proxy.Binding, *apiError) {
	t, ok := s.p.Tenant(id)
	if !ok {
		return nil, errf(http.StatusForbidden, "forbidden", "tenant %q does not exist or user %q holds no role on it", id, u.Name)
	}
	b, err := s.p.Bind(u, id, t.Engine)
	if err != nil {
		return nil, errf(http.StatusForbidden, "forbidden", "tenant %q does not exist or user %q holds no role on it", id, u.Name)
	}
	return b, nil
}

func (s *Server) writeToken(w http.ResponseWriter, b *proxy.Binding) {
	tok, ttl, err := s.issue(b)
	if err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "internal", "cannot sign the token"))
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(ttl / time.Second), TenantID: b.Tenant.ID, Role: b.Role.Name})
}

type switchRequest struct {
	TenantID string `json:"tenant_id"`
}

func (s *Server) switchTenant(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	var req switchRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	if req.TenantID == "" {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "tenant_id is required"))
		return
	}
	nb, e := s.bindTenant(b.User, req.TenantID)
	if e != nil {
		writeErr(w, e)
		return
	}
	s.writeToken(w, nb)
}

func (s *Server) current(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_id": b.Tenant.ID, "engine": b.Tenant.Engine, "role": b.Role.Name, "user": b.User.Name,
		"isolation": b.Tenant.Scope.Isolation, "access": accessName(b),
	})
}

func accessName(b *proxy.Binding) string {
	switch b.Role.Access {
	case 1:
		return "read"
	case 2:
		return "write"
	case 3:
		return "admin"
	}
	return fmt.Sprint(b.Role.Access)
}

func (s *Server) accessible(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	var out []map[string]any
	for _, id := range b.User.TenantIDs() {
		t, ok := s.p.Tenant(id)
		if !ok {
			continue
		}
		out = append(out, map[string]any{"tenant_id": id, "engine": t.Engine, "role": b.User.Tenants[id], "current": id == b.Tenant.ID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
}
