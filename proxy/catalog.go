package proxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// The live catalog of a row-isolated tenant. Row isolation filters every
// relation that has the tenant column, so the set of tenant tables comes
// from the backend's catalog (read through the tenant's own pool), not from
// the configuration: tenant_tables is optional and only checked against it.
//
// A decision is never made on a snapshot that could miss a tenant table:
//   - a snapshot older than catalog.refresh is read again before use;
//   - DDL through the proxy marks every row tenant's snapshot stale;
//   - a statement naming a relation the snapshot does not know is decided
//     again on a snapshot whose reading began after the statement arrived;
//   - when the catalog cannot be read, the tenant's statements are refused
//     (57P03 / 2003), never run unfiltered.
//
// A Postgres tenant of database or schema isolation whose role masks columns
// has a smaller snapshot: the names of the database's own functions. Postgres
// reads r.f, when f is no column of r, as the call f(r) on r's whole row, so a
// function of the tenant's that takes the row type would return the masked
// columns in clear; the policy refuses r.f on a range with masked columns
// when f names one (policy.Tables.Funcs). The snapshot is read, refreshed and
// marked stale by DDL as above, and a role with masks is refused while it
// cannot be read.

// catalogTimeout bounds one reading of a catalog.
const catalogTimeout = 10 * time.Second

// catalog holds one row tenant's snapshot.
type catalog struct {
	mu    sync.Mutex // one reading at a time
	snap  atomic.Pointer[catalogSnap]
	fail  atomic.Pointer[catalogFail]
	dirty atomic.Int64 // UnixNano of the last schema change seen through the proxy
}

// catalogSnap is one reading of the catalog.
type catalogSnap struct {
	tables  *policy.Tables
	started time.Time // when the reading began: what it may miss came later
	keys    []KeyWarning
}

// catalogFail is the outcome of a reading that failed.
type catalogFail struct {
	err     *sqlerr.Error
	started time.Time
}

// KeyWarning is a primary or unique key of a shared (row-isolated) table
// that does not include the tenant column: a tenant inserting a key value
// another tenant holds gets a duplicate-key error (or INSERT IGNORE skips
// the row), which tells it the value exists.
type KeyWarning struct {
	Table string `json:"table"`
	Key   string `json:"key"`
}

// CatalogKeyWarnings returns the keys of the tenant's shared tables that do
// not include the tenant column, as of the last catalog reading (nil before
// the first one).
func (t *TenantState) CatalogKeyWarnings() []KeyWarning {
	if sn := t.catalog.snap.Load(); sn != nil {
		return slices.Clone(sn.keys)
	}
	return nil
}

