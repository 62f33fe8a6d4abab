package test

// The MySQL half of the adversarial isolation suite: testdata/adversarial/
// mysql.txt, same format and oracle as the Postgres half (see
// adversarial_pg_test.go), run through the proxy's MySQL front end with
// go-sql-driver/mysql (interpolateParams=false, multiStatements=true).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// advMyUsers: user -> tenant -> role. Passwords are user + "-pw".
var advMyUsers = map[string]map[string]string{
	"aa": {"alpha": "admin"},
	"an": {"alpha": "analyst"},
	"av": {"alpha": "viewer"},
	"ar": {"alpha": "restricted"},
	"ae": {"alpha": "editor"},
	"sw": {"alpha": "viewer", "beta": "admin"},
	"ba": {"beta": "admin"},
	"sa": {"shop_a": "admin"},
	"se": {"shop_a": "editor"},
	"sb": {"shop_b": "admin"},
	"so": {"shop_owner": "admin"},
}

// myRefused are the MySQL error numbers of the proxy's policy refusals.
var myRefused = map[string]bool{"1044": true, "1142": true, "1227": true, "1064": true, "1235": true, "1046": true}

type advMy struct {
	rp                     *runningProxy
	alphaDB, betaDB, rowDB string
	oracle                 *advOracle
	su                     *sql.DB
	vars                   map[string]string
	checks                 map[string][]string // tenant -> checksum queries
	tenantDB               map[string]string
	seedFns                map[string]func(t *testing.T)
}

