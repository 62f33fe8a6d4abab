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

// TestPGTLSBackend: a tenant whose backend DSN asks for TLS is served over
// TLS connections to Postgres, for small answers and a large one, through
// the production binary. The control: no connection to the tenant's
// database uses TLS before the proxy opens its own.
func TestPGTLSBackend(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "tlsbackend")
	pgExec(t, db, "CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 200000) g")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	tlsBackends := func() int {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND s.ssl", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tlsBackends(); n != 0 {
		t.Fatalf("before the proxy, %d TLS connections to %s", n, db)
	}
	pp := startProxyProcess(t, fmt.Sprintf(`
tenants: [{id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=require", pool: {size: 2}}]
users: [{name: alice, password: pw, tenants: {alpha: admin}}]
`, db))
	c, err := pgx.Connect(ctx, pp.url("alice", "pw", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for i := 1; i <= 50; i++ {
		var id int
		if err := c.QueryRow(ctx, "SELECT id FROM t WHERE id = $1", i*1000).Scan(&id); err != nil || id != i*1000 {
			t.Fatalf("point select %d over a TLS backend: %d, %v", i, id, err)
		}
	}
	rows, err := c.Query(ctx, "SELECT id, pad FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n, sum := 0, 0
	for rows.Next() {
		var id int
		var pad string
		if err := rows.Scan(&id, &pad); err != nil {
			t.Fatal(err)
		}
		if len(pad) != 200 {
			t.Fatalf("row %d: pad of %d bytes", id, len(pad))
		}
		n++
		sum += id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 200000 || sum != 200000*200001/2 {
		t.Fatalf("large result over a TLS backend: %d rows, id sum %d", n, sum)
	}
	if got := tlsBackends(); got == 0 {
		t.Fatal("the proxy's backend connections do not use TLS")
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
