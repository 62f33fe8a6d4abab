package policy

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// SQLite statements (tenants served through the admin API only).
//
// There is no maintained SQLite grammar for Go, so the policy accepts the
// subset of SQL that SQLite and Postgres read alike: the text is parsed
// with the real Postgres parser, analysed exactly as a Postgres statement
// (classification, access, row filters, masks, LIMIT), and then rendered
// again for SQLite from the tree by a renderer that knows only that subset
// (sqliterender.go). What runs is always the rendered text, never the
// client's, so the two parsers can never read it differently: a construct
// the renderer does not know (PRAGMA, ATTACH, load_extension, a cast
// SQLite spells otherwise, a window, a lock) is refused with its name.

// checkSQLite analyses an SQLite text.
func (e *Engine) checkSQLite(s Subject, sql string) (*result, bool) {
	if k := sqliteRefusedPrefix(sql); k != "" {
		return &result{err: sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q (SQLite tenants run SELECT, INSERT, UPDATE and DELETE only)", k, s.Scope.Tenant)}, false
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return &result{err: sqlerr.Wrap(sqlerr.Syntax, err, "syntax error (SQLite tenants accept the SQL that SQLite and Postgres read alike): %s", err.Error())}, false
	}
	if len(tree.Stmts) != 1 {
		return &result{err: sqlerr.New(sqlerr.Unsupported, "SQLite tenants run one statement at a time, got %d", len(tree.Stmts))}, false
	}
	raw := tree.Stmts[0]
	switch raw.Stmt.Node.(type) {
	case *pg.Node_SelectStmt, *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt:
	default:
		a := &pgStmt{e: e, s: s, role: s.Role, scope: s.Scope, raw: raw, src: sql}
		_, kind, _ := a.classify(raw.Stmt)
		if kind == "" {
			kind = "this statement"
		}
		return &result{err: sqlerr.New(sqlerr.Unsupported, "%s is not supported on SQLite tenant %q: it runs SELECT, INSERT, UPDATE and DELETE", kind, s.Scope.Tenant)}, false
	}
	a := &pgStmt{e: e, s: s, role: s.Role, scope: s.Scope, raw: raw, src: sql}
	st, serr := a.analyze()
	if serr != nil {
		return &result{err: serr}, false
	}
	r := newSQLiteRenderer(s.Scope.Tenant, a.masks)
	out, rerr := r.render(raw.Stmt)
	if rerr != nil {
		return &result{err: rerr}, false
	}
	dec := &Decision{SQL: out, Rewritten: a.rewritten, Stmts: []Stmt{st}, rendered: true, OutputMasks: r.outMasked}
	if a.capped {
		dec.Capped, dec.MaxRows = true, s.Role.MaxRows
	}
	dec.Masked = append(dec.Masked, a.masks...)
	return &result{dec: dec}, false
}

// sqliteRefusedPrefix names an SQLite-only statement the Postgres grammar
// may not even parse (so that the refusal says what it is).
func sqliteRefusedPrefix(sql string) string {
	s := strings.ToUpper(strings.TrimSpace(sql))
	for _, k := range []string{"PRAGMA", "ATTACH", "DETACH", "VACUUM", "REINDEX", "ANALYZE", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "REPLACE", "CREATE", "DROP", "ALTER"} {
		if strings.HasPrefix(s, k) && (len(s) == len(k) || s[len(k)] == ' ' || s[len(k)] == '\n' || s[len(k)] == '\t' || s[len(k)] == ';') {
			return k
		}
	}
	return ""
}
