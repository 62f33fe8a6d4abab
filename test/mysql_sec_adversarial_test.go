package test

import (
	"context"
	"strings"
	"testing"
)

// TestMySQLSecAdversarial holds what a pass over the MySQL front end's
// statement classes found beyond the reported items: statements that reach
// other tenants' data or the backend server through the shared account.
func TestMySQLSecAdversarial(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	myExec(t, f.betaDB,
		"CREATE TABLE mi (id INT, secret VARCHAR(50)) ENGINE=MyISAM",
		"INSERT INTO mi VALUES (1, 'beta-merge-secret')",
		"CREATE PROCEDURE beta_proc() SELECT 1")
	a := f.conn(t, "adam", "alpha", "")
	for _, q := range []struct {
		sql  string
		code uint16
	}{
		// a MERGE table over another tenant's MyISAM table reads it
		{"CREATE TABLE m (id INT, secret VARCHAR(50)) ENGINE=MERGE UNION=(`" + f.betaDB + "`.mi)", 1227},
		{"CREATE TABLE m2 (id INT) ENGINE=MRG_MyISAM", 1227},
		{"CREATE TABLE d (id INT) DATA DIRECTORY='/tmp'", 1227},
		{"CREATE TABLE fed (id INT) ENGINE=FEDERATED CONNECTION='mysql://root@127.0.0.1:3306/" + f.betaDB + "/mi'", 1227},
		{"ALTER TABLE customers ENGINE=MERGE", 1227},
		// another connection's statement, on a shared server another tenant's
		{"EXPLAIN FOR CONNECTION 1", 1227},
		// the backend account's definition (its password hash)
		{"SHOW CREATE USER CURRENT_USER", 1227},
		{"SHOW CREATE USER root", 1227},
		// table names the parser's walk does not visit
		{"OPTIMIZE TABLE `" + f.betaDB + "`.customers", 1044},
		{"SHOW CREATE PROCEDURE `" + f.betaDB + "`.beta_proc", 1044},
	} {
		_, err := a.ExecContext(ctx, q.sql)
		wantMyErr(t, err, q.code, "admin: "+q.sql)
	}
	// SHOW ... STATUS statements list objects of every database: only the
	// tenant's own come back.
	for _, q := range []string{"SHOW PROCEDURE STATUS", "SHOW FUNCTION STATUS", "SHOW OPEN TABLES", "SHOW TABLE STATUS"} {
		rows, _ := secRows(t, a, q)
		for _, r := range rows {
			if strings.Contains(r, f.betaDB) || strings.Contains(r, "beta_proc") || strings.Contains(r, f.alphaDB) {
				t.Errorf("admin: %s: row %q", q, r)
			}
		}
	}
	// A viewer's NEXTVAL/SETVAL changes the sequence: a write.
	v := f.conn(t, "vera", "alpha", "")
	for _, q := range []string{"SELECT NEXTVAL(bseq)", "SELECT SETVAL(bseq, 1000)", "SELECT NEXT VALUE FOR bseq"} {
		_, err := v.ExecContext(ctx, q)
		wantMyErr(t, err, 1142, "viewer: "+q)
	}
	var last *int64
	if err := myRoot(t).QueryRowContext(ctx, "SELECT NEXTVAL(`"+f.alphaDB+"`.bseq)").Scan(&last); err != nil || last == nil || *last != 1 {
		t.Fatalf("alpha's sequence moved: %v %v", last, err)
	}
	// User locks are server-wide: each tenant has its own names, so one
	// tenant's lock neither blocks nor shows in another's.
	var got int
	if err := a.QueryRowContext(ctx, "SELECT GET_LOCK('nightly-job', 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("alpha GET_LOCK: %d %v", got, err)
	}
	b := f.conn(t, "bea", "beta", "")
	var used *int64
	if err := b.QueryRowContext(ctx, "SELECT IS_USED_LOCK('nightly-job')").Scan(&used); err != nil || used != nil {
		t.Fatalf("beta IS_USED_LOCK: %v %v", used, err)
	}
	if err := b.QueryRowContext(ctx, "SELECT GET_LOCK('nightly-job', 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("beta GET_LOCK while alpha holds its own: %d %v", got, err)
	}
	// A viewer with masks may not CALL: the procedure's rows are not
	// analysed.
	_, err := v.ExecContext(ctx, "CALL p()")
	wantMyErr(t, err, 1142, "viewer: CALL")
}

// TestMySQLSecStoredProcedureBodies: the parser's walk skips what is inside
// BEGIN ... END, and a procedure runs with the backend account's rights:
// every statement and expression of the body is analysed like one sent on
// its own. On a row tenant CALL is refused (the body is not filtered).
func TestMySQLSecStoredProcedureBodies(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	a := f.conn(t, "adam", "alpha", "multiStatements=true")
	for _, q := range []struct {
		sql  string
		code uint16
	}{
		{"CREATE PROCEDURE p1() BEGIN SELECT LOAD_FILE('/etc/hostname'); END", 1142},
		{"CREATE PROCEDURE p2() BEGIN IF LOAD_FILE('/etc/hostname') IS NOT NULL THEN SELECT 1; END IF; END", 1142},
		{"CREATE PROCEDURE p3() BEGIN SET GLOBAL max_connections = 1; END", 1227},
		{"CREATE PROCEDURE p4() BEGIN SET character_set_results = utf16; END", 1142},
		{"CREATE PROCEDURE p5() BEGIN USE `" + f.betaDB + "`; SELECT * FROM customers; END", 1227},
		{"CREATE PROCEDURE p6() BEGIN SELECT * FROM `" + f.betaDB + "`.customers; END", 1044},
		{"CREATE PROCEDURE p7() BEGIN SET pseudo_thread_id = 1; END", 1142},
	} {
		_, err := a.ExecContext(ctx, q.sql)
		wantMyErr(t, err, q.code, q.sql)
	}
	var n int
	if err := myRoot(t).QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '"+f.alphaDB+"'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("procedures created: %d %v", n, err)
	}
	// A procedure whose body passes works as written.
	if _, err := a.ExecContext(ctx, "CREATE PROCEDURE ok_proc(IN k INT) BEGIN DECLARE x INT DEFAULT 0; SET x = x + k; SELECT COUNT(*) + x FROM customers; END"); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := a.QueryRowContext(ctx, "CALL ok_proc(1)").Scan(&got); err != nil || got != 10 {
		t.Fatalf("CALL ok_proc(1): %d %v", got, err)
	}
	myExec(t, f.rowDB, "CREATE PROCEDURE all_rows() SELECT GROUP_CONCAT(name) FROM customers")
	e := f.conn(t, "eddie", "shop_a", "")
	_, err := e.ExecContext(ctx, "CALL all_rows()")
	wantMyErr(t, err, 1044, "row tenant CALL")
}