func newAdvMy(t *testing.T) *advMy {
	t.Helper()
	requireMySQL(t)
	f := &advMy{seedFns: map[string]func(t *testing.T){}}
	f.alphaDB = tempMyDatabase(t, "advmy_alpha")
	f.betaDB = tempMyDatabase(t, "advmy_beta")
	f.rowDB = tempMyDatabase(t, "advmy_row")
	f.vars = map[string]string{"alpha_db": f.alphaDB, "beta_db": f.betaDB, "row_db": f.rowDB,
		"BETA_DB": strings.ToUpper(f.betaDB)}

	o := &advOracle{tenantMarkers: map[string][]string{}, held: map[string][]string{}, hidden: map[string][]string{}}
	for _, tn := range []string{"alpha", "beta"} {
		o.tenantMarkers[tn] = append(append(advMarkersFor(tn, 5, "SECRET"), advEmails(tn, 5)...), "DENIED-"+tn+"-1")
	}
	for _, tn := range []string{"shop_a", "shop_b"} {
		o.tenantMarkers[tn] = append(append(advMarkersFor(tn, 5, "SECRET"), advEmails(tn, 3)...), "LATE-"+tn+"-1", "PROXY-"+tn+"-1")
	}
	for u, ts := range advMyUsers {
		for tn, role := range ts {
			o.held[u] = append(o.held[u], tn)
			switch role {
			case "viewer":
				o.hidden[u] = append(o.hidden[u], advEmails(tn, 5)...)
			case "restricted":
				o.hidden[u] = append(o.hidden[u], "DENIED-"+tn+"-1")
			}
		}
	}
	f.oracle = o

	f.seedFns[f.alphaDB] = func(t *testing.T) { f.seedDatabase(t, f.alphaDB, "alpha") }
	f.seedFns[f.betaDB] = func(t *testing.T) { f.seedDatabase(t, f.betaDB, "beta") }
	f.seedFns[f.rowDB] = func(t *testing.T) { f.seedRows(t) }
	for _, fn := range f.seedFns {
		fn(t)
	}
	f.tenantDB = map[string]string{"alpha": f.alphaDB, "beta": f.betaDB, "shop_a": f.rowDB, "shop_b": f.rowDB}
	f.checks = map[string][]string{}
	for _, tn := range []string{"alpha", "beta"} {
		db := f.tenantDB[tn]
		f.checks[tn] = []string{
			"SELECT CONCAT(COUNT(*), ':', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(',', id, name, secret, email) ORDER BY id SEPARATOR '|')), '')) FROM `" + db + "`.items",
			"SELECT CONCAT(COUNT(*), ':', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(',', id, who, note) ORDER BY id SEPARATOR '|')), '')) FROM `" + db + "`.payroll",
		}
	}
	for tn, v := range map[string]string{"shop_a": "a", "shop_b": "b"} {
		f.checks[tn] = []string{
			"SELECT CONCAT(COUNT(*), ':', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(',', id, tenant_id, note) ORDER BY id SEPARATOR '|')), '')) FROM `" + f.rowDB + "`.orders WHERE tenant_id = '" + v + "'",
			"SELECT CONCAT(COUNT(*), ':', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(',', id, tenant_id, email) ORDER BY id SEPARATOR '|')), '')) FROM `" + f.rowDB + "`.customers WHERE tenant_id = '" + v + "'",
		}
		for _, tb := range []string{"late_direct", "late_proxy"} {
			f.checks[tn] = append(f.checks[tn], "SELECT CONCAT(COUNT(*), ':', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS(',', id, tenant_id, secret) ORDER BY id SEPARATOR '|')), '')) FROM `"+f.rowDB+"`."+tb+" WHERE tenant_id = '"+v+"'")
		}
	}
	su, err := sql.Open("mysql", myAdminDSN+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = su.Close() })
	f.su = su

	pool := "{size: 3, timeout: 5s}"
	var users strings.Builder
	for _, u := range advSortedUsers(advMyUsers) {
		var ts []string
		for tn, role := range advMyUsers[u] {
			ts = append(ts, tn+": "+role)
		}
		sort.Strings(ts)
		fmt.Fprintf(&users, "  - {name: %s, password: %s-pw, tenants: {%s}}\n", u, u, strings.Join(ts, ", "))
	}
	yaml := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: %s,
     roles: {viewer: {max_rows: 3, masked_columns: [items.email]},
             restricted: {access: read, denied_tables: [payroll]}}}
  - {id: beta, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: %s}
  - {id: shop_a, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", isolation: row, tenant_column: tenant_id,
     tenant_value: a, pool: %s}
  - {id: shop_b, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", isolation: row, tenant_column: tenant_id,
     tenant_value: b, pool: %s}
  - {id: shop_owner, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", pool: %s}
users:
%s`, f.alphaDB, pool, f.betaDB, pool, f.rowDB, pool, f.rowDB, pool, f.rowDB, pool, users.String())
	f.rp = startProxy(t, yaml)
	f.lateTables(t)
	return f
}

// lateTables creates tenant tables after the row tenants' catalogs were
// read (the config lists no tenant_tables): late_direct straight on the
// backend, late_proxy by shop_owner's admin through the proxy.
func (f *advMy) lateTables(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for u, tn := range map[string]string{"sa": "shop_a", "sb": "shop_b"} {
		db := f.rp.myOpen(t, u, u+"-pw", tn, "")
		if _, err := db.ExecContext(ctx, "SELECT COUNT(*) FROM orders"); err != nil {
			t.Fatal(err)
		}
	}
	create := "CREATE TABLE %s (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL, secret VARCHAR(100))"
	fill := "INSERT INTO %s VALUES (1, 'a', '%s-shop_a-1'), (101, 'b', '%s-shop_b-1')"
	myExec(t, f.rowDB, fmt.Sprintf(create, "late_direct"), fmt.Sprintf(fill, "late_direct", "LATE", "LATE"))
	so := f.rp.myOpen(t, "so", "so-pw", "shop_owner", "")
	for _, q := range []string{fmt.Sprintf(create, "late_proxy"), fmt.Sprintf(fill, "late_proxy", "PROXY", "PROXY")} {
		if _, err := so.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *advMy) seedDatabase(t *testing.T, db, tn string) {
	t.Helper()
	q := []string{
		"DROP TABLE IF EXISTS items, payroll",
		"CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, secret VARCHAR(100), email VARCHAR(100))",
		"CREATE TABLE payroll (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(100), note VARCHAR(100))",
		fmt.Sprintf("INSERT INTO payroll (who, note) VALUES ('boss', 'DENIED-%s-1')", tn),
	}
	for i := 1; i <= 5; i++ {
		q = append(q, fmt.Sprintf("INSERT INTO items (name, secret, email) VALUES ('%s-item-%d', 'SECRET-%s-%d', 'mask-%s-%d@x')", tn, i, tn, i, tn, i))
	}
	myExec(t, db, q...)
}

func (f *advMy) seedRows(t *testing.T) {
	t.Helper()
	q := []string{
		"DROP TABLE IF EXISTS orders, customers, plans",
		"CREATE TABLE orders (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL, note VARCHAR(100))",
		"CREATE TABLE customers (id INT PRIMARY KEY, tenant_id VARCHAR(10) NOT NULL, email VARCHAR(100))",
		"CREATE TABLE plans (id INT PRIMARY KEY, name VARCHAR(100))",
		"INSERT INTO plans VALUES (1, 'basic')",
	}
	for tn, v := range map[string]string{"shop_a": "a", "shop_b": "b"} {
		base := 0
		if v == "b" {
			base = 100
		}
		for i := 1; i <= 5; i++ {
			q = append(q, fmt.Sprintf("INSERT INTO orders VALUES (%d, '%s', 'SECRET-%s-%d')", base+i, v, tn, i))
		}
		for i := 1; i <= 3; i++ {
			q = append(q, fmt.Sprintf("INSERT INTO customers VALUES (%d, '%s', 'mask-%s-%d@x')", base+i, v, tn, i))
		}
	}
	myExec(t, f.rowDB, q...)
}

func (f *advMy) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for tn, qs := range f.checks {
		var b strings.Builder
		for _, q := range qs {
			var s string
			if err := f.su.QueryRow(q).Scan(&s); err != nil {
				s = "ERROR " + err.Error()
			}
			b.WriteString(s + "; ")
		}
		out[tn] = b.String()
	}
	return out
}

// myConn is one client connection of a case.
type myConn struct {
	db *sql.DB
	c  *sql.Conn
}

func (f *advMy) conn(ctx context.Context, st advStep, conns map[string]*myConn) (*myConn, error) {
	key := st.user + "@" + st.db
	if c, ok := conns[key]; ok {
		return c, nil
	}
	db, err := sql.Open("mysql", f.rp.myDSN(st.user, st.user+"-pw", st.db, "multiStatements=true&interpolateParams=false"))
	if err != nil {
		return nil, err
	}
	c, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	mc := &myConn{db: db, c: c}
	conns[key] = mc
	return mc, nil
}

func myErrText(err error) (string, string) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return strconv.Itoa(int(me.Number)), fmt.Sprintf("ERROR %d (%s): %s", me.Number, string(me.SQLState[:]), me.Message)
	}
	return "", "ERROR " + err.Error()
}

// readRows appends every result set of rows to o.
func readRows(o *advOutcome, rows *sql.Rows) error {
	defer rows.Close()
	for {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		o.out.WriteString(strings.Join(cols, "\t") + "\n")
		n := 0
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			for _, v := range vals {
				o.out.Write(v)
				o.out.WriteByte('\t')
			}
			o.out.WriteByte('\n')
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(cols) > 0 {
			o.lastRows = n
			if n > o.maxRows {
				o.maxRows = n
			}
		}
		if !rows.NextResultSet() {
			return rows.Err()
		}
	}
}

func (f *advMy) runStep(st advStep, conns map[string]*myConn) *advOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	o := &advOutcome{}
	c, err := f.conn(ctx, st, conns)
	if err == nil {
		switch st.args["mode"] {
		case "", "query":
			var rows *sql.Rows
			rows, err = c.c.QueryContext(ctx, st.sql)
			if err == nil {
				err = readRows(o, rows)
			}
		case "exec":
			var res sql.Result
			res, err = c.c.ExecContext(ctx, st.sql)
			if err == nil {
				n, _ := res.RowsAffected()
				fmt.Fprintf(&o.out, "affected %d\n", n)
			}
		case "prepared":
			var ps *sql.Stmt
			ps, err = c.c.PrepareContext(ctx, st.sql)
			if err == nil {
				var rows *sql.Rows
				rows, err = ps.QueryContext(ctx)
				if err == nil {
					err = readRows(o, rows)
				}
				_ = ps.Close()
			}
		default:
			err = fmt.Errorf("unknown mode %q", st.args["mode"])
		}
	}
	if err != nil {
		o.err = err
		var txt string
		o.code, txt = myErrText(err)
		o.out.WriteString(txt + "\n")
		if o.code == "" {
			// A broken connection: start afresh for the next step.
			if mc := conns[st.user+"@"+st.db]; mc != nil {
				_ = mc.c.Close()
				_ = mc.db.Close()
				delete(conns, st.user+"@"+st.db)
			}
		}
	}
	// The max_rows cap is announced as a warning (or a notice) on MySQL.
	if st.args["capped"] != "" && o.err == nil {
		if c, ok := conns[st.user+"@"+st.db]; ok {
			if rows, err := c.c.QueryContext(ctx, "SHOW WARNINGS"); err == nil {
				var w advOutcome
				_ = readRows(&w, rows)
				o.out.WriteString(w.out.String())
				o.capped = strings.Contains(w.out.String(), "limited")
			}
		}
	}
	return o
}

func (f *advMy) run(t *testing.T, c advCase, before map[string]string) map[string]string {
	conns := map[string]*myConn{}
	defer func() {
		for _, mc := range conns {
			_ = mc.c.Close()
			_ = mc.db.Close()
		}
	}()
	mayChange := map[string]bool{}
	for i, st := range c.steps {
		for tn, role := range advMyUsers[st.user] {
			if advWriteRoles[role] {
				mayChange[tn] = true
			}
		}
		o := f.runStep(st, conns)
		where := fmt.Sprintf("mysql.txt:%d %s step %d (%s@%s)", st.line, c.name, i+1, st.user, st.db)
		if os.Getenv("TP_ADV_VERBOSE") != "" {
			t.Logf("%s: err=%v\n%s", where, o.err, o.summary())
		}
		for _, l := range f.oracle.leaks(st.user, st.sql, o.out.String()) {
			t.Errorf("LEAK %s: %q reached %s: statement %q; output: %s", where, l, st.user, st.sql, o.summary())
		}
		// MySQL clients must never see a backend database name.
		for _, db := range []string{f.alphaDB, f.betaDB, f.rowDB} {
			if strings.Contains(strings.ToLower(o.out.String()), strings.ToLower(db)) && !strings.Contains(strings.ToLower(st.sql), strings.ToLower(db)) {
				t.Errorf("LEAK %s: backend database name %s reached %s: statement %q; output: %s", where, db, st.user, st.sql, o.summary())
			}
		}
		for _, fl := range checkExpect(st, o, myRefused) {
			t.Errorf("%s: %s: statement %q", where, fl, st.sql)
		}
	}
	after := f.snapshot(t)
	dirty := map[string]bool{}
	for tn, v := range after {
		if v != before[tn] && !mayChange[tn] {
			t.Errorf("CHANGED mysql.txt:%d %s: tenant %s's data changed:\nbefore %s\nafter  %s", c.line, c.name, tn, before[tn], v)
			dirty[f.tenantDB[tn]] = true
		}
	}
	if len(dirty) > 0 {
		for db := range dirty {
			f.seedFns[db](t)
		}
		after = f.snapshot(t)
	}
	return after
}

// TestAdversarialMySQL runs testdata/adversarial/mysql.txt.
func TestAdversarialMySQL(t *testing.T) {
	requireMySQL(t)
	f := newAdvMy(t)
	if f.rp.MySQLAddr == "" {
		// The harness starts the MySQL front end when it exists.
		t.Skip("the proxy under test has no MySQL listener (runningProxy.MySQLAddr is empty)")
	}
	cases := parseAdvCases(t, "testdata/adversarial/mysql.txt", f.vars)
	if len(cases) < 60 {
		t.Fatalf("only %d MySQL cases, want at least 60", len(cases))
	}
	start := time.Now()
	snap := f.snapshot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap = f.run(t, c, snap)
		})
	}
	t.Logf("%d MySQL adversarial cases in %v", len(cases), time.Since(start).Round(time.Millisecond))
}
