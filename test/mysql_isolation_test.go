package test

import (
	"slices"
	"strings"
	"testing"
)

// TestMySQLIsolation tries every spelling of the other tenant's database
// from alpha: all fail with 1044 (or show nothing), and no result or error
// shows a backend database name.
func TestMySQLIsolation(t *testing.T) {
	f := newMyFixture(t, "", "")
	db := f.rp.myOpen(t, "alice", "alice-pw", "alpha", "multiStatements=true")
	other, own := f.betaDB, f.alphaDB
	refused := []string{
		"SELECT * FROM " + other + ".items",
		"SELECT * FROM `" + other + "`.`items`",
		"SELECT * FROM " + strings.ToUpper(other) + ".items",
		"SELECT name FROM items JOIN " + other + ".items b USING (id)",
		"SELECT name FROM items WHERE id IN (SELECT id FROM " + other + ".items)",
		"SELECT (SELECT MAX(name) FROM `" + other + "`.items) AS x",
		"INSERT INTO items (name) SELECT name FROM " + other + ".items",
		"UPDATE items, " + other + ".items b SET items.name = b.name",
		"DELETE FROM " + other + ".items",
		"SELECT * FROM items UNION SELECT * FROM " + other + ".items",
		"WITH x AS (SELECT * FROM " + other + ".items) SELECT * FROM x",
		"SHOW TABLES FROM " + other,
		"SHOW COLUMNS FROM items FROM " + other,
		"SELECT * FROM mysql.user",
		"SELECT * FROM performance_schema.threads",
		"CREATE TABLE stolen AS SELECT * FROM " + other + ".items",
	}
	for _, q := range refused {
		_, err := db.Exec(q)
		if err == nil {
			t.Errorf("%s: succeeded", q)
			continue
		}
		code, _ := myErr(t, err)
		if code != 1044 && code != 1142 {
			t.Errorf("%s: want 1044/1142, got %v", q, err)
		}
		if strings.Contains(err.Error(), other) && !strings.Contains(q, other) {
			t.Errorf("%s: error leaks %s", q, other)
		}
	}
	// USE of backend database names, of a tenant the user does not hold.
	for _, name := range []string{other, own, "mysql", "information_schema"} {
		_, err := db.Exec("USE " + name)
		wantMyErr(t, err, 1044, "USE "+name)
	}
	bob := f.rp.myOpen(t, "bob", "bob-pw", "beta", "")
	_, err := bob.Exec("USE alpha")
	wantMyErr(t, err, 1044, "bob USE alpha")

	// Metadata shows only the tenant, as its id.
	leaks := func(q string, rows []string) {
		t.Helper()
		for _, r := range rows {
			if strings.Contains(r, other) || strings.Contains(r, own) {
				t.Errorf("%s leaks a backend database: %v", q, rows)
			}
		}
	}
	check := func(q string, want []string) {
		t.Helper()
		got := queryStrings(t, db, q)
		leaks(q, got)
		if want != nil && !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	check("SHOW DATABASES", []string{"alpha"})
	check("SHOW SCHEMAS", []string{"alpha"})
	check("SELECT DATABASE()", []string{"alpha"})
	check("SELECT SCHEMA()", []string{"alpha"})
	check("SHOW TABLES", []string{"items"})
	check("SELECT schema_name FROM information_schema.schemata", []string{"alpha"})
	check("SELECT DISTINCT table_schema FROM information_schema.tables", []string{"alpha"})
	check("SELECT table_schema FROM information_schema.tables WHERE table_name = 'items'", []string{"alpha"})
	check("SELECT DISTINCT table_schema FROM information_schema.columns WHERE table_name = 'items'", []string{"alpha"})
	check("SELECT GROUP_CONCAT(schema_name) FROM information_schema.schemata", nil)
	// Rows naming the other tenant's database are dropped. (Databases that
	// belong to no configured tenant are not known to the proxy: see the
	// package notes.)
	check("SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables WHERE table_name = 'items'", nil)
	// Probing information_schema with the other database's name is refused.
	for _, q := range []string{
		"SELECT schema_name FROM information_schema.schemata WHERE schema_name = '" + other + "'",
		"SELECT table_name FROM information_schema.tables WHERE table_schema = '" + other + "'",
		"SELECT column_name FROM information_schema.columns WHERE TABLE_SCHEMA = '" + strings.ToUpper(other) + "'",
		"SELECT COUNT(*) FROM information_schema.processlist WHERE db = '" + other + "'",
		"SHOW TABLE STATUS LIKE '" + other + "'",
	} {
		_, err := db.Exec(q)
		wantMyErr(t, err, 1044, q)
	}
	rows, err := db.Query("SHOW TABLES")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	if cols[0] != "Tables_in_alpha" {
		t.Errorf("SHOW TABLES column = %q", cols[0])
	}
	// Errors name the tenant, not the backend database.
	_, err = db.Exec("SELECT * FROM " + own + ".missing")
	wantMyErr(t, err, 1146, "missing table")
	if strings.Contains(err.Error(), own) {
		t.Errorf("error leaks the backend database: %v", err)
	}
	// The mariadb CLI sees the same.
	out, err := f.rp.mariadbCLI(t, "alice", "alice-pw", "alpha", "-e", "SHOW DATABASES; SELECT DATABASE(); SELECT name FROM items ORDER BY id")
	if err != nil {
		t.Fatalf("mariadb: %v\n%s", err, out)
	}
	if want := "alpha\nalpha\nalpha-apple\nalpha-avocado\n"; out != want {
		t.Errorf("mariadb output %q, want %q", out, want)
	}
}
