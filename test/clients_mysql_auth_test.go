package test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/scram"
)

// authFixture is a proxy (with or without TLS) over one MySQL tenant and
// users that have not logged in yet.
type authFixture struct {
	rp  *runningProxy
	tls *matrixTLS
}

func newAuthFixture(t *testing.T, withTLS bool) *authFixture {
	t.Helper()
	requireMySQL(t)
	db := tempMyDatabase(t, "auth")
	myExec(t, db, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))", "INSERT INTO items VALUES (1, 'apple'), (2, 'banana')")
	var users strings.Builder
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina"} {
		fmt.Fprintf(&users, "  - {name: %s, password: %s-secret, tenants: {shop: analyst}}\n", u, u)
	}
	// sam has only a SCRAM verifier in the config.
	v, err := scram.NewVerifier("sam-secret", 4096)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&users, "  - {name: sam, password: %q, tenants: {shop: analyst}}\n", v.String())
	yaml := fmt.Sprintf("tenants:\n  - {id: shop, engine: mysql, dsn: \"root@tcp(127.0.0.1:3306)/%s\"}\nusers:\n%s", db, users.String())
	f := &authFixture{}
	if withTLS {
		f.tls = newMatrixTLS(t)
		f.rp = startProxyTLS(t, yaml, f.tls.cfg)
	} else {
		f.rp = startProxyTLS(t, yaml, nil)
	}
	return f
}

// cli runs the stock mariadb client with its default settings plus args.
func (f *authFixture) cli(t *testing.T, user, password string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(f.rp.MySQLAddr)
	base := []string{"--no-defaults", "-h", host, "-P", port, "-u", user, "-p" + password, "-N", "-B"}
	base = append(base, args...)
	return runTool(t, 20*time.Second, nil, "mariadb", append(base, "shop", "-e", "SELECT COUNT(*) FROM items")...)
}

func (f *authFixture) wantCLI(t *testing.T, what, user, password string, args ...string) {
	t.Helper()
	out, err := f.cli(t, user, password, args...)
	if err != nil || out != "2\n" {
		t.Fatalf("%s: mariadb %v: %v %q", what, args, err, out)
	}
}

func (f *authFixture) wantCLIError(t *testing.T, what, want, user, password string, args ...string) {
	t.Helper()
	out, err := f.cli(t, user, password, args...)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("%s: mariadb %v: %v %q, want %q", what, args, err, out, want)
	}
}

// TestClientsMySQLAuthStockClients logs in with stock clients and their
// default settings, the first login of each user and the next one, with
// and without TLS configured on the proxy.
func TestClientsMySQLAuthStockClients(t *testing.T) {
	requireTool(t, "mariadb")
	for _, withTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-tls", true: "tls"}[withTLS], func(t *testing.T) {
			f := newAuthFixture(t, withTLS)
			// The mariadb CLI: ssl is on by default, no --skip-ssl.
			f.wantCLI(t, "first login", "alice", "alice-secret")
			f.wantCLI(t, "second login", "alice", "alice-secret")
			f.wantCLIError(t, "wrong password", "ERROR 1045 (28000): Access denied for user 'alice' (using password: YES)", "alice", "nope")
			f.wantCLI(t, "native, first login", "bob", "bob-secret", "--default-auth=mysql_native_password")
			f.wantCLI(t, "native, second login", "bob", "bob-secret", "--default-auth=mysql_native_password")
			f.wantCLIError(t, "native, wrong password", "(using password: YES)", "bob", "nope", "--default-auth=mysql_native_password")
			// Plugins the proxy does not speak are switched to native.
			f.wantCLI(t, "ed25519 client", "bob", "bob-secret", "--default-auth=client_ed25519")
			// A user with only a SCRAM verifier: over TLS the proxy asks for
			// the password itself (caching_sha2_password full authentication);
			// without TLS it says why it cannot check it.
			if withTLS {
				f.wantCLI(t, "SCRAM-only user over TLS", "sam", "sam-secret")
				f.wantCLIError(t, "SCRAM-only user, wrong password", "(using password: YES)", "sam", "nope")
			} else {
				f.wantCLIError(t, "SCRAM-only user without TLS", "SCRAM-SHA-256 verifier", "sam", "sam-secret")
			}
			if withTLS && f.tls.handshakes.Load() == 0 {
				t.Fatal("the mariadb CLI did not use the proxy's TLS")
			}
			// go-sql-driver with its default settings (no TLS).
			for i := range 2 {
				db, err := sql.Open("mysql", f.rp.myDSN("carol", "carol-secret", "shop", ""))
				if err != nil {
					t.Fatal(err)
				}
				var n int
				err = db.QueryRow("SELECT COUNT(*) FROM items").Scan(&n)
				db.Close()
				if err != nil || n != 2 {
					t.Fatalf("go-sql-driver login %d: %v %d", i+1, err, n)
				}
			}
			if withTLS {
				db, err := sql.Open("mysql", f.rp.myDSN("carol", "carol-secret", "shop", "tls=skip-verify"))
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Ping(); err != nil {
					t.Fatalf("go-sql-driver over TLS: %v", err)
				}
				db.Close()
			}
		})
	}
}

