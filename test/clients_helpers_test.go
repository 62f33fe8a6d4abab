package test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/wire/pg"

	mysqlwire "github.com/tenantproxy/tenantproxy/wire/mysql"
)

// clientsDir is the client matrix's folder (scripts, install script, Node
// modules).
func clientsDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "clients")
}

// requireMatrixTool is requireTool for the matrix: a missing driver or
// runtime skips, or under CI=true fails, naming the install script.
func requireMatrixTool(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (run test/clients/install.sh)", what)
	}
	t.Skipf("%s is not installed (run test/clients/install.sh)", what)
}

// debPython is Debian's interpreter, which sees the python3-* packages.
const debPython = "/usr/bin/python3"

// requirePythonModule checks that Debian's python3 imports module.
func requirePythonModule(t testing.TB, module string) {
	t.Helper()
	err := exec.Command(debPython, "-c", "import "+module).Run()
	requireMatrixTool(t, "python module "+module, err == nil)
}

// requireNodeModule checks that node and the module are installed.
func requireNodeModule(t testing.TB, module string) {
	t.Helper()
	_, err := exec.LookPath("node")
	requireMatrixTool(t, "node", err == nil)
	_, err = os.Stat(filepath.Join(clientsDir(t), "node", "node_modules", module, "package.json"))
	requireMatrixTool(t, "npm module "+module, err == nil)
}

// requireJar returns the first of paths that exists, and checks java.
func requireJar(t testing.TB, paths ...string) string {
	t.Helper()
	_, err := exec.LookPath("java")
	requireMatrixTool(t, "java", err == nil)
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	requireMatrixTool(t, strings.Join(paths, " or "), false)
	return ""
}

// matrixTLS is an RSA server certificate for 127.0.0.1 (RSA so that its key
// also serves caching_sha2_password's RSA exchange), with its certificate
// and public key written to files for clients.
type matrixTLS struct {
	cfg     *tls.Config
	caFile  string // the certificate, PEM: clients verify the proxy with it
	pubFile string // the public key, PEM: a client's configured server key

	handshakes atomic.Int64 // TLS handshakes the proxy began
}

func newMatrixTLS(t testing.TB) *matrixTLS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &matrixTLS{
		cfg: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			MinVersion:   tls.VersionTLS12,
		},
		caFile:  filepath.Join(dir, "proxy-ca.pem"),
		pubFile: filepath.Join(dir, "proxy-public-key.pem"),
	}
	m.cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m.handshakes.Add(1)
		return nil, nil
	}
	if err := os.WriteFile(m.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// startProxyTLS is startProxy with the given TLS configuration (nil: no
// TLS) on both wire front ends.
func startProxyTLS(t testing.TB, yaml string, tlsCfg *tls.Config) *runningProxy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml = "listen: {postgres: \"127.0.0.1:0\", mysql: \"127.0.0.1:0\", admin: \"\"}\n" + yaml
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TP_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewRegistry()
	p, err := proxy.New(cfg.Proxy, policy.NewEngine(10000), proxy.NewMetrics(reg), log)
	if err != nil {
		t.Fatal(err)
	}
	pgl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	myl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pgSrv := pg.New(p, tlsCfg, log)
	go func() { _ = pgSrv.Serve(pgl) }()
	mySrv := mysqlwire.New(p, tlsCfg, log)
	go func() { _ = mySrv.Serve(myl) }()
	rp := &runningProxy{PGAddr: pgl.Addr().String(), MySQLAddr: myl.Addr().String(), Server: p, Registry: reg}
	rp.stop = func() {
		_ = pgl.Close()
		_ = myl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		pgSrv.Wait()
		mySrv.Wait()
	}
	t.Cleanup(rp.stop)
	return rp
}

// matrixTarget is where one run of a driver's checks connects.
type matrixTarget struct {
	name     string // "proxy", "proxy-no-tls" or "direct"
	addr     string
	user     string
	password string
	db       string // database name the client gives
	expectDB string // what the database/current-database functions answer
	caFile   string // "" when the target has no TLS
	tlsAny   bool   // TLS without a CA to verify with (the servers' own certificates)
	tls      *matrixTLS
}

// checkTLSSeen fails unless the proxy began a TLS handshake: a driver's
// TLS check must not pass over plain TCP.
func (m matrixTarget) checkTLSSeen(t *testing.T) {
	t.Helper()
	if m.tls == nil {
		return
	}
	t.Run("tls_handshake_seen", func(t *testing.T) {
		if m.tls.handshakes.Load() == 0 {
			t.Fatal("the driver's TLS check passed but the proxy saw no TLS handshake")
		}
	})
}

// namedTarget starts (or names) a target inside its subtest.
type namedTarget struct {
	name  string
	start func(t *testing.T) matrixTarget
}

// env is the TP_* environment the check scripts read.
func (m matrixTarget) env(extra ...string) []string {
	host, port, _ := net.SplitHostPort(m.addr)
	e := []string{"TP_HOST=" + host, "TP_PORT=" + port, "TP_USER=" + m.user, "TP_PASSWORD=" + m.password,
		"TP_DB=" + m.db, "TP_EXPECT_DB=" + m.expectDB, "TP_TLS_CA=" + m.caFile}
	if m.caFile != "" || m.tlsAny {
		e = append(e, "TP_TLS=1")
	}
	return append(e, extra...)
}

// runChecks runs a check script and reports each of its PASS/FAIL lines as
// a subtest; every name in want must have been reported.
func runChecks(t *testing.T, env []string, want []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = clientsDir(t)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	seen := map[string]string{}
	var other []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "PASS "):
			seen[strings.TrimPrefix(line, "PASS ")] = ""
		case strings.HasPrefix(line, "FAIL "):
			n, why, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ": ")
			seen[n] = why
		default:
			other = append(other, line)
		}
	}
	for _, n := range want {
		t.Run(n, func(t *testing.T) {
			why, ok := seen[n]
			switch {
			case !ok:
				t.Fatalf("check not reported (exit %v); output:\n%s", err, strings.Join(other, "\n"))
			case why != "":
				t.Fatal(why)
			}
		})
	}
	if err != nil && len(seen) < len(want) {
		t.Logf("%s exited with %v:\n%s", name, err, strings.Join(other, "\n"))
	}
}
