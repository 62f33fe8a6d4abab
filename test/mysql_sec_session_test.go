package test

import (
	"context"
	"strings"
	"testing"
)

// TestMySQLSecSetVarExpressions: every expression of a session statement
// (SET @v = ..., SHOW ... WHERE) gets the full analysis. Each statement
// below went through unchecked and read or changed what the backend
// account can; the control runs the same on MariaDB directly.
func TestMySQLSecSetVarExpressions(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	su := myRoot(t)
	var ctl string
	if err := su.QueryRowContext(ctx, "SELECT GROUP_CONCAT(name, ':', email) FROM `"+f.betaDB+"`.customers").Scan(&ctl); err != nil || !strings.Contains(ctl, "beta-mail-1") {
		t.Fatalf("control: %q %v", ctl, err)
	}
	c := f.conn(t, "vera", "alpha", "")
	for _, q := range []struct {
		sql  string
		code uint16
	}{
		{"SET @y=(SELECT GROUP_CONCAT(name,':',email) FROM `" + f.betaDB + "`.customers)", 1044},
		{"SET @f=LOAD_FILE('/etc/hostname')", 1142},
		{"SET @z=(SELECT GROUP_CONCAT(User,':',Host) FROM mysql.user)", 1044},
		{"SET @x=(SELECT email FROM customers WHERE id=1)", 1142},
		{"SET @s=SETVAL(`" + f.betaDB + "`.bseq, 424242)", 1044},
		{"SET @s=SETVAL(bseq, 424242)", 1142},
		{"SET @n=NEXTVAL(bseq)", 1142},
		{"SHOW VARIABLES WHERE (SELECT COUNT(*) FROM mysql.user) > 0", 1044},
		{"SHOW VARIABLES WHERE Variable_name = (SELECT email FROM customers LIMIT 1)", 1142},
		{"DO (SELECT GROUP_CONCAT(email) FROM customers)", 1142},
	} {
		_, err := c.ExecContext(ctx, q.sql)
		wantMyErr(t, err, q.code, q.sql)
	}
	for _, v := range []string{"@y", "@f", "@z", "@x", "@s", "@n"} {
		var got *string
		if err := c.QueryRowContext(ctx, "SELECT "+v).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != nil {
			t.Errorf("%s = %q after a refused SET", v, *got)
		}
	}
	var next int64
	if err := su.QueryRowContext(ctx, "SELECT NEXTVAL(`"+f.betaDB+"`.bseq)").Scan(&next); err != nil || next >= 424242 {
		t.Fatalf("beta's sequence: %d %v", next, err)
	}
	// A user variable reading the tenant's own rows is fine, and on a row
	// tenant it sees this tenant's rows only.
	rc := f.conn(t, "vera", "shop_a", "")
	if _, err := rc.ExecContext(ctx, "SET @r=(SELECT GROUP_CONCAT(name ORDER BY id) FROM customers)"); err != nil {
		t.Fatal(err)
	}
	var r string
	if err := rc.QueryRowContext(ctx, "SELECT @r").Scan(&r); err != nil {
		t.Fatal(err)
	}
	if r != "a-name-1,a-name-2,a-name-3" {
		t.Fatalf("@r on shop_a = %q", r)
	}
}

// TestMySQLSecSessionVarsByRole: harmless session variables for every
// role, the others (foreign_key_checks, sql_log_bin, ...) for the admin
// role only; server details (SHOW GRANTS, @@datadir, @@hostname, SHOW
// STATUS, the rows of SHOW VARIABLES that describe the server) for the
// admin role only; USER() answers the proxy user.
func TestMySQLSecSessionVarsByRole(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	v := f.conn(t, "vera", "alpha", "")
	for _, q := range []string{
		"SET sql_log_bin = 0", "SET foreign_key_checks = 0", "SET unique_checks = 0", "SET SESSION sql_log_bin = 0",
		"SHOW GRANTS", "SELECT @@datadir", "SELECT @@hostname", "SELECT @@GLOBAL.datadir", "SHOW GLOBAL STATUS",
		"SHOW STATUS", "SELECT id FROM customers WHERE @@hostname IS NOT NULL",
	} {
		_, err := v.ExecContext(ctx, q)
		wantMyErr(t, err, 1142, "viewer: "+q)
	}
	for _, q := range []string{"SET time_zone = '+00:00'", "SET autocommit = 1", "SET sql_select_limit = 1000",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET session_track_schema = 1"} {
		if _, err := v.ExecContext(ctx, q); err != nil {
			t.Errorf("viewer: %s: %v", q, err)
		}
	}
	rows, _ := secRows(t, v, "SHOW VARIABLES LIKE 'datadir'")
	if len(rows) != 0 {
		t.Errorf("viewer: SHOW VARIABLES LIKE 'datadir' = %v", rows)
	}
	rows, _ = secRows(t, v, "SHOW VARIABLES WHERE Variable_name IN ('hostname', 'version')")
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "version\t") {
		t.Errorf("viewer: SHOW VARIABLES WHERE ... = %v", rows)
	}
	var user, cur string
	if err := v.QueryRowContext(ctx, "SELECT USER(), CURRENT_USER()").Scan(&user, &cur); err != nil {
		t.Fatal(err)
	}
	if user != "vera@127.0.0.1" || cur != "vera@%" {
		t.Errorf("viewer: USER(), CURRENT_USER() = %q, %q", user, cur)
	}

	a := f.conn(t, "adam", "alpha", "")
	for _, q := range []string{"SET foreign_key_checks = 0", "SET unique_checks = 0", "SHOW GRANTS", "SELECT @@datadir", "SHOW GLOBAL STATUS"} {
		if _, err := a.ExecContext(ctx, q); err != nil {
			t.Errorf("admin: %s: %v", q, err)
		}
	}
	rows, _ = secRows(t, a, "SHOW VARIABLES LIKE 'datadir'")
	if len(rows) != 1 {
		t.Errorf("admin: SHOW VARIABLES LIKE 'datadir' = %v", rows)
	}
	_, err := a.ExecContext(ctx, "SET pseudo_thread_id = 7")
	wantMyErr(t, err, 1142, "admin: SET pseudo_thread_id")
}

