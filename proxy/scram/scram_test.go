package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// clientExchange plays the client side of RFC 5802 against c.
func clientExchange(t *testing.T, c *Conversation, password string) ([]byte, error) {
	t.Helper()
	clientNonce := "rOprNGfwEbeRWgbNEkqO"
	first := "n,,n=,r=" + clientNonce
	sf, err := c.First([]byte(first))
	if err != nil {
		return nil, err
	}
	var nonce, saltB64 string
	var iters int
	for _, a := range strings.Split(string(sf), ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			saltB64 = a[2:]
		case strings.HasPrefix(a, "i="):
			iters = atoi(a[2:])
		}
	}
	salt, _ := base64.StdEncoding.DecodeString(saltB64)
	salted, _ := pbkdf2.Key(sha256.New, password, salt, iters, 32)
	mac := func(k []byte, m string) []byte { h := hmac.New(sha256.New, k); h.Write([]byte(m)); return h.Sum(nil) }
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	without := "c=" + base64.StdEncoding.EncodeToString([]byte("n,,")) + ",r=" + nonce
	authMsg := "n=,r=" + clientNonce + "," + string(sf) + "," + without
	sig := mac(stored[:], authMsg)
	proof := make([]byte, 32)
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return c.Final([]byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof)))
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestExchange(t *testing.T) {
	v, err := NewVerifier("s3cret", 4096)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseVerifier(v.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clientExchange(t, NewConversation(parsed), "s3cret"); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if _, err := clientExchange(t, NewConversation(parsed), "wrong"); err != ErrAuth {
		t.Fatalf("wrong password: got %v, want ErrAuth", err)
	}
	if !parsed.Check("s3cret") || parsed.Check("nope") {
		t.Fatal("Check disagrees with the verifier")
	}
}

func TestPostgresVerifierFormat(t *testing.T) {
	// A verifier produced by Postgres 15 for password "postgres".
	const pg = "SCRAM-SHA-256$4096:5X+dNwj02Vv+x9EPob3eBg==$xZJ5V27DgnwA6BG+6WxrZ0O/hNMfaszTcVatj+NttIs=:h94mHID4lNdnjolkx3JK9yDO759jM4kydM2V9rT7Esc="
	v, err := ParseVerifier(pg)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Check("postgres") || v.Check("Postgres") {
		t.Fatal("a verifier made by Postgres does not check its password")
	}
	if v.String() != pg {
		t.Fatalf("round trip changed the verifier: %s", v.String())
	}
	for _, bad := range []string{"md5abc", "SCRAM-SHA-256$x:abc$a:b", "SCRAM-SHA-256$4096:abc"} {
		if _, err := ParseVerifier(bad); err == nil {
			t.Errorf("ParseVerifier(%q) accepted a malformed verifier", bad)
		}
	}
}

func TestRejectsChannelBindingAndMalformed(t *testing.T) {
	v, _ := NewVerifier("x", 4096)
	for _, first := range []string{"p=tls-server-end-point,,n=,r=abc", "garbage", "n,a=bob,n=,r=x", "n,,n="} {
		if _, err := NewConversation(v).First([]byte(first)); err == nil {
			t.Errorf("First(%q) accepted", first)
		}
	}
}
