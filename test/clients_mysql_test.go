package test

import (
	"fmt"
	"path/filepath"
	"testing"
)

// matrixBigRows is the size of the table the streaming check reads.
const matrixBigRows = 20000

// mysqlMatrixChecks are the checks every MySQL driver reports.
var mysqlMatrixChecks = []string{"login_first", "login_second", "connect_probes", "known_answer", "params_reused", "rollback",
	"error_codes", "pool_8_over_3", "types", "streaming", "cancel"}

// seedMatrixMySQL creates the matrix's tables in a new MariaDB database.
func seedMatrixMySQL(t *testing.T) string {
	t.Helper()
	db := tempMyDatabase(t, "matrix")
	myExec(t, db,
		"CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10,2) NOT NULL)",
		"INSERT INTO items VALUES (1, 'apple', 1.50), (2, 'banana', 0.25), (3, 'cherry', 3.00)",
		"CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20))",
		"CREATE TABLE types (id INT PRIMARY KEY, i BIGINT, d DECIMAL(20,6), f DOUBLE, s VARCHAR(200) CHARACTER SET utf8mb4, b BLOB, dt DATETIME(6), dd DATE, n INT NULL)",
		"CREATE TABLE big (n INT PRIMARY KEY)",
		fmt.Sprintf("INSERT INTO big SELECT seq FROM seq_1_to_%d", matrixBigRows),
	)
	return db
}

// mysqlMatrixTargets starts a proxy with TLS and one without on a fresh
// copy of the matrix data each, and names the server itself as the control.
func mysqlMatrixTargets(t *testing.T) []namedTarget {
	t.Helper()
	proxyTarget := func(withTLS bool) func(t *testing.T) matrixTarget {
		return func(t *testing.T) matrixTarget {
			db := seedMatrixMySQL(t)
			yaml := fmt.Sprintf(`
tenants:
  - {id: shop, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: {size: 3, timeout: 30s}}
users:
  - {name: alice, password: alice-secret, tenants: {shop: admin}}
`, db)
			name, ca := "proxy-no-tls", ""
			var rp *runningProxy
			var m *matrixTLS
			if withTLS {
				m = newMatrixTLS(t)
				rp = startProxyTLS(t, yaml, m.cfg)
				name, ca = "proxy", m.caFile
			} else {
				rp = startProxyTLS(t, yaml, nil)
			}
			return matrixTarget{name: name, addr: rp.MySQLAddr, user: "alice", password: "alice-secret", db: "shop", expectDB: "shop", caFile: ca, tls: m}
		}
	}
	direct := func(t *testing.T) matrixTarget {
		db := seedMatrixMySQL(t)
		// The local MariaDB has no TLS: the control skips that check.
		return matrixTarget{name: "direct", addr: "127.0.0.1:3306", user: "root", db: db, expectDB: db}
	}
	return []namedTarget{{"proxy", proxyTarget(true)}, {"proxy-no-tls", proxyTarget(false)}, {"direct", direct}}
}

// runMySQLMatrix runs one driver's checks against every target.
func runMySQLMatrix(t *testing.T, name string, args ...string) {
	requireMySQL(t)
	for _, tg := range mysqlMatrixTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			m := tg.start(t)
			want := mysqlMatrixChecks
			if m.caFile != "" {
				want = append(append([]string(nil), want...), "tls")
			}
			t.Logf("target %s (%s)", m.name, m.addr)
			runChecks(t, m.env(fmt.Sprintf("TP_BIG_ROWS=%d", matrixBigRows)), want, name, args...)
			m.checkTLSSeen(t)
		})
	}
}

// TestClientsPyMySQL: PyMySQL (python3-pymysql) with its default settings.
func TestClientsPyMySQL(t *testing.T) {
	requirePythonModule(t, "pymysql")
	runMySQLMatrix(t, debPython, "mysql_check.py", "pymysql")
}

// TestClientsMySQLdb: mysqlclient (python3-mysqldb, on Connector/C).
func TestClientsMySQLdb(t *testing.T) {
	requirePythonModule(t, "MySQLdb")
	runMySQLMatrix(t, debPython, "mysql_check.py", "mysqldb")
}

// TestClientsNodeMySQL2: node's mysql2 (npm) with its default settings.
func TestClientsNodeMySQL2(t *testing.T) {
	requireNodeModule(t, "mysql2")
	runMySQLMatrix(t, "node", filepath.Join("node", "mysql_check.js"))
}

// TestClientsMariaDBConnectorJ: MariaDB Connector/J (libmariadb-java).
func TestClientsMariaDBConnectorJ(t *testing.T) {
	jar := requireJar(t, "/usr/share/java/mariadb-java-client.jar")
	runMySQLMatrix(t, "java", "-cp", jar, filepath.Join("java", "MariaDBCheck.java"))
}
