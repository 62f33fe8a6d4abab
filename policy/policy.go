// Package policy owns users' roles and the analysis of every statement on its
// dialect's real parse tree: classification, allow/deny by role, LIMIT
// injection, row filters, column-mask guards and cross-tenant reference
// blocking, with a cache of rewrites.
//
// The package knows nothing of sockets or pools: callers hand it a Subject
// (who runs the statement, on which tenant, under which role) and SQL text, and
// get back a Decision or an *sqlerr.Error.
package policy

// Dialect is the SQL dialect of a statement.
type Dialect uint8

// Dialects.
const (
	Postgres Dialect = iota + 1
	MySQL
	SQLite // the subset SQLite and Postgres read alike (sqlite.go)
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return "unknown"
}

// Access is a role's access level.
type Access uint8

// Access levels, each including the ones before it.
const (
	AccessRead  Access = iota + 1 // SELECT and harmless utility statements
	AccessWrite                   // plus INSERT/UPDATE/DELETE/MERGE
	AccessAdmin                   // plus DDL and everything else within the tenant
)

// Class is what a statement does.
type Class uint8

// Statement classes.
const (
	ClassRead    Class = iota + 1 // SELECT, SHOW, EXPLAIN (without ANALYZE of a write), VALUES, TABLE
	ClassWrite                    // INSERT, UPDATE, DELETE, MERGE, COPY FROM, SELECT ... FOR UPDATE
	ClassDDL                      // CREATE, ALTER, DROP, TRUNCATE, GRANT, COMMENT, ...
	ClassTx                       // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...
	ClassSession                  // SET, RESET, DISCARD, SHOW of a setting
	ClassUtility                  // everything else (ANALYZE, VACUUM, LISTEN, CALL, DO, ...)
)

// String returns the class name used in messages and metrics.
func (c Class) String() string {
	switch c {
	case ClassRead:
		return "read"
	case ClassWrite:
		return "write"
	case ClassDDL:
		return "ddl"
	case ClassTx:
		return "transaction"
	case ClassSession:
		return "session"
	case ClassUtility:
		return "utility"
	}
	return "unknown"
}

// Isolation is how a tenant's data is separated from other tenants'.
type Isolation string

// Isolation models.
const (
	IsolationDatabase Isolation = "database" // the tenant owns a whole backend database
	IsolationSchema   Isolation = "schema"   // the tenant owns one schema of a shared database
	IsolationRow      Isolation = "row"      // tenants share tables, filtered on a tenant column
)

// Mask styles for masked columns.
const (
	MaskStars = "stars" // the value is replaced by "****"
	MaskHash  = "hash"  // the value is replaced by a hex SHA-256 prefix
	MaskNull  = "null"  // the value is replaced by NULL
)

// Role is what a user may do on one tenant. Built-in roles are viewer, analyst,
// editor and admin; config may override them per tenant or add custom ones.
type Role struct {
	Name          string
	Access        Access
	MaxRows       int               // 0: no cap
	AllowedTables []string          // empty: all tables; else only these
	DeniedTables  []string          // never these
	RowFilters    map[string]string // table -> predicate with {{tenant}}, {{user}}
	MaskedColumns []string          // "table.column"
	Mask          string            // MaskStars (default), MaskHash or MaskNull
}

// Scope describes what one tenant owns on its backend, for cross-tenant
// blocking and row filtering.
type Scope struct {
	Tenant       string    // the tenant id
	Isolation    Isolation // database, schema or row
	Database     string    // backend database name (what MySQL clients must never see)
	Schema       string    // the tenant's schema (schema isolation, Postgres)
	TenantColumn string    // row isolation: the column every shared table is filtered on
	TenantValue  string    // row isolation: this tenant's value of it
	// TenantTables lists, for row isolation, the tables the config names as
	// carrying TenantColumn (lower-case, unqualified). It is optional: the
	// proxy checks the list against the tenant's live catalog and adds every
	// other relation that has the column (Subject.Tables).
	TenantTables []string
}

