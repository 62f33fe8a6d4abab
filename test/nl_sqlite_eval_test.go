package test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// chinookSQLiteFile copies chinook_pg into an SQLite file (same names and
// rows: the Postgres gold rows are its gold rows) and returns its path.
func chinookSQLiteFile(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/chinook_pg?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	path := filepath.Join(t.TempDir(), "chinook.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := evalset.CopyToSQLite(ctx, pg, db); err != nil {
		t.Fatal(err)
	}
	return path
}

// withSQLiteChinook adds tenant chinook_lite (the SQLite copy at path) to
// the Chinook config, with the eval user as its analyst.
func withSQLiteChinook(yaml, path string) string {
	yaml = strings.Replace(yaml, "tenants:\n", fmt.Sprintf("tenants:\n  - id: chinook_lite\n    engine: sqlite\n    dsn: \"file:%s\"\n", path), 1)
	return strings.Replace(yaml, "tenants: {chinook_pg: analyst, chinook_my: analyst}", "tenants: {chinook_pg: analyst, chinook_my: analyst, chinook_lite: analyst}", 1)
}

// chinookMongo copies chinook_pg into a database of a FerretDB server the
// test starts (a collection per table, references as ids) and returns the
// tenant's DSN.
func chinookMongo(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	m := startFerretDB(t)
	pg, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/chinook_pg?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	name := dbName("chinook")
	if err := evalset.CopyToMongo(ctx, pg, m.Client.Database(name)); err != nil {
		t.Fatal(err)
	}
	return "mongodb://" + m.Addr + "/" + name
}

// withMongoChinook adds tenant chinook_mongo (the MongoDB copy at dsn) to
// the Chinook config, with the eval user as its analyst.
func withMongoChinook(yaml, dsn string) string {
	yaml = strings.Replace(yaml, "tenants:\n", fmt.Sprintf("tenants:\n  - id: chinook_mongo\n    engine: mongodb\n    dsn: %q\n", dsn), 1)
	return strings.Replace(yaml, "chinook_lite: analyst}", "chinook_lite: analyst, chinook_mongo: analyst}", 1)
}
