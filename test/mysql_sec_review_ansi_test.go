package test

import (
	"context"
	"strings"
	"testing"
)

// TestMySQLSecSQLModeHexLiteral: sql_mode given as a hex (or bit) literal,
// which the server decodes ('ANSI_QUOTES'), is refused; without the mode a
// double-quoted "alias" stays a string for both parsers, so the
// statement below leaks nothing.
func TestMySQLSecSQLModeHexLiteral(t *testing.T) {
	f := newMySecFixture(t)
	ctx := context.Background()
	for _, tc := range []struct{ tenant, table string }{
		{"shop_a", "customers"},
		{"alpha", "`" + f.betaDB + "`.customers"},
	} {
		c := f.conn(t, "vera", tc.tenant, "")
		for _, set := range []string{
			"SET sql_mode = 0x414e53495f51554f544553",                                                                    // 'ANSI_QUOTES'
			"SET sql_mode = X'414e53495f51554f544553'",                                                                   // the same, X'' form
			"SET sql_mode = 0x4e4f5f4241434b534c4153485f45534341504553",                                                  // 'NO_BACKSLASH_ESCAPES'
			"SET sql_mode = CONCAT(@@sql_mode, ',', 0x414e53495f51554f544553)",                                           // inside CONCAT
			"SET sql_mode = b'0100000101001110010100110100100101011111010100010101010101001111010101000100010101010011'", // bit literal
		} {
			_, err := c.ExecContext(ctx, set)
			wantMyErr(t, err, 1142, set)
		}
		var mode string
		if err := c.QueryRowContext(ctx, "SELECT @@sql_mode").Scan(&mode); err != nil || strings.Contains(mode, "ANSI_QUOTES") {
			t.Fatalf("%s: sql_mode %q (%v)", tc.tenant, mode, err)
		}
		q := `SELECT 1 AS "\", (SELECT GROUP_CONCAT(email) FROM ` + tc.table + `) AS x -- "`
		var one, leak string
		err := c.QueryRowContext(ctx, q).Scan(&one, &leak)
		if strings.Contains(leak, "b-mail") || strings.Contains(leak, "beta-mail") || strings.Contains(leak, "@") {
			t.Errorf("%s: %q (%v)", tc.tenant, leak, err)
		}
	}
}