// Tables is a snapshot of a row tenant's live catalog: which relations
// (tables, views, partitions, foreign tables) carry the tenant column, and
// which relation names exist at all, so that a statement naming a relation
// the snapshot does not know can be decided again on a fresh one. Names are
// lower-case and unqualified: a name that has the column in any schema is
// filtered wherever it is used.
type Tables struct {
	// Gen identifies the snapshot; decisions are cached per snapshot.
	Gen uint64
	// Tenant holds the relations that have the tenant column.
	Tenant map[string]bool
	// Known holds every relation name of the catalog.
	Known map[string]bool
	// Refused holds relations that read tenant tables but have no tenant
	// column to filter on (views over tenant tables), with the reason: a
	// statement naming one is refused.
	Refused map[string]string
	// Funcs holds the names of functions defined in the database's own
	// schemas (Postgres) or the database itself (MySQL stored functions):
	// their bodies read the tables unfiltered and unmasked, so neither a
	// row tenant nor a masked role may call them.
	Funcs map[string]bool
	// Views holds, for each view (and materialized view), the relations it
	// reads, through other views too, and ViewOpaque when it calls a
	// function of Funcs or its definition could not be analysed: a masked
	// role may not read a masked table through one.
	Views map[string][]string
	// Hazard, when set, says why no statement of a row tenant or of a role
	// with read rules can be known to stay within them (an implicit cast
	// made with a function of the database): every one is refused.
	Hazard string
}

// ViewOpaque in a view's reads (Tables.Views) stands for what the proxy
// cannot see: a function of the database called by the view, or a
// definition it could not read or parse. It counts as reading every table.
const ViewOpaque = "*"

// Unknown returns the tables of d's statements that the snapshot does not
// know (nil when it knows them all).
func (t *Tables) Unknown(d *Decision) []string {
	var out []string
	for _, st := range d.Stmts {
		for _, name := range st.Tables {
			if !t.Known[name] {
				out = append(out, name)
			}
		}
	}
	return out
}

// Subject is who runs a statement: user, tenant scope and role. Version changes
// whenever the role or scope changes, so cached rewrites are never reused
// across policy changes.
type Subject struct {
	User    string
	Scope   *Scope
	Role    *Role
	Version uint64
	// Tables is the row tenant's live catalog snapshot; nil means only
	// Scope.TenantTables are tenant tables.
	Tables *Tables
}

// tenantTable reports whether rel (lower-case, unqualified) is filtered on
// the tenant column.
func (s Subject) tenantTable(rel string) bool {
	if s.Scope.Isolation != IsolationRow || s.Scope.TenantColumn == "" {
		return false
	}
	if s.Tables != nil && (s.Tables.Tenant[rel] || !s.Tables.Known[rel]) {
		// A relation the snapshot does not know may be created before the
		// statement runs: it is filtered as a tenant table (fail closed).
		return true
	}
	for _, t := range s.Scope.TenantTables {
		if lower(t) == rel {
			return true
		}
	}
	return false
}

// refusedTable returns why rel may not be read in row isolation ("" when it may).
func (s Subject) refusedTable(rel string) string {
	if s.Scope.Isolation != IsolationRow || s.Tables == nil {
		return ""
	}
	return s.Tables.Refused[rel]
}

// hasTenantTables reports whether any table is filtered on the tenant column.
func (s Subject) hasTenantTables() bool {
	if s.Scope.Isolation != IsolationRow || s.Scope.TenantColumn == "" {
		return false
	}
	return len(s.Scope.TenantTables) > 0 || s.Tables != nil
}

// SetKind is what a session statement does to a setting.
type SetKind uint8

// Session statement kinds.
const (
	SetValue    SetKind = iota + 1 // SET name = value / SET name TO value
	SetDefault                     // SET name TO DEFAULT / RESET name
	SetResetAll                    // RESET ALL
	SetDiscard                     // DISCARD ALL
)

// SetVar is a session setting change found in a statement (Postgres SET /
// RESET, MySQL SET [SESSION] var = value). The proxy tracks these to replay
// them on whichever backend connection serves the session, and intercepts
// the proxy's own settings (tenant).
type SetVar struct {
	Kind  SetKind
	Name  string // lower-case setting name ("" for SetResetAll / SetDiscard)
	Value string // the value as a string literal's contents or the deparsed expression
	Local bool   // SET LOCAL: lasts until the end of the transaction
	SQL   string // the statement's deparsed text, to replay it
}

