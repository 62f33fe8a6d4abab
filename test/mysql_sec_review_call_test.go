package test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

func callCountRows(t *testing.T, c *sql.Conn, q string) (int, error) {
	rows, err := c.QueryContext(context.Background(), q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for {
		for rows.Next() {
			n++
		}
		if !rows.NextResultSet() {
			break
		}
	}
	return n, rows.Err()
}

// TestMySQLSecCallCappedRole: a capped role with write access CALLs a procedure
// another role created; the procedure's SELECT is not capped.
func TestMySQLSecCallCappedRole(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "seccall")
	myExec(t, db, "CREATE TABLE nine (id int PRIMARY KEY)",
		"INSERT INTO nine VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9)")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: capm, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", roles: {capwriter: {access: write, max_rows: 3}}}
users:
  - {name: adam, password: adam-pw, tenants: {capm: admin}}
  - {name: cora, password: cora-pw, tenants: {capm: capwriter}}
`, db))
	ctx := context.Background()
	adb := rp.myOpen(t, "adam", "adam-pw", "capm", "")
	if _, err := adb.ExecContext(ctx, "CREATE PROCEDURE allrows() SELECT * FROM nine"); err != nil {
		t.Fatalf("create procedure: %v", err)
	}
	cdb := rp.myOpen(t, "cora", "cora-pw", "capm", "")
	c, err := cdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"SELECT * FROM nine", "CALL allrows()"} {
		n, err := callCountRows(t, c, q)
		t.Logf("%s: %d rows, err %v", q, n, err)
		if q == "CALL allrows()" {
			wantMyErr(t, err, 1142, q)
		}
	}
}

// TestMySQLSecCallFilteredRole: a role with a row filter and write access CALLs
// a procedure another role created: the filter does not apply.
func TestMySQLSecCallFilteredRole(t *testing.T) {
	requireMySQL(t)
	db := tempMyDatabase(t, "seccallrf")
	myExec(t, db, "CREATE TABLE nine (id int PRIMARY KEY)",
		"INSERT INTO nine VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9)")
	rp := startProxy(t, fmt.Sprintf(`
tenants:
  - {id: rfm, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s", roles: {filtered: {access: write, row_filters: {nine: "id < 3"}, denied_tables: [secret]}}}
users:
  - {name: adam, password: adam-pw, tenants: {rfm: admin}}
  - {name: cora, password: cora-pw, tenants: {rfm: filtered}}
`, db))
	ctx := context.Background()
	adb := rp.myOpen(t, "adam", "adam-pw", "rfm", "")
	for _, q := range []string{"CREATE TABLE secret (v varchar(20))", "INSERT INTO secret VALUES ('top-secret')",
		"CREATE PROCEDURE allrows() SELECT * FROM nine", "CREATE PROCEDURE sec() SELECT * FROM secret"} {
		if _, err := adb.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cdb := rp.myOpen(t, "cora", "cora-pw", "rfm", "")
	c, err := cdb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"SELECT * FROM nine", "SELECT * FROM secret", "CALL allrows()", "CALL sec()"} {
		n, err := callCountRows(t, c, q)
		t.Logf("%s: %d rows, err %v", q, n, err)
		if strings.HasPrefix(q, "CALL") {
			wantMyErr(t, err, 1142, q)
		}
	}
}
