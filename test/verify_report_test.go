package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy"
)

// multiModel is a correct setup with every model on both engines: on
// Postgres a database tenant, two schema tenants of one database and two row
// tenants of another; on MariaDB two database tenants and two row tenants
// of a shared database.
type multiModel struct {
	pgDB, pgShared, pgRows string
	myDB1, myDB2, myRows   string
	yaml                   string
}

func newMultiModel(t testing.TB) *multiModel {
	t.Helper()
	requirePostgres(t)
	requireMySQL(t)
	m := &multiModel{
		pgDB: tempPGDatabase(t, "vmdb"), pgShared: tempPGDatabase(t, "vmsch"), pgRows: tempPGDatabase(t, "vmrow"),
		myDB1: tempMyDatabase(t, "vmdb1"), myDB2: tempMyDatabase(t, "vmdb2"), myRows: tempMyDatabase(t, "vmrow"),
	}
	pgExec(t, m.pgDB,
		"CREATE TABLE customers (id int PRIMARY KEY, name text, email text)",
		"INSERT INTO customers VALUES (1, 'Ann', 'ann@pgdb.example'), (2, 'Bo', 'bo@pgdb.example')")
	pgExec(t, m.pgShared,
		"CREATE SCHEMA s_one", "CREATE SCHEMA s_two",
		"CREATE TABLE s_one.items (id int PRIMARY KEY, secret text)",
		"CREATE TABLE s_two.items (id int PRIMARY KEY, secret text)",
		"INSERT INTO s_one.items VALUES (1, 'one-1'), (2, 'one-2')",
		"INSERT INTO s_two.items VALUES (1, 'two-1'), (2, 'two-2'), (3, 'two-3')")
	pgExec(t, m.pgRows,
		"CREATE TABLE orders (tenant_id text NOT NULL, id int, amount int, PRIMARY KEY (tenant_id, id))",
		"CREATE TABLE countries (code text PRIMARY KEY, name text)",
		"INSERT INTO orders VALUES ('a', 1, 10), ('a', 2, 20), ('a', 3, 30), ('b', 1, 100), ('b', 2, 200)",
		"INSERT INTO countries VALUES ('FR', 'France'), ('DE', 'Germany')")
	for _, db := range []string{m.myDB1, m.myDB2} {
		myExec(t, db,
			"CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(100))",
			fmt.Sprintf("INSERT INTO customers VALUES (1, 'Cy', 'cy@%s.example'), (2, 'Di', 'di@%s.example')", db, db))
	}
	myExec(t, m.myRows,
		"CREATE TABLE orders (tenant_id VARCHAR(20) NOT NULL, id INT, amount INT, PRIMARY KEY (tenant_id, id))",
		"CREATE TABLE countries (code VARCHAR(2) PRIMARY KEY, name VARCHAR(50))",
		"INSERT INTO orders VALUES ('a', 1, 10), ('a', 2, 20), ('b', 1, 100), ('b', 2, 200), ('b', 3, 300)",
		"INSERT INTO countries VALUES ('FR', 'France')")
	m.yaml = fmt.Sprintf(`
tenants:
  - {id: pg_db, engine: postgres, dsn: %q, roles: {viewer: {max_rows: 1, masked_columns: [customers.email]}}}
  - {id: pg_s1, engine: postgres, dsn: %q, isolation: schema, schema: s_one}
  - {id: pg_s2, engine: postgres, dsn: %q, isolation: schema, schema: s_two}
  - {id: pg_ra, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: a, tenant_tables: [orders],
     roles: {big: {access: read, row_filters: {orders: "amount >= 20"}}}}
  - {id: pg_rb, engine: postgres, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: b, tenant_tables: [orders]}
  - {id: my_d1, engine: mysql, dsn: %q, roles: {viewer: {max_rows: 1, masked_columns: [customers.email]}}}
  - {id: my_d2, engine: mysql, dsn: %q}
  - {id: my_ra, engine: mysql, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: a, tenant_tables: [orders]}
  - {id: my_rb, engine: mysql, dsn: %q, isolation: row, tenant_column: tenant_id, tenant_value: b, tenant_tables: [orders]}
users:
  - {name: ops, password: pw, tenants: {pg_db: admin, pg_s1: analyst, pg_s2: editor, pg_ra: analyst, pg_rb: admin,
                                        my_d1: admin, my_d2: analyst, my_ra: editor, my_rb: analyst}}
  - {name: vic, password: pw, tenants: {pg_db: viewer, my_d1: viewer, pg_ra: big, my_ra: viewer}}
`, pgDSN("127.0.0.1", m.pgDB), pgDSN("localhost", m.pgShared), pgDSN("127.0.0.1", m.pgShared),
		pgDSN("127.0.0.1", m.pgRows), pgDSN("localhost", m.pgRows),
		myDSN("127.0.0.1", m.myDB1), myDSN("localhost", m.myDB2), myDSN("127.0.0.1", m.myRows), myDSN("localhost", m.myRows))
	return m
}