// Stmt is the analysis of one statement of a (possibly multi-statement) text.
type Stmt struct {
	Class Class
	Kind  string  // upper-case statement keyword for messages: "SELECT", "INSERT", "CREATE TABLE"
	Set   *SetVar // non-nil for session statements that change a setting
	// ShowVar is the lower-case setting name for SHOW name (Postgres) /
	// SELECT @@name forms the proxy answers itself ("tenant").
	ShowVar string
	// Pins reports that the statement creates session state that cannot be
	// replayed on another backend connection (temporary tables, LISTEN,
	// session advisory locks, SQL-level PREPARE, cursors WITH HOLD, user
	// variables in MySQL): the proxy pins the session to its connection.
	Pins bool
	// TenantSwitch is the tenant id of `SET tenant = 'x'` (Postgres) or
	// `USE x` (MySQL), for the proxy to handle; the statement is not sent on.
	TenantSwitch string
	// KillID is the connection id of a MySQL KILL [CONNECTION|QUERY] id
	// (Kind "KILL"), for the proxy to authorize and map onto its own
	// connection ids; the statement must not be sent on unchanged.
	KillID uint64
	// KillQuery reports KILL QUERY (cancel the statement) rather than KILL
	// [CONNECTION] (close the connection).
	KillQuery bool
	// Output describes the result columns of a MySQL SELECT or TABLE that
	// reads a table with masked columns: the front end masks by position
	// and checks the backend's column definitions against it.
	Output *Output
	// Tables lists the lower-case, unqualified names of the tables the
	// statement references (CTE names excluded), for result-cache
	// invalidation and audit.
	Tables []string
	// Cap, when positive, is the row cap of a statement whose result the
	// front end counts: the backend was given LIMIT Cap+1, so the front end
	// forwards at most Cap rows and knows rows were withheld exactly when
	// row Cap+1 arrives. Statements whose rows the front end cannot count
	// (COPY, cursors, SQL-level PREPARE) get LIMIT Cap exactly and Cap 0.
	Cap int
}

// Decision is the outcome of checking a text that is allowed to run.
type Decision struct {
	// Digest is the text's statement fingerprint (see Fingerprint), ""
	// when it has none; texts differing only in literals share it.
	Digest string

	SQL       string // the text to send to the backend (rewritten or the original)
	Rewritten bool
	Stmts     []Stmt
	// Capped reports that a LIMIT was injected or lowered for MaxRows. It
	// does not mean rows were withheld: that is known only while relaying
	// (see Stmt.Cap).
	Capped  bool
	MaxRows int // the role's cap when Capped
	// Masked lists the "table.column" masks of the role whose tables the
	// statement reads; the front end masks those columns in the rows.
	Masked []string
	// MaskOutput (Postgres) reports that a statement's top-level output
	// carries masked columns (one named in the select list, or a * over a
	// table with some): the front end must find their origin and mask them.
	// When Masked is set but MaskOutput is not, the statements read such
	// tables without a masked value able to reach the result (every other
	// use of a masked column is refused), so there is nothing to mask.
	MaskOutput bool
	// Subst lists spans of SQL that the front end fills in with values only
	// it knows (MySQL: the proxy's connection id, the user); see Fill.
	Subst []Subst
	// OutputMasks are, for SQLite, the positions of the result's columns
	// that are masked (decided on the tree: SQLite reports no column origin).
	OutputMasks []int
	// rendered: SQL is the policy's own rendering, always sent (SQLite).
	rendered bool
	// maskOut reports that the top-level output carries masked columns (a
	// MySQL PREPARE of such a text is refused: EXECUTE names no table).
	maskOut bool
}

// ReadOnly reports whether the decision's statements only read and leave no
// session state behind: such statements may run on a read replica.
func (d *Decision) ReadOnly() bool {
	if len(d.Stmts) == 0 {
		return false
	}
	for _, st := range d.Stmts {
		if st.Class != ClassRead || st.Set != nil || st.Pins || st.TenantSwitch != "" || st.ShowVar != "" {
			return false
		}
	}
	return true
}

// Class returns the most far-reaching class among the statements.
func (d *Decision) Class() Class {
	var c Class
	for _, s := range d.Stmts {
		if rank(s.Class) > rank(c) {
			c = s.Class
		}
	}
	return c
}

func rank(c Class) int {
	switch c {
	case ClassRead:
		return 1
	case ClassTx, ClassSession:
		return 2
	case ClassUtility:
		return 3
	case ClassWrite:
		return 4
	case ClassDDL:
		return 5
	}
	return 0
}
