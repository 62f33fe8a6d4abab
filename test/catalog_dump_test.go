package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCatalogPGDump: a database tenant's admin dumps its database through
// the proxy (schema and data), and the dump restores into an empty
// database to the same rows; a schema tenant's pg_dump -n <own schema> is
// refused with a message that says what to use.
func TestCatalogPGDump(t *testing.T) {
	pgDump := requireTool(t, "pg_dump")
	psql := requireTool(t, "psql")
	f := newCatalogFixture(t)
	dump := filepath.Join(t.TempDir(), "alpha.sql")
	out, err := runTool(t, 120*time.Second, f.rp.pgEnv("aa", "pw", "alpha"), pgDump, "--no-owner", "--no-privileges", "-f", dump)
	if err != nil {
		t.Fatalf("pg_dump through the proxy: %v\n%s", err, out)
	}
	text, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range f.markers {
		if strings.Contains(string(text), m) {
			t.Errorf("the dump shows %q", m)
		}
	}
	restored := tempPGDatabase(t, "cat_restore")
	out, err = runTool(t, 120*time.Second, []string{"PGHOST=127.0.0.1", "PGPORT=5432", "PGUSER=postgres", "PGSSLMODE=disable"},
		psql, "-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", restored, "-f", dump)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	ctx := context.Background()
	rc := pgSuper(t, restored)
	var got string
	if err := rc.QueryRow(ctx, "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM own_items").Scan(&got); err != nil || got != "1:own-1,2:own-2" {
		t.Errorf("restored rows: %q, %v", got, err)
	}
	var n int
	if err := rc.QueryRow(ctx, "SELECT own_fn(1)").Scan(&n); err != nil || n != 2 {
		t.Errorf("restored function: %d, %v", n, err)
	}

	// Schema tenant: refused, saying what to use instead.
	out, err = runTool(t, 60*time.Second, f.rp.pgEnv("aa", "pw", "gamma"), pgDump, "-n", "gamma", "-f", filepath.Join(t.TempDir(), "gamma.sql"))
	if err == nil || !strings.Contains(out, "pg_dump of a schema tenant is not supported") || !strings.Contains(out, "COPY (SELECT ...) TO STDOUT") {
		t.Errorf("pg_dump -n gamma: %v, want a refusal saying what to use:\n%s", err, out)
	}
	for _, m := range f.markers {
		if strings.Contains(out, m) {
			t.Errorf("pg_dump -n gamma shows %q:\n%s", m, out)
		}
	}
}
