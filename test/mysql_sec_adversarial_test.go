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
