package test

import (
	"context"
	"strings"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// TestMySQLSecRowAliasMask: on a row tenant a table alias made the
// rewritten derived table report org_table = the alias, and the email came
// back in clear. Masks are now decided from the analysed select list.
func TestMySQLSecRowAliasMask(t *testing.T) {
	f := newMySecFixture(t)
	for _, params := range []string{"interpolateParams=true", "interpolateParams=false"} {
		c := f.conn(t, "vera", "shop_a", params)
		for _, q := range []string{
			"SELECT x.id, x.email FROM customers x WHERE x.id > ? ORDER BY x.id",
			"SELECT x.email, x.id FROM customers AS x WHERE x.id > ? ORDER BY 2",
			"SELECT * FROM customers x WHERE x.id > ? ORDER BY x.id",
			"SELECT x.* FROM customers x WHERE x.id > ? ORDER BY x.id",
			"SELECT email FROM customers WHERE id > ? ORDER BY id",
		} {
			rows, cols := secRows(t, c, q, 0)
			if len(rows) != 3 {
				t.Fatalf("%s %s: rows %v", params, q, rows)
			}
			for _, r := range rows {
				if strings.Contains(r, "mail") || strings.Contains(r, "b-") || !strings.Contains(r, "****") {
					t.Fatalf("%s %s: row %q (columns %v)", params, q, r, cols)
				}
			}
		}
	}
}

// TestMySQLSecMaskAliasElsewhere: the alias of a masked column may not be
// used anywhere else in the statement (a sub-query's select list, HAVING,
// ORDER BY).
func TestMySQLSecMaskAliasElsewhere(t *testing.T) {
	f := newMySecFixture(t)
	c := f.conn(t, "vera", "alpha", "")
	ctx := context.Background()
	for _, q := range []string{
		"SELECT id, email AS e, (SELECT e) AS leak FROM customers",
		"SELECT id, email AS e FROM customers HAVING e LIKE 'alpha-mail-1%'",
		"SELECT id, email AS e FROM customers ORDER BY (e)",
		"SELECT id, email AS e FROM customers GROUP BY id, e",
	} {
		_, err := c.ExecContext(ctx, q)
		wantMyErr(t, err, 1142, q)
	}
	rows, _ := secRows(t, c, "SELECT id, email AS e FROM customers ORDER BY id")
	if len(rows) != 9 || rows[0] != "1\t****" {
		t.Fatalf("plain alias: %v", rows)
	}
}

// TestMySQLSecResultCharset: character_set_results (and the other client
// character sets) only take the safe set after connect: in UTF-16 the
// column metadata and values slipped past the byte match of masks and the
// database-name filter. A raw go-mysql client.
func TestMySQLSecResultCharset(t *testing.T) {
	f := newMySecFixture(t)
	r := f.raw(t, "vera", "alpha")
	for _, q := range []string{
		"SET character_set_results = utf16", "SET character_set_results = utf32", "SET @@session.character_set_results = ucs2",
		"SET character_set_connection = utf16", "SET collation_connection = utf32_general_ci",
		"SET NAMES utf8mb4, character_set_results = utf16le",
	} {
		_, err := r.c.Execute(q)
		var me *gmysql.MyError
		if err == nil || !asMyError(err, &me) || me.Code != 1142 {
			t.Errorf("%s: want 1142, got %v", q, err)
		}
	}
	res, err := r.c.Execute("SELECT id, email FROM customers ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if n := res.RowNumber(); n != 9 {
		t.Fatalf("rows: %d", n)
	}
	for i := 0; i < res.RowNumber(); i++ {
		v, _ := res.GetString(i, 1)
		if v != "****" {
			t.Fatalf("row %d: email %q", i, v)
		}
	}
	res, err = r.c.Execute("SHOW OPEN TABLES")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < res.RowNumber(); i++ {
		db, _ := res.GetString(i, 0)
		if db != "alpha" {
			t.Fatalf("SHOW OPEN TABLES lists database %q", db)
		}
	}
	// NULL (results in the columns' own character sets, names in utf8)
	// is what Connector/J sends: allowed, masks hold.
	if _, err := r.c.Execute("SET character_set_results = NULL"); err != nil {
		t.Fatal(err)
	}
	res, err = r.c.Execute("SELECT email FROM customers WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.GetString(0, 0); v != "****" {
		t.Fatalf("email %q", v)
	}
}

// TestMySQLSecCursorPerStatement: two statements with open cursors
// (CURSOR_TYPE_READ_ONLY); fetching from the first used the second's
// column list and the email came back in clear. Hand-written packets.
func TestMySQLSecCursorPerStatement(t *testing.T) {
	f := newMySecFixture(t)
	r := f.raw(t, "vera", "alpha")
	x, _, _ := r.prepare("SELECT id, email FROM customers ORDER BY id")
	y, _, _ := r.prepare("SELECT id, name FROM customers ORDER BY id")
	for _, id := range []uint32{x, y} {
		st, err := r.executeCursor(id)
		if err != nil {
			t.Fatal(err)
		}
		if st&gmysql.SERVER_STATUS_CURSOR_EXISTS == 0 {
			t.Fatalf("statement %d: no cursor (status %#x)", id, st)
		}
	}
	got, err := r.fetchIDString(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "1:****,2:****,3:****" {
		t.Fatalf("fetch from X: %v", got)
	}
	got, err = r.fetchIDString(y, 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "1:alpha-name-1,2:alpha-name-2" {
		t.Fatalf("fetch from Y: %v", got)
	}
	got, err = r.fetchIDString(x, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || strings.Contains(strings.Join(got, ","), "mail") {
		t.Fatalf("fetch the rest of X: %v", got)
	}
	// USE answers with the session's status, not the cursor's flags.
	if st := okStatusOf(t, r.queryFirst("USE alpha")); st&gmysql.SERVER_STATUS_CURSOR_EXISTS != 0 || st&gmysql.SERVER_STATUS_LAST_ROW_SEND != 0 {
		t.Fatalf("USE's OK status %#x keeps a cursor flag", st)
	}
}

func asMyError(err error, me **gmysql.MyError) bool {
	e, ok := err.(*gmysql.MyError)
	if !ok {
		type unwrapper interface{ Unwrap() error }
		if u, ok := err.(unwrapper); ok {
			return asMyError(u.Unwrap(), me)
		}
		type causer interface{ Cause() error }
		if c, ok := err.(causer); ok && c.Cause() != err {
			return asMyError(c.Cause(), me)
		}
		return false
	}
	*me = e
	return true
}
