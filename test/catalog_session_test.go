package test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPGSharedStatementState: through the proxy, no role reaches the
// statements prepared on shared backend connections for other clients (the
// proxy's tp_ names, DEALLOCATE ALL, pg_prepared_statements, pg_cursors);
// SELECT @@tenant answers the bound tenant; the rewrites of a row tenant's
// viewer keep the column labels the server would give.
func TestPGSharedStatementState(t *testing.T) {
	rp, _ := rowCatalogPG(t, "1h")
	ctx := context.Background()
	ow := rp.connect(t, "ow", "pw", "owner")
	// Fill the owner's backend connection with the proxy's statements.
	for i := 0; i < 3; i++ {
		if _, err := ow.Exec(ctx, "SELECT count(*) FROM orders WHERE id > $1", i); err != nil {
			t.Fatal(err)
		}
	}
	for _, user := range []string{"vi", "an", "ed", "ow"} {
		tenant := "shop_a"
		if user == "ow" {
			tenant = "owner"
		}
		c := rp.connect(t, user, "pw", tenant)
		for _, q := range []string{
			"EXECUTE tp_0123456789abcdef",
			"DEALLOCATE tp_0123456789abcdef",
			"DEALLOCATE ALL",
			"SELECT name, statement FROM pg_prepared_statements",
			"SELECT name, statement FROM pg_cursors",
		} {
			_, err := c.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
			if st := pgState(err); st != "42501" && st != "0A000" {
				t.Errorf("%s as %s: %v, want refused (42501 or 0A000)", q, user, err)
			}
		}
		var got string
		if err := c.QueryRow(ctx, "SELECT @@tenant", pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil || got != tenant {
			t.Errorf("SELECT @@tenant as %s: %q, %v", user, got, err)
		}
	}
	// A session statement takes no expression on Postgres: a sub-query in
	// SET is a syntax error, never run.
	vi0 := rp.connect(t, "vi", "pw", "shop_a")
	for _, q := range []string{
		"SET application_name = (SELECT note FROM orders LIMIT 1)",
		"SET work_mem = (SELECT setting FROM pg_settings LIMIT 1)",
		"SET LOCAL search_path = (SELECT 'public')",
	} {
		if _, err := vi0.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); pgState(err) != "42601" {
			t.Errorf("%s: %v, want 42601", q, err)
		}
	}
	// The owner's statements still work after the refused DEALLOCATE ALL.
	if _, err := ow.Exec(ctx, "SELECT count(*) FROM orders WHERE id > $1", 1); err != nil {
		t.Errorf("owner's prepared statement after the others' attempts: %v", err)
	}

	vi := rp.connect(t, "vi", "pw", "shop_a")
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		for q, want := range map[string]string{
			"SELECT count(*) FROM orders":          "count",
			"SELECT max(note) FROM orders o":       "max",
			"SELECT note FROM orders ORDER BY id":  "note",
			"SELECT o.id + 1 FROM orders o":        "?column?",
			"SELECT (SELECT count(*) FROM orders)": "count",
		} {
			rows, err := vi.Query(ctx, q, mode)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			fds := rows.FieldDescriptions()
			rows.Close()
			if len(fds) != 1 || fds[0].Name != want {
				var names []string
				for _, fd := range fds {
					names = append(names, fd.Name)
				}
				t.Errorf("%s (mode %v): columns %v, want %q", q, mode, names, want)
			}
		}
	}
}
