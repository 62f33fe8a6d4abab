package proxy

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// SQLiteBackend is an SQLite tenant's database file: DSN opens it as
// configured (writes), RODSN read-only (reads).
type SQLiteBackend struct {
	DSN   string
	RODSN string
}

// apiOnly reports whether tenants of engine are served through the admin
// API only (no wire protocol of their own).
func apiOnly(engine string) bool { return engine == EngineSQLite || engine == EngineMongo }

// runSQLite runs the policy's rendering of a statement on an SQLite tenant:
// reads on a read-only connection, writes on one opened as configured.
// Masked columns are the positions the policy decided on the parse tree.
func (s *Server) runSQLite(ctx context.Context, t *TenantState, text string, read bool, r *runner) error {
	p := t.SQLitePool
	if read {
		p = t.SQLiteROPool
	}
	it, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	clean := false
	defer func() {
		if clean {
			p.Release(it)
		} else {
			p.Discard(it)
		}
	}()
	db := it.Conn.DB
	if !read {
		res, err := db.ExecContext(ctx, text)
		if err != nil {
			return sqliteError(ctx, t, err, &clean)
		}
		n, _ := res.RowsAffected()
		r.info.Rows = int(n)
		clean = true
		return nil
	}
	rows, err := db.QueryContext(ctx, text)
	if err != nil {
		return sqliteError(ctx, t, err, &clean)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return sqliteError(ctx, t, err, &clean)
	}
	r.info.Columns = r.info.Columns[:0]
	r.maskIdx = r.maskIdx[:0]
	masked := map[int]bool{}
	for _, i := range r.outMasks {
		masked[i] = true
	}
	for i, ct := range types {
		typ := strings.ToLower(ct.DatabaseTypeName())
		if typ == "" {
			typ = "text"
		}
		r.info.Columns = append(r.info.Columns, Column{Name: ct.Name(), Type: typ})
		if masked[i] {
			r.maskIdx = append(r.maskIdx, maskCol{index: i, text: true})
		}
	}
	if len(r.outMasks) > 0 && len(r.maskIdx) != len(r.outMasks) {
		// The policy and the result disagree on the columns: never guess.
		return sqlerr.New(sqlerr.Internal, "the result's columns do not match the statement's masked columns on tenant %q", t.ID)
	}
	r.columns()
	if r.stop != nil {
		return r.stop
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return sqliteError(ctx, t, err, &clean)
		}
		r.row = r.row[:0]
		for _, v := range vals {
			r.row = append(r.row, sqliteValue(v))
		}
		r.deliver()
		if r.stop != nil {
			clean = true
			return r.stop
		}
	}
	if err := rows.Err(); err != nil {
		return sqliteError(ctx, t, err, &clean)
	}
	clean = true
	return nil
}

// sqliteValue turns a scanned value into what rows carry: int64, float64,
// string or nil (SQLite's storage classes; blobs as text).
func sqliteValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// sqliteError reports a statement's failure: the context's when it ended
// it, else SQLite's own message (the connection stays usable).
func sqliteError(ctx context.Context, t *TenantState, err error, clean *bool) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ctxError(ctx, t.ID)
	}
	if errors.Is(err, sql.ErrConnDone) {
		return sqlerr.Wrap(sqlerr.Unavailable, err, "lost the connection to the database of tenant %q", t.ID)
	}
	*clean = true
	msg := err.Error()
	if strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only") {
		return sqlerr.Wrap(sqlerr.Permission, err, "tenant %q: the database file is read-only for this statement: %s", t.ID, msg)
	}
	if strings.Contains(msg, "constraint failed") {
		return sqlerr.Wrap(sqlerr.InvalidValue, err, "tenant %q: %s", t.ID, msg)
	}
	// The statement itself: a missing table or column, a type SQLite cannot use.
	return sqlerr.Wrap(sqlerr.Syntax, err, "tenant %q: %s", t.ID, msg)
}