// TestVerifyMultiModelClean: the correct setup gets a clean report, and
// the report says what was checked.
func TestVerifyMultiModelClean(t *testing.T) {
	m := newMultiModel(t)
	p := verifyServer(t, m.yaml)
	rep := runVerify(t, p)
	if os.Getenv("TP_VERIFY_DUMP") != "" {
		raw, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("%s", raw)
	}
	for _, tr := range rep.Tenants {
		if f := failedChecks(tr); len(f) > 0 {
			t.Errorf("failed checks:\n%s", strings.Join(f, "\n"))
		}
	}
	if !rep.Passed || rep.Failures != 0 || len(rep.Tenants) != 9 {
		t.Fatalf("report: passed %v, %d failures, %d tenants", rep.Passed, rep.Failures, len(rep.Tenants))
	}
	for _, tr := range rep.Tenants {
		if tr.CrossContamination || tr.ChecksRun == 0 || tr.ChecksRun != tr.ChecksPassed || tr.ForeignRecords != 0 {
			t.Errorf("%s: run %d passed %d contamination %v foreign %d", tr.Tenant, tr.ChecksRun, tr.ChecksPassed, tr.CrossContamination, tr.ForeignRecords)
		}
		// Every other tenant of the same engine (one server each) was probed.
		others := map[string]bool{}
		for _, c := range tr.Checks {
			if c.Kind == proxy.CheckCrossReference {
				others[c.Other] = true
			}
		}
		want := 4
		if tr.Engine == "mysql" {
			want = 3
		}
		if len(others) != want {
			t.Errorf("%s: cross-references probed against %v, want %d tenants", tr.Tenant, others, want)
		}
	}
	for _, id := range []string{"pg_ra", "pg_rb", "my_ra", "my_rb"} {
		tr := tenantReport(t, rep, id)
		if !slices.Equal(tr.TenantTables, []string{"orders"}) || !slices.Equal(tr.SharedTables, []string{"countries"}) {
			t.Errorf("%s: tenant tables %v, shared %v", id, tr.TenantTables, tr.SharedTables)
		}
	}
	// The shared table without a filter returned the tenant's own rows only,
	// compared with the direct count.
	ra := tenantReport(t, rep, "pg_ra")
	found := false
	for _, c := range ra.Checks {
		if c.Kind == proxy.CheckCrossReference && c.Other == "pg_rb" && c.Name == "orders without a filter" && c.Role == "analyst" {
			found = true
			if !c.Passed || c.Outcome != "filtered" || c.Records != 3 || !strings.Contains(c.Reason, "other tenant has 2") {
				t.Errorf("orders without a filter: %+v", c)
			}
		}
		// A role's own row filter narrows the count: not a failure.
		if c.Kind == proxy.CheckCrossReference && c.Other == "pg_rb" && c.Name == "orders without a filter" && c.Role == "big" {
			if !c.Passed || c.Records != 2 || !strings.Contains(c.Reason, "row filter on orders") {
				t.Errorf("orders without a filter under a row filter: %+v", c)
			}
		}
	}
	if !found {
		t.Error("no unfiltered probe of orders")
	}
	// Masks and caps were probed for the viewer of pg_db and my_d1.
	for _, id := range []string{"pg_db", "my_d1"} {
		kinds := map[string]int{}
		for _, c := range tenantReport(t, rep, id).Checks {
			if c.Role == "viewer" && (c.Kind == proxy.CheckMask || c.Kind == proxy.CheckCap) {
				kinds[c.Kind]++
			}
		}
		if kinds[proxy.CheckMask] < 3 || kinds[proxy.CheckCap] < 1 {
			t.Errorf("%s: viewer probes %v", id, kinds)
		}
	}
	// Probes never wrote: the rows are the seeded ones.
	var n int
	if err := pgxQueryRow(t, m.pgRows, "SELECT count(*) FROM orders", &n); err != nil || n != 5 {
		t.Fatalf("orders: %d rows, %v", n, err)
	}
}

