// Package scram implements the server side of SCRAM-SHA-256 (RFC 5802, RFC
// 7677) as Postgres uses it, and the Postgres verifier format
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>".
//
// Passwords are used as given (no SASLprep): ASCII passwords, the common
// case, behave exactly as in Postgres.
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Mechanism is the SASL mechanism name.
const Mechanism = "SCRAM-SHA-256"

// DefaultIterations is the PBKDF2 iteration count of new verifiers (Postgres' default).
const DefaultIterations = 4096

// Verifier is what the proxy stores instead of a password.
type Verifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// NewVerifier derives a verifier from password with a random salt.
func NewVerifier(password string, iterations int) (Verifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Verifier{}, err
	}
	return derive(password, salt, iterations)
}

// NewVerifierWithSalt derives a verifier from password with the given salt
// (the same password and salt give the same verifier).
func NewVerifierWithSalt(password string, salt []byte, iterations int) (Verifier, error) {
	return derive(password, append([]byte(nil), salt...), iterations)
}

func derive(password string, salt []byte, iterations int) (Verifier, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return Verifier{}, err
	}
	clientKey := hmacSum(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return Verifier{
		Iterations: iterations,
		Salt:       salt,
		StoredKey:  stored[:],
		ServerKey:  hmacSum(salted, "Server Key"),
	}, nil
}

// IsVerifier reports whether s looks like a stored SCRAM verifier.
func IsVerifier(s string) bool { return strings.HasPrefix(s, Mechanism+"$") }

// ParseVerifier parses the Postgres verifier format.
func ParseVerifier(s string) (Verifier, error) {
	rest, ok := strings.CutPrefix(s, Mechanism+"$")
	if !ok {
		return Verifier{}, errors.New("not a SCRAM-SHA-256 verifier")
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return Verifier{}, errors.New("verifier lacks the keys part")
	}
	iterS, saltS, ok := strings.Cut(iterSalt, ":")
	if !ok {
		return Verifier{}, errors.New("verifier lacks iterations:salt")
	}
	storedS, serverS, ok := strings.Cut(keys, ":")
	if !ok {
		return Verifier{}, errors.New("verifier lacks StoredKey:ServerKey")
	}
	var v Verifier
	var err error
	if v.Iterations, err = strconv.Atoi(iterS); err != nil || v.Iterations < 1 {
		return Verifier{}, fmt.Errorf("bad iteration count %q", iterS)
	}
	if v.Salt, err = base64.StdEncoding.DecodeString(saltS); err != nil {
		return Verifier{}, fmt.Errorf("bad salt: %w", err)
	}
	if v.StoredKey, err = base64.StdEncoding.DecodeString(storedS); err != nil || len(v.StoredKey) != sha256.Size {
		return Verifier{}, errors.New("bad StoredKey")
	}
	if v.ServerKey, err = base64.StdEncoding.DecodeString(serverS); err != nil || len(v.ServerKey) != sha256.Size {
		return Verifier{}, errors.New("bad ServerKey")
	}
	return v, nil
}

// String returns the verifier in the Postgres format.
func (v Verifier) String() string {
	b := base64.StdEncoding
	return fmt.Sprintf("%s$%d:%s$%s:%s", Mechanism, v.Iterations,
		b.EncodeToString(v.Salt), b.EncodeToString(v.StoredKey), b.EncodeToString(v.ServerKey))
}

// Check reports whether password matches the verifier (for cleartext logins).
func (v Verifier) Check(password string) bool {
	w, err := derive(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(w.StoredKey, v.StoredKey) == 1
}

// ErrAuth is returned when the client's proof does not match.
var ErrAuth = errors.New("scram: authentication failed")

// Conversation is one server-side SCRAM exchange.
type Conversation struct {
	v               Verifier
	clientFirstBare string
	serverFirst     string
	nonce           string
	gs2             string
}

// NewConversation starts an exchange against v.
func NewConversation(v Verifier) *Conversation { return &Conversation{v: v} }

// First takes the client-first-message and returns the server-first-message.
func (c *Conversation) First(clientFirst []byte) ([]byte, error) {
	msg := string(clientFirst)
	// gs2-header: cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, errors.New("scram: malformed client-first-message")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, errors.New("scram: channel binding is not supported")
	default:
		return nil, errors.New("scram: malformed gs2 header")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok || authzid != "" {
		return nil, errors.New("scram: authorization identities are not supported")
	}
	c.gs2 = flag + "," + authzid + ","
	c.clientFirstBare = bare
	var clientNonce string
	for _, attr := range strings.Split(bare, ",") {
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			clientNonce = v
		}
		if strings.HasPrefix(attr, "m=") {
			return nil, errors.New("scram: extensions are not supported")
		}
	}
	if clientNonce == "" {
		return nil, errors.New("scram: client nonce missing")
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	c.nonce = clientNonce + base64.StdEncoding.EncodeToString(raw)
	c.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", c.nonce, base64.StdEncoding.EncodeToString(c.v.Salt), c.v.Iterations)
	return []byte(c.serverFirst), nil
}

// Final takes the client-final-message, checks the proof and returns the
// server-final-message. A wrong proof returns ErrAuth.
func (c *Conversation) Final(clientFinal []byte) ([]byte, error) {
	msg := string(clientFinal)
	idx := strings.LastIndex(msg, ",p=")
	if idx < 0 {
		return nil, errors.New("scram: proof missing")
	}
	withoutProof := msg[:idx]
	proof, err := base64.StdEncoding.DecodeString(msg[idx+3:])
	if err != nil || len(proof) != sha256.Size {
		return nil, errors.New("scram: malformed proof")
	}
	var cbind, nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		if v, ok := strings.CutPrefix(attr, "c="); ok {
			cbind = v
		}
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			nonce = v
		}
	}
	if cbind != base64.StdEncoding.EncodeToString([]byte(c.gs2)) {
		return nil, errors.New("scram: channel binding data does not match")
	}
	if nonce != c.nonce {
		return nil, errors.New("scram: nonce does not match")
	}
	authMsg := c.clientFirstBare + "," + c.serverFirst + "," + withoutProof
	sig := hmacSum(c.v.StoredKey, authMsg)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], c.v.StoredKey) != 1 {
		return nil, ErrAuth
	}
	serverSig := hmacSum(c.v.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}

func hmacSum(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
