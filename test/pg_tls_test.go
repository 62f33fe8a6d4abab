package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// writeSelfSignedCert writes a certificate and key for 127.0.0.1 and returns their paths.
func writeSelfSignedCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "tenantproxy-pg-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestPGTLS(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "tls")
	cert, key := writeSelfSignedCert(t)
	pp := startProxyProcess(t, fmt.Sprintf(`
tls: {cert_file: %q, key_file: %q}
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}]
users: [{name: alice, password: pw, tenants: {alpha: admin}}]
`, cert, key, db))
	ctx := context.Background()
	url := strings.Replace(pp.url("alice", "pw", "alpha"), "sslmode=disable", "sslmode=require", 1)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer c.Close(ctx)
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query over TLS: %v", err)
	}
	if _, isTLS := c.PgConn().Conn().(interface{ Handshake() error }); !isTLS {
		t.Fatal("connection is not TLS")
	}
	// psql negotiates TLS too.
	if psql, err := lookPath("psql"); err == nil {
		host, port, _ := net.SplitHostPort(pp.pgAddr)
		out, err := runTool(t, 20*time.Second, []string{"PGPASSWORD=pw", "PGSSLMODE=require"}, psql, "-X", "-h", host, "-p", port, "-U", "alice", "-d", "alpha", "-Atc", "SELECT 'over-tls'")
		if err != nil || !strings.Contains(out, "over-tls") {
			t.Fatalf("psql over TLS: %v\n%s", err, out)
		}
	}
}

func TestPGSSLRefusedWithoutTLS(t *testing.T) {
	f := newPGFixture(t, "", "")
	ctx := context.Background()
	url := strings.Replace(f.rp.pgURL("alice", "alice-pw", "alpha"), "sslmode=disable", "sslmode=require", 1)
	if c, err := pgx.Connect(ctx, url); err == nil {
		c.Close(ctx)
		t.Fatal("sslmode=require succeeded against a proxy without TLS")
	}
	// sslmode=prefer falls back to plain after the proxy's 'N'.
	url = strings.Replace(f.rp.pgURL("alice", "alice-pw", "alpha"), "sslmode=disable", "sslmode=prefer", 1)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("sslmode=prefer: %v", err)
	}
	c.Close(ctx)
}