// CatalogTables returns the relations of the tenant's last catalog reading
// that carry the tenant column, sorted (nil before the first reading).
func (t *TenantState) CatalogTables() []string {
	sn := t.catalog.snap.Load()
	if sn == nil {
		return nil
	}
	out := make([]string, 0, len(sn.tables.Tenant))
	for name := range sn.tables.Tenant {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// checkCatalog decides a row tenant's statement, or a masked role's of a
// database or schema tenant with read rules (needsCatalog), on a current catalog
// snapshot.
func (s *Server) checkCatalog(b *Binding, d policy.Dialect, sql string) (*policy.Decision, error) {
	_, dec, err := s.decideOnCatalog(b, d, sql)
	if err != nil {
		return nil, err
	}
	s.noteDDL(dec)
	return dec, nil
}

// decideOnCatalog decides sql for b on the catalog snapshot a statement
// arriving now is decided on, and returns the subject it was decided for.
func (s *Server) decideOnCatalog(b *Binding, d policy.Dialect, sql string) (policy.Subject, *policy.Decision, error) {
	arrived := time.Now()
	t := b.Tenant
	subj := b.Subject
	sn, err := s.catalogSnap(t, s.catalogNeed(t, arrived))
	if err != nil {
		return subj, nil, err
	}
	subj.Tables = sn.tables
	dec, err := s.policy.Check(subj, d, sql)
	if err != nil {
		return subj, nil, err
	}
	if t.Scope.Isolation == policy.IsolationRow && len(sn.tables.Unknown(dec)) > 0 && sn.started.Before(arrived) {
		// A relation created after the snapshot was read may carry the
		// tenant column: decide again on a reading newer than the text.
		if sn, err = s.catalogSnap(t, arrived); err != nil {
			return subj, nil, err
		}
		subj.Tables = sn.tables
		if dec, err = s.policy.Check(subj, d, sql); err != nil {
			return subj, nil, err
		}
	}
	return subj, dec, nil
}

// catalogNeed is the oldest start of a catalog reading a statement that
// arrived at may be decided on: catalog.refresh back, or the last schema
// change seen through the proxy.
func (s *Server) catalogNeed(t *TenantState, arrived time.Time) time.Time {
	need := arrived.Add(-s.cfg.CatalogRefresh)
	if dirty := t.catalog.dirty.Load(); dirty > need.UnixNano() {
		need = time.Unix(0, dirty)
	}
	return need
}

// CatalogGen returns the generation of the catalog snapshot b's statements
// are decided on now, reading the catalog again when it is stale as Check
// does (0 for a binding decided without one). A decision kept for later
// use (a named prepared statement) is made again when it changes: a
// function or tenant table may have appeared since.
func (s *Server) CatalogGen(b *Binding) (uint64, error) {
	if b.Tenant.Scope.Isolation != policy.IsolationRow && !needsCatalog(b) {
		return 0, nil
	}
	sn, err := s.catalogSnap(b.Tenant, s.catalogNeed(b.Tenant, time.Now()))
	if err != nil {
		return 0, err
	}
	return sn.tables.Gen, nil
}

// needsCatalog reports whether b's statements, on a database or schema
// tenant, are decided on a catalog snapshot (checkCatalog): those of a
// role with read rules, which the database's functions and views could
// read past (policy.Role.ReadRules).
func needsCatalog(b *Binding) bool {
	return (b.Tenant.Engine == EnginePostgres || b.Tenant.Engine == EngineMySQL) &&
		b.Tenant.Scope.Isolation != policy.IsolationRow && b.Role != nil && b.Role.ReadRules()
}

// noteDDL marks every tenant's catalog stale when dec changes a schema:
// tenants of any isolation may share a backend database with row tenants.
func (s *Server) noteDDL(dec *policy.Decision) {
	if dec.Class() != policy.ClassDDL {
		return
	}
	now := time.Now().UnixNano()
	for _, t := range s.reg.Load().tenants {
		t.catalog.dirty.Store(now) // row tenants' catalogs, masked roles' functions
	}
}

// catalogSnap returns a snapshot of t's catalog whose reading began at or
// after need, reading the catalog when the current one is older.
// A current snapshot is an atomic load: no context or timer per statement;
// the reading's own timeout (catalogTimeout) starts only when it reads.
func (s *Server) catalogSnap(t *TenantState, need time.Time) (*catalogSnap, error) {
	if sn := t.catalog.snap.Load(); sn != nil && !sn.started.Before(need) {
		return sn, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	t.catalog.mu.Lock()
	defer t.catalog.mu.Unlock()
	if sn := t.catalog.snap.Load(); sn != nil && !sn.started.Before(need) {
		return sn, nil
	}
	if f := t.catalog.fail.Load(); f != nil && !f.started.Before(need) {
		// A reading that began after this statement arrived just failed.
		return nil, f.err
	}
	started := time.Now()
	sn, err := s.readCatalog(ctx, t)
	if err != nil {
		e := sqlerr.As(err)
		if !errors.Is(err, ErrTenantTables) {
			what := "row isolation"
			if t.Scope.Isolation != policy.IsolationRow {
				what = "the role's column masks"
			}
			e = sqlerr.Wrap(sqlerr.Unavailable, err,
				"tenant %q is unavailable: its catalog cannot be read (%v), so %s cannot be applied", t.ID, err, what)
		}
		s.log.Warn("catalog_read_failed", "tenant", t.ID, "error", err)
		t.catalog.fail.Store(&catalogFail{err: e, started: started})
		return nil, e
	}
	sn.started = started
	prev := t.catalog.snap.Load()
	if prev != nil && sameTables(prev.tables, sn.tables) {
		// Unchanged: keep the generation, and with it the cached decisions.
		sn.tables.Gen = prev.tables.Gen
	} else {
		sn.tables.Gen = s.catalogGen.Add(1)
	}
	t.catalog.fail.Store(nil)
	t.catalog.snap.Store(sn)
	if prev == nil || !slices.Equal(keyNames(prev.keys), keyNames(sn.keys)) {
		for _, k := range sn.keys {
			s.log.Warn("shared_key_without_tenant_column", "tenant", t.ID, "table", k.Table, "key", k.Key,
				"tenant_column", t.Scope.TenantColumn)
		}
	}
	return sn, nil
}

func sameTables(a, b *policy.Tables) bool {
	return maps.Equal(a.Tenant, b.Tenant) && maps.Equal(a.Known, b.Known) && maps.Equal(a.Refused, b.Refused) &&
		maps.Equal(a.Funcs, b.Funcs) && maps.EqualFunc(a.Views, b.Views, slices.Equal[[]string]) && a.Hazard == b.Hazard
}

func keyNames(ks []KeyWarning) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.Table+"."+k.Key)
	}
	return out
}

