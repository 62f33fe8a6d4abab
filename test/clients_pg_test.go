package test

import (
	"fmt"
	"path/filepath"
	"testing"
)

// pgMatrixChecks are the checks every Postgres driver reports.
var pgMatrixChecks = []string{"login_first", "login_second", "connect_probes", "known_answer", "params_reused",
	"rollback", "error_codes", "pool_8_over_3", "types", "streaming", "cancel"}

// seedMatrixPG creates the matrix's tables in a new Postgres database.
func seedMatrixPG(t *testing.T) string {
	t.Helper()
	db := tempPGDatabase(t, "matrix")
	pgExec(t, db,
		"CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL)",
		"INSERT INTO items VALUES (1, 'apple', 1.50), (2, 'banana', 0.25), (3, 'cherry', 3.00)",
		"CREATE TABLE tx (id int PRIMARY KEY, v text)",
		"CREATE TABLE types (id int PRIMARY KEY, i int8, d numeric(20,6), f float8, s text, b bytea, ts timestamptz, dd date, bo bool, n int)",
		"CREATE TABLE big (n int PRIMARY KEY)",
		fmt.Sprintf("INSERT INTO big SELECT g FROM generate_series(1, %d) g", matrixBigRows),
	)
	return db
}

// pgMatrixTargets are a proxy with TLS, one without, and the server
// itself as the control, each on a fresh copy of the matrix data.
func pgMatrixTargets() []namedTarget {
	proxyTarget := func(withTLS bool) func(t *testing.T) matrixTarget {
		return func(t *testing.T) matrixTarget {
			db := seedMatrixPG(t)
			yaml := fmt.Sprintf(`
tenants:
  - {id: shop, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", pool: {size: 3, timeout: 30s}}
users:
  - {name: alice, password: alice-secret, tenants: {shop: admin}}
`, db)
			m := matrixTarget{name: "proxy-no-tls", user: "alice", password: "alice-secret", db: "shop", expectDB: "shop"}
			if withTLS {
				m.tls = newMatrixTLS(t)
				m.name, m.caFile = "proxy", m.tls.caFile
				m.addr = startProxyTLS(t, yaml, m.tls.cfg).PGAddr
			} else {
				m.addr = startProxyTLS(t, yaml, nil).PGAddr
			}
			return m
		}
	}
	direct := func(t *testing.T) matrixTarget {
		db := seedMatrixPG(t)
		return matrixTarget{name: "direct", addr: "127.0.0.1:5432", user: "postgres", db: db, expectDB: db, tlsAny: true}
	}
	return []namedTarget{{"proxy", proxyTarget(true)}, {"proxy-no-tls", proxyTarget(false)}, {"direct", direct}}
}

// runPGMatrix runs one driver's checks against every target.
func runPGMatrix(t *testing.T, name string, args ...string) {
	requirePostgres(t)
	for _, tg := range pgMatrixTargets() {
		t.Run(tg.name, func(t *testing.T) {
			m := tg.start(t)
			want := pgMatrixChecks
			if m.caFile != "" || m.tlsAny {
				want = append(append([]string(nil), want...), "tls")
			}
			t.Logf("target %s (%s)", m.name, m.addr)
			runChecks(t, m.env(fmt.Sprintf("TP_BIG_ROWS=%d", matrixBigRows)), want, name, args...)
			m.checkTLSSeen(t)
		})
	}
}

// TestClientsPsycopg: psycopg 3 (python3-psycopg) with its default settings.
func TestClientsPsycopg(t *testing.T) {
	requirePythonModule(t, "psycopg")
	runPGMatrix(t, debPython, "psycopg_check.py")
}

// TestClientsAsyncpg: asyncpg (python3-asyncpg) with its default settings.
func TestClientsAsyncpg(t *testing.T) {
	requirePythonModule(t, "asyncpg")
	runPGMatrix(t, debPython, "asyncpg_check.py")
}

// TestClientsNodePG: node-postgres (npm pg) with its default settings.
func TestClientsNodePG(t *testing.T) {
	requireNodeModule(t, "pg")
	runPGMatrix(t, "node", filepath.Join("node", "pg_check.js"))
}

// TestClientsPgJDBC: pgJDBC (libpostgresql-jdbc-java) with its default
// settings (its startup parameters include extra_float_digits=3).
func TestClientsPgJDBC(t *testing.T) {
	jar := requireJar(t, "/usr/share/java/postgresql.jar")
	runPGMatrix(t, "java", "-cp", jar, filepath.Join("java", "PgJDBCCheck.java"))
}
