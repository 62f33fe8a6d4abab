package pool

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver (pure Go)
)

// SQLiteConn is one connection to a tenant's SQLite database file, through
// database/sql with a single underlying connection (modernc.org/sqlite: a
// pure-Go SQLite, so no cgo toolchain is needed for it).
type SQLiteConn struct {
	DB *sql.DB
}

// Close closes the connection.
func (c *SQLiteConn) Close() error { return c.DB.Close() }

// SQLiteDSN returns dsn (file:/path.db?...) opened read-only when readOnly,
// with a busy timeout so that a writer holding the file makes readers wait
// rather than fail at once.
func SQLiteDSN(dsn string, readOnly bool) (string, error) {
	if !strings.HasPrefix(dsn, "file:") {
		return "", fmt.Errorf("an SQLite DSN starts with file: (file:/path/tenant.db?mode=ro), got %q", dsn)
	}
	path, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("bad SQLite DSN parameters: %v", err)
	}
	switch {
	case readOnly:
		q.Set("mode", "ro")
	case !q.Has("mode"):
		q.Set("mode", "rw") // never create a missing file: a wrong path must fail
	}
	if !q.Has("_pragma") {
		q.Add("_pragma", "busy_timeout(5000)")
	}
	return path + "?" + q.Encode(), nil
}

// DialSQLite returns a Dialer for dsn.
func DialSQLite(dsn string) Dialer[*SQLiteConn] {
	return func(ctx context.Context) (*SQLiteConn, error) {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
		// The file must exist: opening creates an empty database otherwise
		// (mode=rwc), which would hide a wrong path.
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			_ = db.Close()
			return nil, err
		}
		return &SQLiteConn{DB: db}, nil
	}
}

// PingSQLite checks a connection.
func PingSQLite(ctx context.Context, c *SQLiteConn) error { return c.DB.PingContext(ctx) }