// ErrTenantTables reports listed tenant_tables that the catalog does not
// have, or that lack the tenant column.
var ErrTenantTables = errors.New("tenant_tables do not match the catalog")

// readCatalog reads t's catalog through its own pool and checks the
// configured tenant_tables against it.
func (s *Server) readCatalog(ctx context.Context, t *TenantState) (*catalogSnap, error) {
	if t.Scope.Isolation != policy.IsolationRow {
		return s.readFuncs(ctx, t)
	}
	col := strings.ToLower(t.Scope.TenantColumn)
	var relQ, keyQ string
	switch t.Engine {
	case EnginePostgres:
		relQ = fmt.Sprintf(pgCatalogRelations, pgQuoteLiteral(col))
		keyQ = fmt.Sprintf(pgCatalogKeys, pgQuoteLiteral(col))
	case EngineMySQL:
		relQ = fmt.Sprintf(myCatalogRelations, myQuoteLiteral(col))
		keyQ = fmt.Sprintf(myCatalogKeys, myQuoteLiteral(col))
	default:
		return nil, sqlerr.New(sqlerr.Internal, "tenant %q: unknown engine %q", t.ID, t.Engine)
	}
	tables := &policy.Tables{Tenant: map[string]bool{}, Known: map[string]bool{}, Refused: map[string]string{}, Funcs: map[string]bool{}}
	_, err := s.SystemQuery(ctx, t, relQ, func(row []any) error {
		if len(row) != 2 {
			return fmt.Errorf("catalog: %d columns, want 2", len(row))
		}
		name := strings.ToLower(fmt.Sprint(row[0]))
		tables.Known[name] = true
		if truthy(row[1]) {
			tables.Tenant[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, tb := range t.Scope.TenantTables {
		tb = strings.ToLower(tb)
		switch {
		case !tables.Known[tb]:
			bad = append(bad, fmt.Sprintf("table %q does not exist", tb))
		case !tables.Tenant[tb]:
			bad = append(bad, fmt.Sprintf("table %q has no column %q", tb, col))
		}
	}
	if len(bad) > 0 {
		return nil, sqlerr.Wrap(sqlerr.Unavailable, ErrTenantTables,
			"tenant %q: tenant_tables: %s", t.ID, strings.Join(bad, "; "))
	}
	if err := s.readRefusedViews(ctx, t, col, tables); err != nil {
		return nil, err
	}
	sn := &catalogSnap{tables: tables}
	_, err = s.SystemQuery(ctx, t, keyQ, func(row []any) error {
		if len(row) != 2 {
			return fmt.Errorf("catalog keys: %d columns, want 2", len(row))
		}
		tb := strings.ToLower(fmt.Sprint(row[0]))
		if tables.Tenant[tb] {
			sn.keys = append(sn.keys, KeyWarning{Table: tb, Key: fmt.Sprint(row[1])})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(sn.keys, func(a, b KeyWarning) int { return strings.Compare(a.Table+"."+a.Key, b.Table+"."+b.Key) })
	return sn, nil
}

// readFuncs reads the functions and views of a database or schema
// tenant's database (checkCatalog).
func (s *Server) readFuncs(ctx context.Context, t *TenantState) (*catalogSnap, error) {
	tables := &policy.Tables{Funcs: map[string]bool{}}
	if err := s.readOwnFuncs(ctx, t, tables); err != nil {
		return nil, err
	}
	if err := s.readViewReads(ctx, t, tables); err != nil {
		return nil, err
	}
	return &catalogSnap{tables: tables}, nil
}

// readOwnFuncs reads the names of the database's own functions into
// tables.Funcs: on Postgres those of user schemas (and the other names a
// row's attribute notation reaches, pgCatalogFuncs), on MySQL the stored
// functions of the database.
func (s *Server) readOwnFuncs(ctx context.Context, t *TenantState, tables *policy.Tables) error {
	q := myCatalogFuncs
	if t.Engine == EnginePostgres {
		q = pgFuncsQuery(t)
	}
	_, err := s.SystemQuery(ctx, t, q, func(row []any) error {
		if len(row) != 1 {
			return fmt.Errorf("catalog functions: %d columns, want 1", len(row))
		}
		tables.Funcs[strings.ToLower(fmt.Sprint(row[0]))] = true
		return nil
	})
	if err != nil || t.Engine != EnginePostgres {
		return err
	}
	// Casts applied unasked: the database's types only, never the
	// function's name (a schema tenant must not learn another's names).
	_, err = s.SystemQuery(ctx, t, pgCatalogCastHazards, func(row []any) error {
		if len(row) != 3 {
			return fmt.Errorf("catalog casts: %d columns, want 3", len(row))
		}
		if tables.Hazard == "" {
			tables.Hazard = fmt.Sprintf("the database has an implicit cast from %v to %v made with a function of its own, which any statement may call without naming it; drop the cast or make it explicit", row[0], row[1])
			s.log.Warn("implicit_cast_with_own_function", "tenant", t.ID, "source", row[0], "target", row[1], "function", row[2])
		}
		return nil
	})
	return err
}

// readViewReads reads, for each view and materialized view, the relations
// it reads (through other views too), and policy.ViewOpaque for one that
// calls a function of the database or whose definition cannot be read: a
// role with read rules may not read past them through one, since the
// columns' origin is the view's. On MySQL it needs tables.Funcs read
// first (a view's definition names the functions it calls).
func (s *Server) readViewReads(ctx context.Context, t *TenantState, tables *policy.Tables) error {
	tables.Views = map[string][]string{}
	if t.Engine == EngineMySQL {
		return s.readMyViewReads(ctx, t, tables)
	}
	_, err := s.SystemQuery(ctx, t, pgViewsQuery(t), func(row []any) error {
		if len(row) != 2 {
			return fmt.Errorf("catalog views: %d columns, want 2", len(row))
		}
		v := strings.ToLower(fmt.Sprint(row[0]))
		tables.Views[v] = append(tables.Views[v], strings.ToLower(fmt.Sprint(row[1])))
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.SystemQuery(ctx, t, fmt.Sprintf(pgCatalogViewFuncs, schemaFilter(t)), func(row []any) error {
		if len(row) != 1 {
			return fmt.Errorf("catalog view functions: %d columns, want 1", len(row))
		}
		v := strings.ToLower(fmt.Sprint(row[0]))
		tables.Views[v] = append(tables.Views[v], policy.ViewOpaque)
		return nil
	})
	for v, reads := range tables.Views {
		slices.Sort(reads)
		tables.Views[v] = slices.Compact(reads)
	}
	return err
}

// readMyViewReads is readViewReads on MySQL, which has no view-usage
// table: each view's definition is parsed (policy.MySQLViewReads), and
// the reads of the views it reads are added to its own.
func (s *Server) readMyViewReads(ctx context.Context, t *TenantState, tables *policy.Tables) error {
	direct := map[string][]string{}
	_, err := s.SystemQuery(ctx, t, myCatalogViews, func(row []any) error {
		if len(row) != 2 {
			return fmt.Errorf("catalog views: %d columns, want 2", len(row))
		}
		def := ""
		if row[1] != nil {
			def = fmt.Sprint(row[1])
		}
		direct[strings.ToLower(fmt.Sprint(row[0]))] = policy.MySQLViewReads(def, tables.Funcs)
		return nil
	})
	if err != nil {
		return err
	}
	for v := range direct {
		seen := map[string]bool{v: true}
		var reads []string
		queue := slices.Clone(direct[v])
		for len(queue) > 0 {
			rel := queue[0]
			queue = queue[1:]
			if seen[rel] {
				continue
			}
			seen[rel] = true
			reads = append(reads, rel)
			queue = append(queue, direct[rel]...)
		}
		slices.Sort(reads)
		tables.Views[v] = reads
	}
	return nil
}

// readRefusedViews finds the views a row tenant may not read: those that
// read tenant tables but lack the tenant column (filtering them is
// impossible), and those that call a function of the shared database or
// whose definition cannot be read (policy.ViewOpaque: what they read is not
// filtered). On Postgres the views' dependencies are exact (pg_depend);
// MariaDB has no view-usage table, so each definition is parsed.
func (s *Server) readRefusedViews(ctx context.Context, t *TenantState, col string, tables *policy.Tables) error {
	const why = "it reads tenant tables but has no tenant column to filter on; add the column to the view"
	const opaque = "it calls a function defined in the shared database, or its definition cannot be read, so what it reads is not filtered to the tenant"
	if t.Engine == EnginePostgres {
		_, err := s.SystemQuery(ctx, t, fmt.Sprintf(pgCatalogViews, pgQuoteLiteral(col)), func(row []any) error {
			if len(row) == 1 {
				tables.Refused[strings.ToLower(fmt.Sprint(row[0]))] = why
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Functions defined in the database (not the server's own): their
	// bodies read the shared tables unfiltered.
	if err := s.readOwnFuncs(ctx, t, tables); err != nil {
		return err
	}
	if err := s.readViewReads(ctx, t, tables); err != nil {
		return err
	}
	for v, reads := range tables.Views {
		for _, rel := range reads {
			switch {
			case rel == policy.ViewOpaque:
				tables.Refused[v] = opaque
			case t.Engine == EngineMySQL && tables.Tenant[rel] && !tables.Tenant[v] && tables.Refused[v] == "":
				tables.Refused[v] = why
			}
		}
	}
	return nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case string:
		return x == "t" || x == "1" || x == "true"
	}
	return fmt.Sprint(v) == "1"
}

// myQuoteLiteral quotes s as a MySQL string literal (the proxy's own
// catalog queries only; s is a validated identifier).
func myQuoteLiteral(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// pgCatalogRelations lists every relation name of the database (all
// schemas, temporary ones included; sequences are known, never tenant
// tables) and whether it has the tenant column.
const pgCatalogRelations = `SELECT lower(c.relname::text),
  bool_or(a.attnum IS NOT NULL)
FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
  AND NOT a.attisdropped AND lower(a.attname::text) = %s
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
GROUP BY 1`

// pgCatalogKeys lists the unique indexes (primary keys included) of user
// tables that do not include the tenant column.
const pgCatalogKeys = `SELECT lower(c.relname::text), i.relname::text
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE x.indisunique AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = c.oid AND lower(a.attname::text) = %[1]s AND a.attnum = ANY (x.indkey))
ORDER BY 1, 2`

// pgViewDeps is a CTE of (view, relation its rules read), through views to
// the tables beneath, by oid.
const pgViewDeps = `deps(view, ref) AS (
  SELECT r.ev_class, d.refobjid
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> r.ev_class
  UNION
  SELECT deps.view, d.refobjid
  FROM deps
  JOIN pg_catalog.pg_rewrite r ON r.ev_class = deps.ref
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> r.ev_class
)`

// pgCatalogViews lists the views and materialized views without the tenant
// column whose rules read, directly or through other views, a relation that
// has it.
const pgCatalogViews = `WITH RECURSIVE ` + pgViewDeps + `
SELECT DISTINCT lower(v.relname::text)
FROM deps
JOIN pg_catalog.pg_class v ON v.oid = deps.view
WHERE v.relkind IN ('v', 'm')
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = deps.ref AND a.attnum > 0
    AND NOT a.attisdropped AND lower(a.attname::text) = %[1]s)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = v.oid AND a.attnum > 0
    AND NOT a.attisdropped AND lower(a.attname::text) = %[1]s)`

// pgCatalogFuncs lists the names that r.f, on a table's row r, may resolve
// to other than a column: the functions and procedures of user schemas,
// domains over a row type (r.d is the cast d(r)), and the target types of
// casts from a row type (r.tsvector after CREATE CAST (t AS tsvector));
// and the names that call a function of a user schema without naming it:
// the operators of user schemas and the target types of casts made with
// such a function (but not those an extension made: its operators, such as
// PostGIS's =, would refuse every comparison).
// Postgres has no built-in cast from a row type; pgRowFuncs lists its
// built-in functions over one. %[1]s limits the schemas read (a schema
// tenant's own: it must not learn the names in the other tenants').
const pgCatalogFuncs = `WITH RECURSIVE rowtypes(oid) AS (
  SELECT t.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype = 'c' %[1]s
  UNION
  SELECT d.oid FROM pg_catalog.pg_type d JOIN rowtypes r ON d.typbasetype = r.oid WHERE d.typtype = 'd'
), ` + pgFnDomains + `
SELECT lower(p.proname::text)
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%' %[1]s
UNION
SELECT lower(d.typname::text) FROM pg_catalog.pg_type d WHERE d.typtype = 'd' AND d.oid IN (SELECT oid FROM rowtypes)
UNION
SELECT lower(tt.typname::text)
FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type tt ON tt.oid = c.casttarget
WHERE c.castsource IN (SELECT oid FROM rowtypes)
UNION
SELECT o.oprname::text
FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%' %[1]s
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass
    AND e.objid = o.oid AND e.deptype = 'e')
UNION
SELECT lower(tt.typname::text)
FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type tt ON tt.oid = c.casttarget
JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%' %[1]s
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass
    AND e.objid = c.oid AND e.deptype = 'e')
UNION
SELECT lower(t.typname::text)
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid IN (SELECT oid FROM fndomains) %[1]s`

// pgFnDomains is a CTE of the domains whose CHECK constraints call a
// function of a user schema, and the domains over them: a cast to one
// calls the function unnamed.
const pgFnDomains = `fndomains(oid) AS (
  SELECT con.contypid
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objid = con.oid
    AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
  JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
  WHERE con.contypid <> 0 AND pn.nspname NOT IN ('pg_catalog', 'information_schema') AND pn.nspname NOT LIKE 'pg\_%%'
  UNION
  SELECT d.oid FROM pg_catalog.pg_type d JOIN fndomains f ON d.typbasetype = f.oid WHERE d.typtype = 'd'
)`

// pgCatalogCastHazards lists the implicit and assignment casts made with a
// function of a user schema (not by an extension): Postgres applies them
// unasked, so no statement can be known not to call the function.
const pgCatalogCastHazards = `SELECT c.castsource::pg_catalog.regtype::text, c.casttarget::pg_catalog.regtype::text, p.proname::text
FROM pg_catalog.pg_cast c
JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE c.castcontext IN ('i', 'a') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass
    AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY 1, 2`

// pgCatalogViewReads lists (view, relation it reads) for the views and
// materialized views of user schemas, through views to the tables beneath;
// %[1]s limits the views' schemas as in pgCatalogFuncs.
const pgCatalogViewReads = `WITH RECURSIVE ` + pgViewDeps + `
SELECT DISTINCT lower(v.relname::text), lower(b.relname::text)
FROM deps
JOIN pg_catalog.pg_class v ON v.oid = deps.view
JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
JOIN pg_catalog.pg_class b ON b.oid = deps.ref
WHERE v.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%%' %[1]s`

// pgViewsQuery is pgCatalogViewReads for tenant t, as pgFuncsQuery.
func pgViewsQuery(t *TenantState) string { return fmt.Sprintf(pgCatalogViewReads, schemaFilter(t)) }

// pgFuncsQuery is pgCatalogFuncs for tenant t: a schema tenant's schema
// only, every user schema of a database or row tenant.
func pgFuncsQuery(t *TenantState) string { return fmt.Sprintf(pgCatalogFuncs, schemaFilter(t)) }

// schemaFilter limits a catalog query's schemas n to a schema tenant's own.
func schemaFilter(t *TenantState) string {
	if t.Scope.Isolation == policy.IsolationSchema {
		return "AND n.nspname = " + pgQuoteLiteral(t.Scope.Schema)
	}
	return ""
}

// pgCatalogViewFuncs lists the views and materialized views of user
// schemas whose rules call a function of a user schema (by name, by a cast
// or by an operator of a user schema not made by an extension), themselves
// or in a view they read (through other views); %[1]s limits the views'
// schemas as in pgCatalogFuncs.
const pgCatalogViewFuncs = `WITH RECURSIVE ` + pgFnDomains + `, ` + pgViewDeps + `, calls(rel) AS (
  SELECT r.ev_class
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
    AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
  JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
  WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema') AND pn.nspname NOT LIKE 'pg\_%%'
  UNION
  SELECT r.ev_class
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
    AND d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass
  JOIN pg_catalog.pg_operator o ON o.oid = d.refobjid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = o.oprnamespace
  WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema') AND pn.nspname NOT LIKE 'pg\_%%'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass
      AND e.objid = o.oid AND e.deptype = 'e')
  UNION
  SELECT r.ev_class
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
    AND d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass
  WHERE d.refobjid IN (SELECT oid FROM fndomains)
)
SELECT DISTINCT lower(v.relname::text)
FROM pg_catalog.pg_class v
JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace
WHERE v.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%%' %[1]s
  AND (v.oid IN (SELECT rel FROM calls)
    OR EXISTS (SELECT 1 FROM deps WHERE deps.view = v.oid AND deps.ref IN (SELECT rel FROM calls)))`

// myCatalogFuncs lists the stored functions of the tenant's database.
const myCatalogFuncs = `SELECT LOWER(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION'`

// myCatalogViews lists the views of the tenant's database and their text.
const myCatalogViews = `SELECT LOWER(TABLE_NAME), VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()`

// myCatalogRelations lists the tables and views of the tenant's database
// and whether each has the tenant column.
const myCatalogRelations = `SELECT LOWER(t.TABLE_NAME),
  MAX(c.COLUMN_NAME IS NOT NULL)
FROM information_schema.TABLES t
LEFT JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA
  AND c.TABLE_NAME = t.TABLE_NAME AND LOWER(c.COLUMN_NAME) = %s
WHERE t.TABLE_SCHEMA = DATABASE()
GROUP BY 1`

// myCatalogKeys lists the unique keys of the database's tables that do not
// include the tenant column.
const myCatalogKeys = `SELECT LOWER(TABLE_NAME), INDEX_NAME
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0
GROUP BY TABLE_NAME, INDEX_NAME
HAVING SUM(LOWER(COLUMN_NAME) = %s) = 0
ORDER BY 1, 2`

// CheckCatalogs reads the catalog of every row tenant of cfg that lists
// tenant_tables and reports the listed tables that do not exist or lack the
// tenant column (a config error, at start and on reload). A tenant whose
// backend cannot be reached is logged and skipped: its statements are
// refused until its catalog can be read.
func (s *Server) CheckCatalogs(ctx context.Context, cfg Config) error {
	var errs []error
	live := s.reg.Load().tenants
	for _, tc := range cfg.Tenants {
		if tc.Scope.Isolation != policy.IsolationRow || len(tc.Scope.TenantTables) == 0 {
			continue
		}
		ts := live[tc.ID]
		if ts == nil || !sameTenant(ts.Tenant, tc) {
			ts = &TenantState{Tenant: tc}
			switch {
			case tc.Engine == EnginePostgres && tc.PGConfig != nil:
				ts.PGPool = pool.New(tc.ID, tc.Pool, s.pgDialer(ts, tc.PGConfig), pool.PingPostgres)
			case tc.Engine == EngineMySQL && tc.MySQL != nil:
				ts.MySQLPool = pool.New(tc.ID, tc.Pool, s.mysqlDialer(ts, tc.MySQL), pool.PingMySQL)
			}
			defer ts.closePools()
		}
		cctx, cancel := context.WithTimeout(ctx, catalogTimeout)
		_, err := s.readCatalog(cctx, ts)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, ErrTenantTables):
			errs = append(errs, err)
		default:
			s.log.Warn("catalog_check_skipped", "tenant", tc.ID, "error", err)
		}
	}
	return errors.Join(errs...)
}