// TestMySQLSecConnectStatements: what drivers send at connect is accepted,
// applied and replayed on pooled connections; sql_mode expressions are
// evaluated and the modes that change tokenizing stay refused.
func TestMySQLSecConnectStatements(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	c := f.conn(t, "vera", "alpha", "")
	for _, q := range []string{
		// MariaDB Connector/J
		"set autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES')",
		"SET session_track_schema=1, session_track_system_variables = CONCAT(@@global.session_track_system_variables, ',auto_increment_increment')",
		"SELECT @@max_allowed_packet, @@system_time_zone, @@time_zone, @@auto_increment_increment",
		// PyMySQL, mysqlclient
		"SET NAMES utf8mb4", "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", "SET AUTOCOMMIT = 0", "SET autocommit=1",
		// go-sql-driver (collation, params), node mysql2, ORMs
		"SET NAMES utf8mb4 COLLATE utf8mb4_general_ci", "SET time_zone = '+00:00'", "SET character_set_results = NULL",
		"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET tx_isolation = 'REPEATABLE-READ'",
		"SET sql_mode = CONCAT_WS(',', @@sql_mode, 'ONLY_FULL_GROUP_BY')",
		"SELECT @@version, @@version_comment, @@lower_case_table_names, @@character_set_client",
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	for _, q := range []string{
		"SET sql_mode = concat(@@sql_mode, ',ANSI_QUOTES')", "SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
		"SET sql_mode = CONCAT(@@sql_mode, ',AN', 'SI')", "SET sql_mode = REPLACE(@@sql_mode, 'X', 'ANSI')",
		"SET character_set_results = utf16", "SET character_set_client = gbk", "SET NAMES big5",
	} {
		_, err := c.ExecContext(ctx, q)
		if err == nil {
			t.Errorf("%s: accepted", q)
			continue
		}
		if code, _ := myErr(t, err); code != 1142 && code != 1064 {
			t.Errorf("%s: %v", q, err)
		}
	}
	// The settings hold on whichever pooled connection serves the client:
	// occupy the one it used so the next statement runs on another.
	var mode string
	for i := 0; i < 4; i++ {
		other := f.conn(t, "adam", "alpha", "")
		tx, err := other.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "SELECT @@sql_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		_ = tx.Rollback()
		for _, m := range []string{"STRICT_TRANS_TABLES", "ONLY_FULL_GROUP_BY"} {
			if !strings.Contains(mode, m) {
				t.Fatalf("round %d: sql_mode %q lacks %s", i, mode, m)
			}
		}
		if strings.Contains(mode, "ANSI") || strings.Contains(mode, "NO_BACKSLASH") {
			t.Fatalf("sql_mode %q", mode)
		}
	}
	var tz string
	if err := c.QueryRowContext(ctx, "SELECT @@time_zone").Scan(&tz); err != nil || tz != "+00:00" {
		t.Fatalf("time_zone %q %v", tz, err)
	}
}

// TestPGSetSubqueryRefused: the Postgres side of the same shape: SET with a
// sub-query is refused (the grammar takes constants only).
func TestPGSetSubqueryRefused(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "pgsetsub")
	rp := startProxy(t, `
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/`+db+`?sslmode=disable"}
users:
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
`)
	c := rp.connect(t, "vera", "vera-pw", "alpha")
	ctx := context.Background()
	for _, q := range []string{
		"SET work_mem = (SELECT '64kB')",
		"SET application_name = (SELECT string_agg(usename, ',') FROM pg_user)",
	} {
		_, err := c.Exec(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "42601") {
			t.Errorf("%s: want a 42601 refusal, got %v", q, err)
		}
	}
	var v string
	if err := c.QueryRow(ctx, "SHOW application_name").Scan(&v); err != nil || strings.Contains(v, "postgres") {
		t.Fatalf("application_name %q %v", v, err)
	}
}