// TestClientsMySQLAuthCachingSHA2 runs caching_sha2_password as a client
// that prefers it does: full authentication over plain TCP through the RSA
// exchange (the key asked for, or a configured key file), then the fast
// path; over TLS the password itself. A client that sends its password in
// clear without TLS gets the error a server sends, not "access denied".
func TestClientsMySQLAuthCachingSHA2(t *testing.T) {
	requireTool(t, "mariadb")
	sha2 := "--default-auth=caching_sha2_password"
	t.Run("no-tls", func(t *testing.T) {
		f := newAuthFixture(t, false)
		// RSA with the key requested from the proxy.
		f.wantCLI(t, "full authentication", "alice", "alice-secret", "--skip-ssl", sha2)
		f.wantCLI(t, "fast path", "alice", "alice-secret", "--skip-ssl", sha2)
		f.wantCLI(t, "fast path with ssl on", "alice", "alice-secret", sha2)
		f.wantCLIError(t, "wrong password", "ERROR 1045 (28000): Access denied for user 'alice' (using password: YES)", "alice", "nope", "--skip-ssl", sha2)
		// Connector/C with ssl on believes the connection secure and sends
		// the password in clear at full authentication.
		f.wantCLIError(t, "clear text without TLS", "ERROR 1251 (08004): Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection", "bob", "bob-secret", sha2)
		f.wantCLIError(t, "clear text without TLS, wrong password", "ERROR 1251", "bob", "nope", sha2)
		// go-sql-driver with an unknown user.
		db, _ := sql.Open("mysql", f.rp.myDSN("nobody", "x", "shop", ""))
		err := db.Ping()
		db.Close()
		wantMyErr(t, err, 1045, "unknown user")
	})
	t.Run("tls", func(t *testing.T) {
		f := newAuthFixture(t, true)
		f.wantCLI(t, "full authentication over TLS", "alice", "alice-secret", sha2)
		f.wantCLI(t, "fast path over TLS", "alice", "alice-secret", sha2)
		f.wantCLI(t, "RSA with the TLS certificate's key", "bob", "bob-secret", "--skip-ssl", sha2)
		// A configured server key file (Connector/C's server-public-key,
		// read by mysqlclient from an option file): encrypted with it, no
		// key requested.
		requirePythonModule(t, "MySQLdb")
		host, port, _ := net.SplitHostPort(f.rp.MySQLAddr)
		login := func(user, pw, keyFile string) (string, error) {
			cnf := filepath.Join(t.TempDir(), "client.cnf")
			body := fmt.Sprintf("[client]\ndefault-auth=caching_sha2_password\nserver-public-key=%s\nssl=0\n", keyFile)
			if err := os.WriteFile(cnf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			script := fmt.Sprintf(`import MySQLdb
c = MySQLdb.connect(host=%q, port=%s, user=%q, password=%q, database="shop", read_default_file=%q, read_default_group="client")
cur = c.cursor(); cur.execute("SELECT COUNT(*) FROM items"); print(cur.fetchone()[0])`, host, port, user, pw, cnf)
			return runTool(t, 20*time.Second, nil, debPython, "-c", script)
		}
		if out, err := login("carol", "carol-secret", f.tls.pubFile); err != nil || out != "2\n" {
			t.Fatalf("configured key file: %v %q", err, out)
		}
		// The same login with the key of another server fails: the file
		// was really used.
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
		otherFile := filepath.Join(t.TempDir(), "other.pem")
		_ = os.WriteFile(otherFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
		if out, err := login("dave", "dave-secret", otherFile); err == nil || !strings.Contains(out, "1045") {
			t.Fatalf("another server's key: %v %q, want 1045", err, out)
		}
		if out, err := login("dave", "dave-secret", f.tls.pubFile); err != nil || out != "2\n" {
			t.Fatalf("configured key file after a failure: %v %q", err, out)
		}
	})
}
