package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
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
	// CV is the user's credential version when the token was issued: a
	// password change makes older tokens fail.
	CV string `json:"cv"`
	jwt.RegisteredClaims
}

// issue signs a token for b that expires after the token TTL, or at
// notAfter when that is sooner (a tenant switch never outlives the login).
func (s *Server) issue(b *proxy.Binding, notAfter time.Time) (string, time.Duration, error) {
	now := time.Now()
	exp := now.Add(s.cfg.TokenTTL)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	c := Claims{User: b.User.Name, Tenant: b.Tenant.ID, Role: b.Role.Name, CV: s.credVersion(b.User), RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    tokenIssuer,
		Subject:   b.User.Name,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        hex.EncodeToString(id[:]),
	}}
	tok, err := jwt.NewWithClaims(s.keys.method, c).SignedString(s.keys.sign)
	return tok, exp.Sub(now).Round(time.Second), err
}

// credVersion is a keyed digest of the user's password verifier: it
// changes when the password does, and tells a token's reader nothing about
// the password.
func (s *Server) credVersion(u *proxy.User) string {
	m := hmac.New(sha256.New, s.keys.cvKey)
	m.Write([]byte(u.Verifier.String()))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// signingKeys are the keys tokens are signed and checked with.
type signingKeys struct {
	method jwt.SigningMethod
	sign   any    // []byte for HS256, *rsa.PrivateKey or *ecdsa.PrivateKey
	verify any    // []byte for HS256, the public key otherwise
	cvKey  []byte // keys credential versions (derived from the signing key)
}

// withCV derives the credential-version key from the signing key material.
func (k signingKeys) withCV(material []byte) signingKeys {
	sum := sha256.Sum256(append([]byte("tenantproxy credential version\x00"), material...))
	k.cvKey = sum[:]
	return k
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
		return signingKeys{method: jwt.SigningMethodHS256, sign: []byte(cfg.JWTSecret), verify: []byte(cfg.JWTSecret)}.withCV([]byte(cfg.JWTSecret)), nil
	case "RS256":
		pemBytes, err := os.ReadFile(cfg.JWTKeyFile)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: %v", err)
		}
		k, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: not an RSA private key: %v", err)
		}
		return signingKeys{method: jwt.SigningMethodRS256, sign: k, verify: &k.PublicKey}.withCV(pemBytes), nil
	case "ES256":
		pemBytes, err := os.ReadFile(cfg.JWTKeyFile)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: %v", err)
		}
		k, err := jwt.ParseECPrivateKeyFromPEM(pemBytes)
		if err != nil {
			return signingKeys{}, fmt.Errorf("auth.jwt_key_file: not an EC private key: %v", err)
		}
		return signingKeys{method: jwt.SigningMethodES256, sign: k, verify: &k.PublicKey}.withCV(pemBytes), nil
	}
	return signingKeys{}, fmt.Errorf("auth.jwt_algorithm: unknown algorithm %q (HS256, RS256 or ES256)", cfg.JWTAlgorithm)
}

// TokensEnabled reports whether the server can issue and check tokens.
func (s *Server) TokensEnabled() bool { return s.keys.method != nil }

// ParseToken checks a token's signature (the configured algorithm only: alg
// none and every other algorithm are refused), expiry, issuer and the
// user's credential version (a token issued before a password change
// fails), and returns its claims.
func (s *Server) ParseToken(tok string) (*Claims, error) {
	c, err := s.parseClaims(tok)
	if err != nil {
		return nil, err
	}
	if err := s.checkCredential(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCredential refuses a token issued before the user's password changed.
func (s *Server) checkCredential(c *Claims) error {
	if u, ok := s.p.User(c.User); ok && !hmac.Equal([]byte(c.CV), []byte(s.credVersion(u))) {
		return errors.New("the user's password changed since the token was issued: log in again")
	}
	return nil
}

// parseClaims is ParseToken without the credential check.
func (s *Server) parseClaims(tok string) (*Claims, error) {
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
	c, err := s.parseClaims(strings.TrimSpace(tok))
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
	if err := s.checkCredential(c); err != nil {
		return nil, nil, errf(http.StatusUnauthorized, "invalid_token", "invalid token: %v", err)
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
	if err := s.p.LoginAllowed("api", name, r.RemoteAddr); err != nil {
		e := errf(http.StatusTooManyRequests, "too_many_attempts", "%s", err.Error())
		var ra proxy.RetryAfter
		if errors.As(err, &ra) {
			w.Header().Set("Retry-After", strconv.Itoa(int(time.Duration(ra)/time.Second)))
		}
		writeErr(w, e)
		return
	}
	// An unknown user is checked against a dummy verifier, so that the
	// answer takes as long as for a known one.
	u, ok := s.p.User(name)
	if !ok {
		u = nil
	}
	if !s.p.CheckPassword(u, req.Password) {
		s.p.LoginFailed("api", name, r.RemoteAddr)
		s.log.Info("login_failed", "user", name)
		writeErr(w, errf(http.StatusUnauthorized, "auth", "invalid username or password"))
		return
	}
	s.p.LoginSucceeded(name)
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
	s.writeToken(w, b, time.Time{})
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

func (s *Server) writeToken(w http.ResponseWriter, b *proxy.Binding, notAfter time.Time) {
	tok, ttl, err := s.issue(b, notAfter)
	if err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "internal", "cannot sign the token"))
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(ttl / time.Second), TenantID: b.Tenant.ID, Role: b.Role.Name})
}

type switchRequest struct {
	TenantID string `json:"tenant_id"`
}

// switchTenant issues a token for another tenant the caller holds; it
// expires when the caller's token does, so switching never extends a
// login's lifetime.
func (s *Server) switchTenant(w http.ResponseWriter, r *http.Request) {
	b, c, ae := s.authenticate(r)
	if ae != nil {
		writeErr(w, ae)
		return
	}
	if ew, ok := w.(*errWriter); ok {
		ew.tenant = b.Tenant.ID
	}
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
	s.writeToken(w, nb, c.ExpiresAt.Time)
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
