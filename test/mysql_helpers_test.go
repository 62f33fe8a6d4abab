package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/tenantproxy/tenantproxy/pool"
)

// myAdminDSN reaches the local MariaDB as root (empty password).
const myAdminDSN = "root@tcp(127.0.0.1:3306)/"

// requireMySQL skips (or, under CI=true, fails) when MariaDB is down.
func requireMySQL(t testing.TB) {
	t.Helper()
	db, err := sql.Open("mysql", myAdminDSN+"?timeout=3s")
	if err == nil {
		err = db.Ping()
		_ = db.Close()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB is not reachable at 127.0.0.1:3306: %v", err)
		}
		t.Skipf("MariaDB is not reachable: %v", err)
	}
}

// myExec runs statements as root on database db ("" for none).
func myExec(t testing.TB, db string, sqls ...string) {
	t.Helper()
	c, err := sql.Open("mysql", myAdminDSN+db+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range sqls {
		if _, err := c.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// tempMyDatabase creates a MariaDB database with a unique name, dropped
// after the test.
func tempMyDatabase(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("tp_%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
	myExec(t, "", "CREATE DATABASE "+name)
	t.Cleanup(func() { myExec(t, "", "DROP DATABASE IF EXISTS "+name) })
	return name
}

// mysqlTLS returns a throw-away server certificate for the MySQL front end.
func mysqlTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tenantproxy-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}

// myDSN is a go-sql-driver DSN for the proxy's MySQL port.
func (rp *runningProxy) myDSN(user, password, tenant, params string) string {
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s?timeout=5s", user, password, rp.MySQLAddr, tenant)
	if params != "" {
		dsn += "&" + params
	}
	return dsn
}

// myOpen opens a database/sql handle on the proxy's MySQL port.
func (rp *runningProxy) myOpen(t testing.TB, user, password, tenant, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", rp.myDSN(user, password, tenant, params))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// myErr returns the MySQL error number and SQLSTATE of err, or fails.
func myErr(t testing.TB, err error) (uint16, string) {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("want a MySQL error, got %v", err)
	}
	return me.Number, string(me.SQLState[:])
}

// wantMyErr fails unless err is MySQL error code.
func wantMyErr(t testing.TB, err error, code uint16, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: want error %d, got success", what, code)
	}
	got, _ := myErr(t, err)
	if got != code {
		t.Fatalf("%s: want error %d, got %v", what, code, err)
	}
}

// myFixture is two MySQL tenants (alpha, beta) on their own databases with
// different data.
type myFixture struct {
	rp         *runningProxy
	alphaDB    string
	betaDB     string
	alphaItems []string
	betaItems  []string
}

func newMyFixture(t testing.TB, pool, extra string) *myFixture {
	t.Helper()
	requireMySQL(t)
	f := &myFixture{
		alphaItems: []string{"alpha-apple", "alpha-avocado"},
		betaItems:  []string{"beta-banana", "beta-blueberry", "beta-beet"},
	}
	f.alphaDB = tempMyDatabase(t, "myalpha")
	f.betaDB = tempMyDatabase(t, "mybeta")
	seed := func(db string, items []string) {
		q := []string{"CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, secret VARCHAR(100))"}
		for _, it := range items {
			q = append(q, fmt.Sprintf("INSERT INTO items (name, secret) VALUES ('%s', 'secret-of-%s')", it, it))
		}
		myExec(t, db, q...)
	}
	seed(f.alphaDB, f.alphaItems)
	seed(f.betaDB, f.betaItems)
	if pool == "" {
		pool = "{size: 2, timeout: 3s}"
	}
	yaml := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: %s,
     roles: {viewer: {max_rows: 3, masked_columns: [items.secret]}}}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: %s}
users:
  - {name: alice, password: alice-pw, tenants: {alpha: admin, beta: analyst}}
  - {name: bob, password: bob-pw, tenants: {beta: editor}}
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
%s`, f.alphaDB, pool, f.betaDB, pool, extra)
	f.rp = startProxy(t, yaml)
	return f
}

// queryStrings returns the first column of every row of q.
func queryStrings(t testing.TB, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(asString(vals[0])))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func asString(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case nil:
		return "NULL"
	}
	return fmt.Sprint(v)
}

// mariadbCLI runs the mariadb command-line client against the proxy and
// returns its combined output.
func (rp *runningProxy) mariadbCLI(t testing.TB, user, password, tenant string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(rp.MySQLAddr)
	base := []string{"-h", host, "-P", port, "-u", user, "-p" + password, "--protocol=TCP", "-N", "-B"}
	if tenant != "" {
		base = append(base, "-D", tenant)
	}
	return runTool(t, 20*time.Second, nil, "mariadb", append(base, args...)...)
}

func joinLines(s []string) string { return strings.Join(s, "\n") }

// tenantPoolStats returns the pool statistics of tenant id.
func (rp *runningProxy) tenantPoolStats(t testing.TB, id string) pool.Stats {
	t.Helper()
	for _, ts := range rp.Server.Tenants() {
		if ts.ID == id {
			st, _ := ts.PoolStats()
			return st
		}
	}
	t.Fatalf("no tenant %s", id)
	return pool.Stats{}
}