// TestVerifyCLIJSON runs tenantproxy verify --json on the correct setup and
// checks the report field by field, then on a broken one (exit status 1).
func TestVerifyCLIJSON(t *testing.T) {
	m := newMultiModel(t)
	path := writeConfig(t, m.yaml)
	out, code := runVerifyCLI(t, "--config", path, "--json", "--tenant", "pg_ra")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var rep map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep["passed"] != true || rep["failures"] != json.Number("0") {
		t.Fatalf("top level: %v", rep)
	}
	if _, err := time.Parse(time.RFC3339Nano, rep["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	tenants := rep["tenants"].([]any)
	if len(tenants) != 1 {
		t.Fatalf("--tenant pg_ra: %d tenants", len(tenants))
	}
	tr := tenants[0].(map[string]any)
	for k, want := range map[string]any{
		"tenant": "pg_ra", "engine": "postgres", "isolation": "row", "database": m.pgRows,
		"tenant_column": "tenant_id", "tenant_value": "a", "cross_contamination": false,
		"checks_failed": json.Number("0"), "foreign_records": json.Number("0"),
	} {
		if tr[k] != want {
			t.Errorf("%s = %v, want %v", k, tr[k], want)
		}
	}
	if s, _ := tr["server"].(string); !strings.HasPrefix(s, "pg:") || !strings.HasSuffix(s, ":5432") {
		t.Errorf("server %q", s)
	}
	if fmt.Sprint(tr["tenant_tables"]) != "[orders]" || fmt.Sprint(tr["shared_tables"]) != "[countries]" {
		t.Errorf("tables %v / %v", tr["tenant_tables"], tr["shared_tables"])
	}
	run, _ := tr["checks_run"].(json.Number).Int64()
	passed, _ := tr["checks_passed"].(json.Number).Int64()
	records, _ := tr["records_retrieved"].(json.Number).Int64()
	checks := tr["checks"].([]any)
	if run == 0 || run != passed || int64(len(checks)) != run || records == 0 {
		t.Errorf("run %d passed %d checks %d records %d", run, passed, len(checks), records)
	}
	kinds := map[string]bool{}
	for _, c := range checks {
		c := c.(map[string]any)
		kinds[c["kind"].(string)] = true
		if c["passed"] != true || c["name"] == "" || c["outcome"] == "" {
			t.Errorf("check %v", c)
		}
		if c["kind"] == "cross_reference" && (c["statement"] == nil || c["role"] == nil || c["other"] == nil) {
			t.Errorf("cross-reference without statement, role or other: %v", c)
		}
	}
	for _, k := range []string{"overlap", "tenant_tables", "orphan_rows", "unique_keys", "extensions", "cross_reference", "cap"} {
		if !kinds[k] {
			t.Errorf("no %s check in %v", k, kinds)
		}
	}

	// Text output, then a broken setup: an orphan row fails the report.
	txt, code := runVerifyCLI(t, "--config", path)
	if code != 0 || !strings.Contains(string(txt), "isolation verified: 9 tenants") || !strings.Contains(string(txt), "cross_contamination: false") {
		t.Fatalf("text report (exit %d):\n%s", code, txt)
	}
	pgExec(t, m.pgRows, "INSERT INTO orders VALUES ('zz', 9, 0)")
	out, code = runVerifyCLI(t, "--config", path, "--json", "--tenant", "pg_rb")
	if code != 1 {
		t.Fatalf("exit %d with an orphan row:\n%s", code, out)
	}
	var bad proxy.Report
	if err := json.Unmarshal(out, &bad); err != nil {
		t.Fatal(err)
	}
	if bad.Passed || bad.Failures != 1 || bad.Tenants[0].ChecksFailed != 1 {
		t.Fatalf("report with an orphan row: %+v", bad)
	}
	wantFailed(t, bad.Tenants[0], proxy.CheckOrphanRows, "orders", "1 whose tenant_id names no configured tenant")
	if _, code := runVerifyCLI(t, "--config", path, "--tenant", "nobody"); code != 2 {
		t.Errorf("unknown tenant: exit %d", code)
	}
}

// runVerifyCLI runs tenantproxy verify and returns its standard output and
// exit status.
func runVerifyCLI(t testing.TB, args ...string) ([]byte, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, proxyBinary(t), append([]string{"verify"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.Bytes(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes(), 0
}

// TestVerifyFindsMisconfigurations builds each mistake on the local servers
// and checks the report fails naming it.
func TestVerifyFindsMisconfigurations(t *testing.T) {
	m := newMultiModel(t)
	// Rows of no tenant, unique keys without the tenant column, a table
	// with tenant data the row filter forgets, dblink in a tenant database.
	pgExec(t, m.pgRows,
		"INSERT INTO orders VALUES ('zz', 1, 0)",
		"CREATE TABLE invoices (tenant_id text, number int UNIQUE)",
		"INSERT INTO invoices VALUES ('a', 1), ('b', 2), ('b', 3), (NULL, 4)")
	pgExec(t, m.pgDB, "CREATE EXTENSION dblink")
	myExec(t, m.myRows,
		"CREATE TABLE invoices (tenant_id VARCHAR(20), number INT UNIQUE)",
		"INSERT INTO invoices VALUES ('a', 1), ('b', 2), (NULL, 3)")
	// Views over a masked column and over a shared table.
	pgExec(t, m.pgDB, "CREATE VIEW contacts AS SELECT id, email AS contact FROM customers")
	pgExec(t, m.pgRows, "CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount >= 20")
	myExec(t, m.myDB1, "CREATE VIEW contacts AS SELECT id, email AS contact FROM customers")
	myExec(t, m.myRows, "CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount >= 20")
	// Views that read another tenant's schema or database.
	pgExec(t, m.pgShared, "CREATE VIEW s_one.peek AS SELECT * FROM s_two.items")
	myExec(t, m.myDB2, "CREATE VIEW peek AS SELECT c.id, c.email FROM "+m.myDB1+".customers c JOIN customers d ON d.id = c.id")
	rp := startProxy(t, m.yaml)
	rep := runVerify(t, rp.Server)
	if rep.Passed {
		t.Fatal("the report passed")
	}
	for _, id := range []string{"pg_ra", "my_ra"} {
		tr := tenantReport(t, rep, id)
		wantFailed(t, tr, proxy.CheckOrphanRows, "invoices", "1 rows with tenant_id NULL")
		wantFailed(t, tr, proxy.CheckUniqueKeys, "invoices", "does not include tenant_id")
		// invoices carries tenant_id but is not in tenant_tables: the live
		// catalog makes it a tenant table all the same, so the probe that
		// reads it without a filter finds none of the other tenant's rows.
		for _, c := range tr.Checks {
			if c.Kind == proxy.CheckCrossReference && strings.Contains(c.Name, "invoices") && !c.Passed {
				t.Errorf("%s: %+v", id, c)
			}
		}
		if !slices.Contains(tr.TenantTables, "invoices") {
			t.Errorf("%s: tenant tables %v", id, tr.TenantTables)
		}
	}
	wantFailed(t, tenantReport(t, rep, "pg_ra"), proxy.CheckOrphanRows, "orders", "1 whose tenant_id names no configured tenant (known: a, b)")
	wantFailed(t, tenantReport(t, rep, "pg_db"), proxy.CheckExtensions, "dblink", m.pgDB)
	// Views: the report says what a real client sees through them.
	ctx := context.Background()
	// The view over the masked table is refused to the masked role on both
	// engines (the catalog snapshot knows what it reads): nothing leaks.
	var contact string
	err := rp.connect(t, "vic", "pw", "pg_db").QueryRow(ctx, "SELECT contact FROM contacts WHERE id = 1").Scan(&contact)
	if err != nil && pgState(err) != "42501" {
		t.Fatal(err)
	}
	agree(t, tenantReport(t, rep, "pg_db"), proxy.CheckMask, "through view contacts", err == nil && contact == "ann@pgdb.example")
	myContact, err := ownMyRows(rp.myOpen(t, "vic", "pw", "my_d1", ""), "SELECT contact FROM contacts WHERE id = 1")
	if err != nil {
		wantMyErr(t, err, 1142, "SELECT contact FROM contacts")
	}
	agree(t, tenantReport(t, rep, "my_d1"), proxy.CheckMask, "through view contacts", strings.Contains(myContact, "cy@"+m.myDB1+".example"))
	var n int
	if err := rp.connect(t, "ops", "pw", "pg_ra").QueryRow(ctx, "SELECT count(*) FROM big_orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	agree(t, tenantReport(t, rep, "pg_ra"), proxy.CheckCrossReference, "big_orders without a filter", n != 2)
	myN := queryStrings(t, rp.myOpen(t, "ops", "pw", "my_ra", ""), "SELECT count(*) FROM big_orders")
	agree(t, tenantReport(t, rep, "my_ra"), proxy.CheckCrossReference, "big_orders without a filter", fmt.Sprint(myN) != "[1]")
	wantFailed(t, tenantReport(t, rep, "pg_s1"), proxy.CheckViews, "s_one.peek reads s_two.items")
	wantFailed(t, tenantReport(t, rep, "my_d2"), proxy.CheckViews, "peek reads database "+m.myDB1)
	if err := rp.connect(t, "ops", "pw", "pg_s1").QueryRow(ctx, "SELECT count(*) FROM peek").Scan(&n); err != nil || n != 3 {
		t.Errorf("pg_s1 reads s_two's items through peek: %d %v", n, err)
	}
	if got := queryStrings(t, rp.myOpen(t, "ops", "pw", "my_d2", ""), "SELECT email FROM peek ORDER BY id"); len(got) != 2 || !strings.Contains(got[0], m.myDB1) {
		t.Errorf("my_d2 reads my_d1's customers through peek: %v", got)
	}
	// The others stay clean.
	for _, id := range []string{"pg_s2"} { // no view, no extension
		if f := failedChecks(tenantReport(t, rep, id)); len(f) > 0 {
			t.Errorf("%s: %v", id, f)
		}
	}
}

// TestVerifyReportsOverlapAndLeak: two database tenants on one database
// (the config error the start refuses) show in verify as an overlap and as
// cross-references that read the other's rows.
func TestVerifyReportsOverlapAndLeak(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "vovl")
	pgExec(t, db, "CREATE TABLE notes (id int PRIMARY KEY, body text)", "INSERT INTO notes VALUES (1, 'x'), (2, 'y')")
	p := verifyServer(t, fmt.Sprintf(`
tenants:
  - {id: one, engine: postgres, dsn: %q}
  - {id: two, engine: postgres, dsn: %q}
users: [{name: u, password: pw, tenants: {one: analyst, two: analyst}}]
`, pgDSN("127.0.0.1", db), pgDSN("localhost", db)))
	rep := runVerify(t, p)
	tr := tenantReport(t, rep, "one")
	o := wantFailed(t, tr, proxy.CheckOverlap, `"one"`, `"two"`, db)
	if o[0].Other != "two" {
		t.Errorf("overlap other %q", o[0].Other)
	}
	leak := wantFailed(t, tr, proxy.CheckCrossReference, "notes of two")
	if leak[0].Records != 2 || leak[0].Foreign != 2 {
		t.Errorf("leak %+v", leak[0])
	}
	if !tr.CrossContamination || rep.Passed {
		t.Fatalf("cross_contamination %v, passed %v", tr.CrossContamination, rep.Passed)
	}
}

// TestVerifyBudget: checks the budget leaves no time for are failed, never
// passed.
func TestVerifyBudget(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "vbud")
	p := verifyServer(t, fmt.Sprintf(`
tenants: [{id: one, engine: postgres, dsn: %q}]
users: [{name: u, password: pw, tenants: {one: analyst}}]
`, pgDSN("127.0.0.1", db)))
	rep, err := p.Verify(context.Background(), proxy.VerifyOptions{Budget: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	tr := tenantReport(t, rep, "one")
	if rep.Passed || tr.ChecksFailed == 0 {
		t.Fatalf("a run without time passed: %+v", tr)
	}
	for _, c := range tr.Checks {
		if !c.Passed && !strings.Contains(c.Reason, "time budget") && !strings.Contains(c.Reason, "deadline") && !strings.Contains(c.Reason, "context") {
			t.Errorf("failed for another reason: %+v", c)
		}
	}
}

// agree checks that the checks of kind named like name failed exactly when
// a real client saw the leak.
func agree(t testing.TB, tr proxy.TenantReport, kind, name string, leaked bool) {
	t.Helper()
	found := false
	for _, c := range tr.Checks {
		if c.Kind == kind && strings.Contains(c.Name, name) {
			found = true
			if c.Passed == leaked {
				t.Errorf("%s: a client leaked=%v, the check says passed=%v: %+v", tr.Tenant, leaked, c.Passed, c)
			}
		}
	}
	if !found {
		t.Errorf("%s: no %s check %q", tr.Tenant, kind, name)
	}
	t.Logf("%s: %s %q: a client sees the leak: %v", tr.Tenant, kind, name, leaked)
}

// pgxQueryRow reads one row of q on database db as the superuser.
func pgxQueryRow(t testing.TB, db, q string, dest ...any) error {
	t.Helper()
	c, err := pgxConnect(db)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.QueryRow(context.Background(), q).Scan(dest...)
}
