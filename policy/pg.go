package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// checkPG analyses a Postgres text. The bool reports whether the decision may
// be reused for texts that differ only in literals (no literal value was read
// and every statement is a plain SELECT/INSERT/UPDATE/DELETE).
func (e *Engine) checkPG(s Subject, sql string) (*result, bool) {
	tree, err := pg.Parse(sql)
	if err != nil {
		return &result{err: sqlerr.Wrap(sqlerr.Syntax, err, "syntax error: %s", err.Error())}, false
	}
	dec := &Decision{SQL: sql}
	tmplSafe := true
	rewritten := make([]bool, len(tree.Stmts))
	masked := map[string]bool{}
	for i, raw := range tree.Stmts {
		a := &pgStmt{e: e, s: s, role: s.Role, scope: s.Scope, raw: raw, src: sql}
		st, err := a.analyze()
		if err != nil {
			return &result{err: err}, false
		}
		if a.litDep || !a.plainDML {
			tmplSafe = false
		}
		if a.rewritten {
			rewritten[i] = true
			dec.Rewritten = true
		}
		if a.capped {
			dec.Capped = true
			dec.MaxRows = s.Role.MaxRows
		}
		for _, m := range a.masks {
			masked[m] = true
		}
		if a.maskOut {
			dec.MaskOutput = true
		}
		dec.Stmts = append(dec.Stmts, st)
	}
	for m := range masked {
		dec.Masked = append(dec.Masked, m)
	}
	sort.Strings(dec.Masked)
	if dec.Rewritten {
		out, err := pgSplice(tree, sql, rewritten)
		if err != nil {
			return &result{err: sqlerr.Wrap(sqlerr.Internal, err, "internal error while rewriting the statement")}, false
		}
		dec.SQL = out
	}
	return &result{dec: dec}, tmplSafe
}

// pgSplice replaces the rewritten statements' text by their deparsed form and
// keeps the others byte for byte.
func pgSplice(tree *pg.ParseResult, sql string, rewritten []bool) (string, error) {
	var b strings.Builder
	last := 0
	for i, raw := range tree.Stmts {
		if !rewritten[i] {
			continue
		}
		out, err := pgDeparseOne(tree.Version, raw.Stmt)
		if err != nil {
			return "", err
		}
		start := int(raw.StmtLocation)
		end := len(sql)
		if raw.StmtLen > 0 {
			end = start + int(raw.StmtLen)
		}
		if start < last || end > len(sql) || start > end {
			return "", fmt.Errorf("policy: bad statement bounds %d..%d", start, end)
		}
		// Keep leading whitespace and comments of the slot.
		lead := start
		for lead < end && (sql[lead] == ' ' || sql[lead] == '\n' || sql[lead] == '\t' || sql[lead] == '\r') {
			lead++
		}
		b.WriteString(sql[last:lead])
		b.WriteString(out)
		last = end
	}
	b.WriteString(sql[last:])
	return b.String(), nil
}

func pgDeparseOne(version int32, n *pg.Node) (string, error) {
	return pg.Deparse(&pg.ParseResult{Version: version, Stmts: []*pg.RawStmt{{Stmt: n}}})
}

// pgStmt is the analysis of one statement.
type pgStmt struct {
	e     *Engine
	s     Subject
	role  *Role
	scope *Scope
	raw   *pg.RawStmt
	src   string

	st        Stmt
	litDep    bool // a literal's value was read while deciding
	plainDML  bool // SELECT/INSERT/UPDATE/DELETE/VALUES at top level
	rewritten bool
	capped    bool
	masks     []string
	maskOut   bool // the top-level output carries masked columns (checkMasks)

	// collected by the walk
	ctes     []map[string]bool // CTE names in scope, innermost last
	refs     map[*pg.RangeVar]bool
	tables   map[string]bool
	selects  []*pg.SelectStmt
	updates  []*pg.UpdateStmt
	deletes  []*pg.DeleteStmt
	rangeNms map[string]bool // relation names and aliases, for whole-row refs
	dmlCTE   bool
	locking  bool
	writeFn  bool // calls a function that changes state (setval, lo_unlink, ...)
	pins     bool
	// catalog visibility (pgcatalog.go)
	catalogFiltered bool        // a catalog relation read needs its filter
	setConfig       *SetVar     // a standalone SELECT set_config(...), tracked like SET
	guards          []oidGuard  // oid values shown only when they are the tenant's
	dbGuards        []**pg.Node // database names/oids kept only when they are its own
	err             *sqlerr.Error
	visited         map[protoreflect.ProtoMessage]bool
}

func (a *pgStmt) tenant() string { return a.scope.Tenant }

func (a *pgStmt) permission(kind string, class Class) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: role %q may not run %s (%s) on tenant %q",
		a.role.Name, kind, class, a.tenant())
}

func (a *pgStmt) privilege(what string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q", what, a.tenant())
}

// unchecked refuses statements whose code (function bodies, DO blocks,
// extensions, languages) the proxy cannot check and the backend would run as
// its own, possibly superuser, role: for every role in every isolation model.
func (a *pgStmt) unchecked(what string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q (code the proxy cannot check would run as the backend user)", what, a.tenant())
}

// rowDDL refuses DDL in row isolation: tenants share the schema, so any
// object an admin creates, alters or drops is every tenant's.
func (a *pgStmt) rowDDL(kind string) *sqlerr.Error {
	return sqlerr.New(sqlerr.CrossTenant, "permission denied: %s is not allowed on tenant %q (row isolation: the schema and its tables are shared with other tenants)", kind, a.tenant())
}

// pgTempRel reports whether rv names a temporary relation (TEMP/TEMPORARY or
// qualified with pg_temp).
func pgTempRel(rv *pg.RangeVar) bool {
	return rv != nil && (rv.Relpersistence == "t" || lower(rv.Schemaname) == "pg_temp")
}

// pgSessionLocalDDL reports DDL that only creates (or drops) objects private
// to the session: CREATE TEMP TABLE [AS], SELECT INTO TEMP, DROP of pg_temp.x.
// Row isolation allows it (its queries are row-filtered like any other).
func pgSessionLocalDDL(n *pg.Node) bool {
	switch x := n.Node.(type) {
	case *pg.Node_CreateStmt:
		return pgTempRel(x.CreateStmt.Relation) && len(x.CreateStmt.InhRelations) == 0 && x.CreateStmt.Partbound == nil
	case *pg.Node_CreateTableAsStmt:
		return x.CreateTableAsStmt.Objtype == pg.ObjectType_OBJECT_TABLE && x.CreateTableAsStmt.Into != nil && pgTempRel(x.CreateTableAsStmt.Into.Rel)
	case *pg.Node_SelectStmt:
		return x.SelectStmt.IntoClause != nil && pgTempRel(x.SelectStmt.IntoClause.Rel)
	case *pg.Node_DropStmt:
		if x.DropStmt.RemoveType != pg.ObjectType_OBJECT_TABLE || len(x.DropStmt.Objects) == 0 {
			return false
		}
		for _, o := range x.DropStmt.Objects {
			names := pgNames(o.GetList().GetItems())
			if len(names) != 2 || lower(names[0]) != "pg_temp" {
				return false
			}
		}
		return true
	}
	return false
}

// pgInternalPrefix starts the names of the statements the proxy prepares on
// shared backend connections.
const pgInternalPrefix = "tp_"

// internalName refuses SQL-level PREPARE, EXECUTE and DEALLOCATE of a name
// in the proxy's own namespace, for every role: those statements belong to
// other clients of the shared backend connection.
func (a *pgStmt) internalName(kind, name string) *sqlerr.Error {
	if strings.HasPrefix(lower(name), pgInternalPrefix) {
		return sqlerr.New(sqlerr.Permission,
			"permission denied: %s of %q: prepared statement names starting with %q are reserved by the proxy", kind, name, pgInternalPrefix)
	}
	return nil
}

// pgStandaloneSetConfig returns the setting change of a statement that is
// exactly SELECT [pg_catalog.]set_config('name', 'value', true|false), or nil.
//
// pg_dump's form SELECT set_config(name, 'value', false) FROM pg_settings
// WHERE name = 'name' (set it only where the server has it) counts too.
func pgStandaloneSetConfig(sel *pg.SelectStmt) *SetVar {
	settingsName := ""
	if len(sel.FromClause) == 1 && sel.WhereClause != nil {
		rv := sel.FromClause[0].GetRangeVar()
		w := sel.WhereClause.GetAExpr()
		if rv == nil || lower(rv.Relname) != "pg_settings" || rv.Schemaname != "" && lower(rv.Schemaname) != "pg_catalog" ||
			rv.Alias != nil || w == nil || w.Kind != pg.A_Expr_Kind_AEXPR_OP || len(w.Name) != 1 || w.Name[0].GetString_().GetSval() != "=" {
			return nil
		}
		c := w.Lexpr.GetColumnRef()
		v, ok := pgConstString(w.Rexpr)
		if c == nil || len(c.Fields) != 1 || lower(c.Fields[0].GetString_().GetSval()) != "name" || !ok {
			return nil
		}
		settingsName = v
	} else if len(sel.FromClause) != 0 || sel.WhereClause != nil {
		return nil
	}
	if len(sel.TargetList) != 1 || sel.WithClause != nil ||
		sel.Larg != nil || len(sel.GroupClause) != 0 || sel.HavingClause != nil || sel.LimitCount != nil ||
		len(sel.SortClause) != 0 || len(sel.DistinctClause) != 0 || sel.LimitOffset != nil {
		return nil
	}
	f := sel.TargetList[0].GetResTarget().GetVal().GetFuncCall()
	if f == nil || len(f.Args) != 3 || f.AggStar || f.Over != nil || f.AggFilter != nil || len(f.AggOrder) != 0 {
		return nil
	}
	names := pgNames(f.Funcname)
	if len(names) == 0 || lower(names[len(names)-1]) != "set_config" || len(names) == 2 && lower(names[0]) != "pg_catalog" || len(names) > 2 {
		return nil
	}
	name, ok1 := pgConstString(f.Args[0])
	if settingsName != "" {
		c := f.Args[0].GetColumnRef()
		name, ok1 = settingsName, c != nil && len(c.Fields) == 1 && lower(c.Fields[0].GetString_().GetSval()) == "name"
	}
	val, ok2 := pgConstString(f.Args[1])
	local := f.Args[2].GetAConst().GetBoolval()
	if !ok1 || !ok2 || local == nil {
		return nil
	}
	name = lower(strings.TrimSpace(name))
	if name == "" || strings.ContainsAny(name, "\"'; \t\n") {
		return nil
	}
	sql := "SET "
	if local.Boolval {
		sql += "LOCAL "
	}
	sql += name + " TO '" + strings.ReplaceAll(val, "'", "''") + "'"
	return &SetVar{Kind: SetValue, Name: name, Value: val, Local: local.Boolval, SQL: sql}
}

// pgAtAtTenant reports SELECT @@tenant (no FROM, one target).
func pgAtAtTenant(sel *pg.SelectStmt) bool {
	if len(sel.TargetList) != 1 || len(sel.FromClause) != 0 || sel.WhereClause != nil || sel.WithClause != nil ||
		sel.Larg != nil || len(sel.GroupClause) != 0 || sel.HavingClause != nil || sel.LimitCount != nil ||
		len(sel.SortClause) != 0 || len(sel.DistinctClause) != 0 || sel.LimitOffset != nil {
		return false
	}
	rt := sel.TargetList[0].GetResTarget()
	if rt == nil {
		return false
	}
	e := rt.Val.GetAExpr()
	if e == nil || e.Kind != pg.A_Expr_Kind_AEXPR_OP || e.Lexpr != nil || len(e.Name) != 1 || e.Name[0].GetString_().GetSval() != "@@" {
		return false
	}
	c := e.Rexpr.GetColumnRef()
	return c != nil && len(c.Fields) == 1 && lower(c.Fields[0].GetString_().GetSval()) == "tenant"
}

func (a *pgStmt) outside(kind, name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.CrossTenant, "%s %q is outside tenant %q", kind, name, a.tenant())
}

func (a *pgStmt) fail(err *sqlerr.Error) {
	if a.err == nil {
		a.err = err
	}
}

// analyze classifies, checks and rewrites the statement.
func (a *pgStmt) analyze() (Stmt, *sqlerr.Error) {
	n := a.raw.Stmt
	class, kind, err := a.classify(n)
	if err != nil {
		return Stmt{}, err
	}
	a.st.Class, a.st.Kind = class, kind
	if class == ClassDDL && a.scope.Isolation == IsolationRow && !pgSessionLocalDDL(n) {
		return Stmt{}, a.rowDDL(kind)
	}
	if class == ClassSession || class == ClassTx {
		// SET/SHOW/RESET/DISCARD/BEGIN...: nothing to walk beyond what
		// classify looked at, except SET's args (constants only).
		if err := a.access(); err != nil {
			return Stmt{}, err
		}
		return a.st, nil
	}
	if err := a.catalogWrites(n); err != nil {
		return Stmt{}, err
	}
	a.refs = map[*pg.RangeVar]bool{}
	a.tables = map[string]bool{}
	a.rangeNms = map[string]bool{}
	a.walk(n)
	if a.err != nil {
		return Stmt{}, a.err
	}
	if a.scope.Isolation == IsolationSchema {
		if err := pgRegPolymorphic(n); err != nil {
			return Stmt{}, err
		}
	}
	if a.dmlCTE || a.locking || a.writeFn {
		if rank(a.st.Class) < rank(ClassWrite) {
			a.st.Class = ClassWrite
		}
	}
	if a.pins {
		a.st.Pins = true
	}
	if a.setConfig != nil {
		a.st.Set = a.setConfig
	}
	if err := a.access(); err != nil {
		return Stmt{}, err
	}
	if err := a.applyGuards(); err != nil {
		return Stmt{}, err
	}
	for t := range a.tables {
		a.st.Tables = append(a.st.Tables, t)
	}
	sort.Strings(a.st.Tables)
	if err := a.viewRules(); err != nil {
		return Stmt{}, err
	}
	if err := a.checkMasks(); err != nil {
		return Stmt{}, err
	}
	if err := a.rowFilters(); err != nil {
		return Stmt{}, err
	}
	if a.role.MaxRows > 0 {
		a.capTop()
	}
	return a.st, nil
}

// access refuses the statement when the role's access level does not cover
// its class.
func (a *pgStmt) access() *sqlerr.Error {
	if !accessAllows(a.role.Access, a.st.Class) {
		return a.permission(a.st.Kind, a.st.Class)
	}
	return nil
}

func accessAllows(acc Access, c Class) bool {
	switch c {
	case ClassRead, ClassTx, ClassSession:
		return acc >= AccessRead
	case ClassWrite:
		return acc >= AccessWrite
	default:
		return acc >= AccessAdmin
	}
}

// classify returns the statement's class and keyword, handling session
// statements completely.
func (a *pgStmt) classify(n *pg.Node) (Class, string, *sqlerr.Error) {
	switch x := n.Node.(type) {
	case *pg.Node_SelectStmt:
		a.plainDML = true
		sel := x.SelectStmt
		if sel.IntoClause != nil {
			a.plainDML = false
			if pgTempRel(sel.IntoClause.Rel) {
				a.st.Pins = true
			}
			return ClassDDL, "SELECT INTO", nil
		}
		if len(sel.ValuesLists) > 0 {
			return ClassRead, "VALUES", nil
		}
		if sv := pgStandaloneSetConfig(sel); sv != nil {
			// SELECT set_config('name', 'value', is_local) on its own (as
			// pg_dump sends it): tracked like SET, to be replayed on
			// whichever backend connection serves the session.
			a.plainDML = false
			a.setConfig = sv
		}
		if pgAtAtTenant(sel) {
			// SELECT @@tenant, as on the MySQL front end: SHOW tenant.
			a.plainDML = false
			a.st.ShowVar = "tenant"
			return ClassSession, "SHOW", nil
		}
		return ClassRead, "SELECT", nil
	case *pg.Node_InsertStmt:
		a.plainDML = true
		return ClassWrite, "INSERT", nil
	case *pg.Node_UpdateStmt:
		a.plainDML = true
		return ClassWrite, "UPDATE", nil
	case *pg.Node_DeleteStmt:
		a.plainDML = true
		return ClassWrite, "DELETE", nil
	case *pg.Node_MergeStmt:
		return ClassWrite, "MERGE", nil
	case *pg.Node_CopyStmt:
		c := x.CopyStmt
		if c.IsProgram {
			return 0, "", a.privilege("COPY ... PROGRAM")
		}
		if c.Filename != "" {
			return 0, "", a.privilege("COPY to or from a server file")
		}
		if c.IsFrom {
			return ClassWrite, "COPY FROM", nil
		}
		if c.Query != nil {
			cl, _, err := a.classify(c.Query)
			a.plainDML = false
			if err != nil {
				return 0, "", err
			}
			return cl, "COPY TO", nil
		}
		return ClassRead, "COPY TO", nil
	case *pg.Node_ExplainStmt:
		ex := x.ExplainStmt
		analyze := false
		for _, o := range ex.Options {
			if d := o.GetDefElem(); d != nil && lower(d.Defname) == "analyze" {
				a.litDep = true
				analyze = pgDefBool(d.Arg)
			}
		}
		cl, _, err := a.classify(ex.Query)
		a.plainDML = false
		if err != nil {
			return 0, "", err
		}
		if analyze && cl != ClassRead {
			return cl, "EXPLAIN ANALYZE", nil
		}
		return ClassRead, "EXPLAIN", nil
	case *pg.Node_PrepareStmt:
		if err := a.internalName("PREPARE", x.PrepareStmt.Name); err != nil {
			return 0, "", err
		}
		cl, _, err := a.classify(x.PrepareStmt.Query)
		a.plainDML = false
		if err != nil {
			return 0, "", err
		}
		a.st.Pins = true
		return cl, "PREPARE", nil
	case *pg.Node_ExecuteStmt:
		if err := a.internalName("EXECUTE", x.ExecuteStmt.Name); err != nil {
			return 0, "", err
		}
		return ClassWrite, "EXECUTE", nil
	case *pg.Node_DeallocateStmt:
		if x.DeallocateStmt.Isall || x.DeallocateStmt.Name == "" {
			// Backend connections are shared: DEALLOCATE ALL would drop the
			// statements the proxy prepared there for other clients.
			return 0, "", sqlerr.New(sqlerr.Unsupported,
				"DEALLOCATE ALL is not supported through the proxy (backend connections are shared); deallocate statements by name")
		}
		if err := a.internalName("DEALLOCATE", x.DeallocateStmt.Name); err != nil {
			return 0, "", err
		}
		return ClassSession, "DEALLOCATE", nil
	case *pg.Node_DeclareCursorStmt:
		cl, _, err := a.classify(x.DeclareCursorStmt.Query)
		a.plainDML = false
		if err != nil {
			return 0, "", err
		}
		if x.DeclareCursorStmt.Options&0x0020 != 0 { // CURSOR_OPT_HOLD
			a.st.Pins = true
		}
		return cl, "DECLARE CURSOR", nil
	case *pg.Node_FetchStmt:
		if x.FetchStmt.Ismove {
			return ClassRead, "MOVE", nil
		}
		return ClassRead, "FETCH", nil
	case *pg.Node_ClosePortalStmt:
		return ClassRead, "CLOSE", nil
	case *pg.Node_CallStmt:
		return ClassWrite, "CALL", nil
	case *pg.Node_LockStmt:
		return ClassWrite, "LOCK", nil
	case *pg.Node_TransactionStmt:
		switch x.TransactionStmt.Kind {
		case pg.TransactionStmtKind_TRANS_STMT_PREPARE:
			return ClassUtility, "PREPARE TRANSACTION", nil
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
			return ClassUtility, "COMMIT PREPARED", nil
		case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
			return ClassUtility, "ROLLBACK PREPARED", nil
		}
		return ClassTx, pgTxKind(x.TransactionStmt.Kind), nil
	case *pg.Node_ConstraintsSetStmt:
		return ClassTx, "SET CONSTRAINTS", nil
	case *pg.Node_VariableSetStmt:
		return a.classifySet(x.VariableSetStmt)
	case *pg.Node_VariableShowStmt:
		name := lower(x.VariableShowStmt.Name)
		if name == "tenant" {
			a.st.ShowVar = "tenant"
		}
		if a.role.Access < AccessAdmin && (pgServerSettings[name] || name == "all") {
			return 0, "", a.serverSetting(name)
		}
		return ClassSession, "SHOW", nil
	case *pg.Node_DiscardStmt:
		sv := &SetVar{Kind: SetDiscard}
		switch x.DiscardStmt.Target {
		case pg.DiscardMode_DISCARD_PLANS:
			sv.Name = "plans"
		case pg.DiscardMode_DISCARD_SEQUENCES:
			sv.Name = "sequences"
		case pg.DiscardMode_DISCARD_TEMP:
			sv.Name = "temp"
		}
		sv.SQL = a.deparseOr(n)
		a.st.Set = sv
		return ClassSession, "DISCARD", nil
	case *pg.Node_ListenStmt, *pg.Node_UnlistenStmt, *pg.Node_NotifyStmt:
		kind := pgNodeKind(n)
		if a.scope.Isolation != IsolationDatabase {
			// Channels are per database: other tenants of the database
			// would hear (and could inject) notifications.
			return 0, "", sqlerr.New(sqlerr.CrossTenant, "permission denied: %s is not allowed on tenant %q (notification channels are shared with other tenants of the database)", kind, a.tenant())
		}
		if kind == "LISTEN" {
			a.st.Pins = true
		}
		return ClassUtility, kind, nil
	case *pg.Node_DoStmt:
		return 0, "", a.unchecked("DO")
	case *pg.Node_VacuumStmt:
		if x.VacuumStmt.IsVacuumcmd {
			return ClassUtility, "VACUUM", nil
		}
		return ClassUtility, "ANALYZE", nil
	case *pg.Node_ReindexStmt:
		return ClassUtility, "REINDEX", nil
	case *pg.Node_ClusterStmt:
		return ClassUtility, "CLUSTER", nil
	case *pg.Node_CreateStmt:
		if pgTempRel(x.CreateStmt.Relation) {
			a.st.Pins = true
			return ClassDDL, "CREATE TEMPORARY TABLE", nil
		}
		return ClassDDL, "CREATE TABLE", nil
	case *pg.Node_CreateTableAsStmt:
		if x.CreateTableAsStmt.Into != nil && pgTempRel(x.CreateTableAsStmt.Into.Rel) {
			a.st.Pins = true
		}
		if x.CreateTableAsStmt.IsSelectInto {
			return ClassDDL, "SELECT INTO", nil
		}
		if x.CreateTableAsStmt.Objtype == pg.ObjectType_OBJECT_MATVIEW {
			return ClassDDL, "CREATE MATERIALIZED VIEW", nil
		}
		return ClassDDL, "CREATE TABLE AS", nil
	case *pg.Node_CreateFunctionStmt:
		// Any language: a body (SQL, PL/pgSQL EXECUTE of strings, ...) is
		// not checked and would run as the backend user.
		if x.CreateFunctionStmt.IsProcedure {
			return 0, "", a.unchecked("CREATE PROCEDURE")
		}
		return 0, "", a.unchecked("CREATE FUNCTION")
	case *pg.Node_CreateSchemaStmt:
		switch a.scope.Isolation {
		case IsolationSchema:
			// Only the tenant's own schema (CREATE SCHEMA IF NOT EXISTS
			// own); AUTHORIZATION without a name names the schema after
			// a role.
			name := lower(x.CreateSchemaStmt.Schemaname)
			if name == "" {
				return 0, "", sqlerr.New(sqlerr.CrossTenant, "permission denied: CREATE SCHEMA AUTHORIZATION without a schema name is not allowed on tenant %q", a.tenant())
			}
			if name != lower(a.scope.Schema) {
				return 0, "", a.outside("schema", name)
			}
		}
		return ClassDDL, "CREATE SCHEMA", nil
	case *pg.Node_DropStmt:
		switch x.DropStmt.RemoveType {
		case pg.ObjectType_OBJECT_EXTENSION, pg.ObjectType_OBJECT_FOREIGN_SERVER, pg.ObjectType_OBJECT_FDW,
			pg.ObjectType_OBJECT_PUBLICATION, pg.ObjectType_OBJECT_EVENT_TRIGGER, pg.ObjectType_OBJECT_LANGUAGE,
			pg.ObjectType_OBJECT_CAST, pg.ObjectType_OBJECT_ACCESS_METHOD, pg.ObjectType_OBJECT_TRANSFORM,
			pg.ObjectType_OBJECT_OPCLASS, pg.ObjectType_OBJECT_OPFAMILY, pg.ObjectType_OBJECT_CONVERSION,
			pg.ObjectType_OBJECT_SUBSCRIPTION, pg.ObjectType_OBJECT_TABLESPACE:
			return 0, "", a.privilege("DROP " + pgObjectWord(x.DropStmt.RemoveType))
		}
		return ClassDDL, "DROP " + pgObjectWord(x.DropStmt.RemoveType), nil
	case *pg.Node_TruncateStmt:
		return ClassDDL, "TRUNCATE", nil
	case *pg.Node_CreateExtensionStmt, *pg.Node_AlterExtensionStmt, *pg.Node_AlterExtensionContentsStmt,
		*pg.Node_CreatePlangStmt, *pg.Node_CreateEventTrigStmt, *pg.Node_AlterEventTrigStmt, *pg.Node_LoadStmt:
		// Extensions, languages, event triggers and LOAD install or run code
		// the proxy cannot check.
		return 0, "", a.unchecked(pgNodeKind(n))
	case *pg.Node_CreatedbStmt, *pg.Node_DropdbStmt, *pg.Node_AlterDatabaseStmt, *pg.Node_AlterDatabaseSetStmt,
		*pg.Node_AlterDatabaseRefreshCollStmt, *pg.Node_AlterSystemStmt, *pg.Node_CreateRoleStmt,
		*pg.Node_AlterRoleStmt, *pg.Node_AlterRoleSetStmt, *pg.Node_DropRoleStmt, *pg.Node_GrantRoleStmt,
		*pg.Node_CreateTableSpaceStmt, *pg.Node_DropTableSpaceStmt, *pg.Node_AlterTableSpaceOptionsStmt,
		*pg.Node_CreateFdwStmt, *pg.Node_AlterFdwStmt, *pg.Node_CreateForeignServerStmt,
		*pg.Node_AlterForeignServerStmt, *pg.Node_CreateUserMappingStmt, *pg.Node_AlterUserMappingStmt,
		*pg.Node_DropUserMappingStmt, *pg.Node_CreateForeignTableStmt, *pg.Node_ImportForeignSchemaStmt,
		*pg.Node_CreatePublicationStmt, *pg.Node_AlterPublicationStmt, *pg.Node_CreateSubscriptionStmt,
		*pg.Node_AlterSubscriptionStmt, *pg.Node_DropSubscriptionStmt,
		*pg.Node_CheckPointStmt,
		*pg.Node_CreateConversionStmt, *pg.Node_CreateCastStmt, *pg.Node_CreateTransformStmt,
		*pg.Node_CreateAmStmt, *pg.Node_CreateOpClassStmt, *pg.Node_CreateOpFamilyStmt,
		*pg.Node_AlterOpFamilyStmt, *pg.Node_DropOwnedStmt, *pg.Node_ReassignOwnedStmt, *pg.Node_SecLabelStmt,
		*pg.Node_AlterTableMoveAllStmt, *pg.Node_ReturnStmt, *pg.Node_PlassignStmt,
		*pg.Node_AlterDefaultPrivilegesStmt, *pg.Node_AlterObjectDependsStmt:
		return 0, "", a.privilege(pgNodeKind(n))
	case *pg.Node_AlterTableStmt, *pg.Node_IndexStmt, *pg.Node_ViewStmt, *pg.Node_RefreshMatViewStmt,
		*pg.Node_CreateSeqStmt, *pg.Node_AlterSeqStmt, *pg.Node_AlterFunctionStmt, *pg.Node_CreateTrigStmt,
		*pg.Node_RuleStmt, *pg.Node_CommentStmt, *pg.Node_GrantStmt, *pg.Node_RenameStmt,
		*pg.Node_AlterObjectSchemaStmt, *pg.Node_AlterOwnerStmt, *pg.Node_CreateEnumStmt,
		*pg.Node_CreateRangeStmt, *pg.Node_CompositeTypeStmt, *pg.Node_CreateDomainStmt,
		*pg.Node_AlterDomainStmt, *pg.Node_AlterEnumStmt, *pg.Node_DefineStmt, *pg.Node_CreatePolicyStmt,
		*pg.Node_AlterPolicyStmt, *pg.Node_CreateStatsStmt, *pg.Node_AlterStatsStmt,
		*pg.Node_AlterCollationStmt, *pg.Node_AlterOperatorStmt, *pg.Node_AlterTypeStmt, *pg.Node_AlterTsdictionaryStmt,
		*pg.Node_AlterTsconfigurationStmt:
		return ClassDDL, pgNodeKind(n), nil
	}
	return ClassUtility, pgNodeKind(n), nil
}

// classifySet handles SET / RESET, including the proxy's own tenant setting.
func (a *pgStmt) classifySet(v *pg.VariableSetStmt) (Class, string, *sqlerr.Error) {
	name := lower(v.Name)
	kind := "SET"
	if v.Kind == pg.VariableSetKind_VAR_RESET || v.Kind == pg.VariableSetKind_VAR_RESET_ALL {
		kind = "RESET"
	}
	a.litDep = true
	switch name {
	case "tenant":
		if v.Kind != pg.VariableSetKind_VAR_SET_VALUE || len(v.Args) != 1 {
			return 0, "", sqlerr.New(sqlerr.Unsupported, "only SET tenant = '<tenant id>' is supported")
		}
		val, ok := pgConstString(v.Args[0])
		if !ok || val == "" {
			return 0, "", sqlerr.New(sqlerr.InvalidValue, "SET tenant needs a tenant id")
		}
		if v.IsLocal {
			return 0, "", sqlerr.New(sqlerr.Unsupported, "SET LOCAL tenant is not supported")
		}
		a.st.TenantSwitch = val
		return ClassSession, kind, nil
	case "role", "session_authorization", "session authorization":
		if a.scope.Isolation == IsolationSchema {
			return 0, "", sqlerr.New(sqlerr.CrossTenant, "permission denied: %s %s is not allowed on tenant %q (schema isolation)", kind, strings.ToUpper(name), a.tenant())
		}
		if a.role.Access < AccessAdmin {
			return 0, "", sqlerr.New(sqlerr.Permission, "permission denied: role %q may not run %s %s on tenant %q", a.role.Name, kind, strings.ToUpper(strings.ReplaceAll(name, "_", " ")), a.tenant())
		}
	case "search_path":
		if a.scope.Isolation == IsolationSchema {
			return 0, "", sqlerr.New(sqlerr.CrossTenant, "permission denied: %s search_path is not allowed on tenant %q (schema isolation)", kind, a.tenant())
		}
	case "standard_conforming_strings", "client_encoding":
		if v.Kind == pg.VariableSetKind_VAR_SET_VALUE {
			for _, arg := range v.Args {
				val, ok := pgConstString(arg)
				if err := a.lexerSetting(name, val, ok); err != nil {
					return 0, "", err
				}
			}
		}
	}
	sv := &SetVar{Name: name, Local: v.IsLocal}
	switch v.Kind {
	case pg.VariableSetKind_VAR_SET_VALUE, pg.VariableSetKind_VAR_SET_CURRENT, pg.VariableSetKind_VAR_SET_MULTI:
		sv.Kind = SetValue
		var vals []string
		for _, arg := range v.Args {
			if s, ok := pgConstString(arg); ok {
				vals = append(vals, s)
			}
		}
		sv.Value = strings.Join(vals, ", ")
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET:
		sv.Kind = SetDefault
	case pg.VariableSetKind_VAR_RESET_ALL:
		sv.Kind = SetResetAll
		sv.Name = ""
	}
	sv.SQL = a.deparseOr(a.raw.Stmt)
	a.st.Set = sv
	return ClassSession, kind, nil
}

// pgUnsafeEncodings are client encodings in which a multi-byte character can
// contain an ASCII byte such as a backslash or a quote: the server converts
// the text to the server encoding before lexing it, the proxy's parser reads
// the raw bytes, so the two could disagree on where a string ends.
var pgUnsafeEncodings = map[string]bool{
	"sjis": true, "shiftjis": true, "shiftjis2004": true, "mskanji": true, "win932": true, "windows932": true,
	"big5": true, "win950": true, "windows950": true, "gbk": true, "win936": true, "windows936": true,
	"cp936": true, "uhc": true, "win949": true, "windows949": true, "gb18030": true, "johab": true,
}

// lexerSetting refuses settings that would make the server tokenize texts
// differently from the proxy's parser (which always reads UTF-8 with
// standard_conforming_strings on): standard_conforming_strings off (a
// backslash would escape a quote in '...') and client encodings that can hide
// an ASCII byte inside a multi-byte character. A value that is not a
// constant is refused.
func (a *pgStmt) lexerSetting(name, val string, isConst bool) *sqlerr.Error {
	v := strings.NewReplacer("_", "", "-", "", " ", "").Replace(lower(strings.TrimSpace(val)))
	switch name {
	case "standard_conforming_strings":
		switch v {
		case "on", "true", "yes", "1", "t", "y":
			if isConst {
				return nil
			}
		}
		return sqlerr.New(sqlerr.Permission, "permission denied: standard_conforming_strings may not be turned off on tenant %q (backslashes would end strings differently for the server and the proxy)", a.tenant())
	case "client_encoding":
		if isConst && !pgUnsafeEncodings[v] {
			return nil
		}
		return sqlerr.New(sqlerr.Permission, "permission denied: client_encoding %q is not allowed on tenant %q (a multi-byte character could hide a quote or backslash from the proxy's parser); use UTF8", val, a.tenant())
	}
	return nil
}

// deparseOr returns the deparsed statement, or its original text.
func (a *pgStmt) deparseOr(n *pg.Node) string {
	if out, err := pgDeparseOne(0, n); err == nil {
		return out
	}
	start := int(a.raw.StmtLocation)
	end := len(a.src)
	if a.raw.StmtLen > 0 {
		end = start + int(a.raw.StmtLen)
	}
	return strings.TrimSpace(a.src[start:end])
}

// pgConstString returns a constant's value as text (strings, numbers,
// booleans), or false.
func pgConstString(n *pg.Node) (string, bool) {
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return "", false
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Sval:
		return v.Sval.Sval, true
	case *pg.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival)), true
	case *pg.A_Const_Fval:
		return v.Fval.Fval, true
	case *pg.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.Boolval), true
	}
	return "", false
}

// pgDefBool reads a DefElem boolean argument (absent means true).
func pgDefBool(n *pg.Node) bool {
	if n == nil {
		return true
	}
	switch v := n.Node.(type) {
	case *pg.Node_Boolean:
		return v.Boolean.Boolval
	case *pg.Node_Integer:
		return v.Integer.Ival != 0
	case *pg.Node_String_:
		switch lower(v.String_.Sval) {
		case "false", "off", "0", "no", "f", "n":
			return false
		}
		return true
	case *pg.Node_AConst:
		s, _ := pgConstString(n)
		switch lower(s) {
		case "false", "off", "0", "no", "f", "n":
			return false
		}
	}
	return true
}

func pgTxKind(k pg.TransactionStmtKind) string {
	switch k {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN:
		return "BEGIN"
	case pg.TransactionStmtKind_TRANS_STMT_START:
		return "START TRANSACTION"
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		return "COMMIT"
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		return "ROLLBACK"
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return "SAVEPOINT"
	case pg.TransactionStmtKind_TRANS_STMT_RELEASE:
		return "RELEASE"
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return "ROLLBACK TO SAVEPOINT"
	}
	return "TRANSACTION"
}

func pgObjectWord(t pg.ObjectType) string {
	s := strings.TrimPrefix(t.String(), "OBJECT_")
	return strings.ReplaceAll(s, "_", " ")
}

// pgNodeKind turns a node type name into an upper-case keyword phrase:
// CreatedbStmt -> CREATEDB, AlterTableStmt -> ALTER TABLE.
func pgNodeKind(n *pg.Node) string {
	switch n.Node.(type) {
	case *pg.Node_IndexStmt:
		return "CREATE INDEX"
	case *pg.Node_ViewStmt:
		return "CREATE VIEW"
	case *pg.Node_CheckPointStmt:
		return "CHECKPOINT"
	case *pg.Node_CreatedbStmt:
		return "CREATE DATABASE"
	case *pg.Node_DropdbStmt:
		return "DROP DATABASE"
	case *pg.Node_CreatePlangStmt:
		return "CREATE LANGUAGE"
	case *pg.Node_CreateEventTrigStmt:
		return "CREATE EVENT TRIGGER"
	case *pg.Node_AlterEventTrigStmt:
		return "ALTER EVENT TRIGGER"
	case *pg.Node_CreateTrigStmt:
		return "CREATE TRIGGER"
	case *pg.Node_CreateFdwStmt:
		return "CREATE FOREIGN DATA WRAPPER"
	case *pg.Node_AlterFdwStmt:
		return "ALTER FOREIGN DATA WRAPPER"
	case *pg.Node_CreateForeignServerStmt:
		return "CREATE SERVER"
	case *pg.Node_AlterForeignServerStmt:
		return "ALTER SERVER"
	case *pg.Node_SecLabelStmt:
		return "SECURITY LABEL"
	case *pg.Node_AlterDefaultPrivilegesStmt:
		return "ALTER DEFAULT PRIVILEGES"
	case *pg.Node_AlterObjectDependsStmt:
		return "ALTER ... DEPENDS ON EXTENSION"
	case *pg.Node_GrantRoleStmt:
		return "GRANT role"
	case *pg.Node_CreateTableSpaceStmt:
		return "CREATE TABLESPACE"
	case *pg.Node_DropTableSpaceStmt:
		return "DROP TABLESPACE"
	case *pg.Node_LoadStmt:
		return "LOAD"
	}
	name := string(n.ProtoReflect().WhichOneof(n.ProtoReflect().Descriptor().Oneofs().Get(0)).Message().Name())
	name = strings.TrimSuffix(name, "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// walk visits the whole statement: cross-tenant references, table lists,
// function deny-list, data-modifying CTEs, locking clauses, with CTE scopes.
func (a *pgStmt) walk(n *pg.Node) {
	pgWalkNode(n, a.visit)
}

func (a *pgStmt) visit(m protoreflect.ProtoMessage) bool {
	if a.err != nil {
		return false
	}
	switch x := m.(type) {
	case *pg.ParamRef:
		if x.Number < 1 {
			// Postgres has no $0; the deparser would print it as "?".
			a.fail(sqlerr.New(sqlerr.Syntax, "there is no parameter $%d", x.Number))
			return false
		}
	case *pg.SelectStmt:
		if !a.seen(x) {
			a.selects = append(a.selects, x)
		}
		if len(x.LockingClause) > 0 {
			a.locking = true
		}
		if x.WithClause != nil {
			return a.walkInWith(&x.WithClause, x)
		}
	case *pg.InsertStmt:
		if x.WithClause != nil {
			return a.walkInWith(&x.WithClause, x)
		}
	case *pg.UpdateStmt:
		if !a.seen(x) {
			a.updates = append(a.updates, x)
		}
		if x.WithClause != nil {
			return a.walkInWith(&x.WithClause, x)
		}
	case *pg.DeleteStmt:
		if !a.seen(x) {
			a.deletes = append(a.deletes, x)
		}
		if x.WithClause != nil {
			return a.walkInWith(&x.WithClause, x)
		}
	case *pg.MergeStmt:
		if x.WithClause != nil {
			return a.walkInWith(&x.WithClause, x)
		}
	case *pg.LockingClause:
		return false // names FROM items, not tables
	case *pg.RangeVar:
		a.rangeVar(x)
	case *pg.Alias:
		a.rangeNms[lower(x.Aliasname)] = true
	case *pg.FuncCall:
		a.funcCall(x)
	case *pg.TypeCast:
		a.typeCast(x)
	case *pg.TypeName:
		a.qualified("type", pgNames(x.Names), 2)
	case *pg.ColumnRef:
		if names := pgNames(x.Fields); len(names) >= 3 {
			a.qualified("relation", names[:len(names)-1], 2)
		}
	case *pg.ObjectWithArgs:
		a.qualified("object", pgNames(x.Objname), 2)
	case *pg.A_Expr:
		names := pgNames(x.Name)
		a.qualified("operator", names, 2)
		if len(names) > 0 {
			// An operator of the database calls its function unnamed.
			op := lower(names[len(names)-1])
			a.fail(a.s.ownFunc(op, "operator "+op, a.role))
		}
	case *pg.List:
		// qualified object names in DROP/COMMENT/ALTER ... (List of String)
		if names := pgNames(x.Items); len(names) >= 2 {
			a.qualified("relation", names, 2)
		}
	default:
		a.qualNameFields(m)
		a.unnamedOps(m)
	case *pg.CreateStmt:
		if x.Relation != nil {
			a.rangeNms[lower(x.Relation.Relname)] = true
		}
	case *pg.AlterObjectSchemaStmt:
		a.objectType("ALTER ... SET SCHEMA", x.ObjectType, false)
		a.schemaName("ALTER ... SET SCHEMA", lower(x.Newschema), true)
	case *pg.GrantStmt:
		verb := "REVOKE ON"
		if x.IsGrant {
			verb = "GRANT ON"
		}
		switch x.Targtype {
		case pg.GrantTargetType_ACL_TARGET_ALL_IN_SCHEMA:
			for _, o := range x.Objects {
				a.schemaName(verb+" ALL ... IN SCHEMA", lower(o.GetString_().GetSval()), true)
			}
		default:
			a.objectType(verb, x.Objtype, true, x.Objects...)
		}
	case *pg.CommentStmt:
		a.objectType("COMMENT ON", x.Objtype, true, x.Object)
	case *pg.AlterOwnerStmt:
		a.objectType("ALTER ... OWNER", x.ObjectType, false, x.Object)
	case *pg.RenameStmt:
		if x.RenameType == pg.ObjectType_OBJECT_SCHEMA || pgClusterObjects[x.RenameType] {
			a.objectType("ALTER ... RENAME", x.RenameType, false, pgStr(x.Subname))
		} else {
			a.objectType("ALTER ... RENAME", x.RenameType, false, x.Object)
		}
	case *pg.DropStmt:
		a.objectType("DROP", x.RemoveType, false, x.Objects...)
	case *pg.CallStmt:
		if x.Funccall != nil {
			a.funcCall(x.Funccall)
		}
		return false
	}
	return a.err == nil
}

// pgClusterObjects are object types that are not the tenant's: cluster-wide
// (databases, roles, tablespaces, parameters) or database-wide plumbing and
// code (extensions, languages, servers, publications, casts, access methods,
// ...). Any statement naming one is refused for every role.
var pgClusterObjects = map[pg.ObjectType]bool{
	pg.ObjectType_OBJECT_DATABASE: true, pg.ObjectType_OBJECT_ROLE: true, pg.ObjectType_OBJECT_TABLESPACE: true,
	pg.ObjectType_OBJECT_PARAMETER_ACL: true, pg.ObjectType_OBJECT_FOREIGN_SERVER: true, pg.ObjectType_OBJECT_FDW: true,
	pg.ObjectType_OBJECT_USER_MAPPING: true, pg.ObjectType_OBJECT_PUBLICATION: true,
	pg.ObjectType_OBJECT_PUBLICATION_NAMESPACE: true, pg.ObjectType_OBJECT_PUBLICATION_REL: true,
	pg.ObjectType_OBJECT_SUBSCRIPTION: true, pg.ObjectType_OBJECT_EVENT_TRIGGER: true,
	pg.ObjectType_OBJECT_EXTENSION: true, pg.ObjectType_OBJECT_LANGUAGE: true, pg.ObjectType_OBJECT_ACCESS_METHOD: true,
	pg.ObjectType_OBJECT_AMOP: true, pg.ObjectType_OBJECT_AMPROC: true, pg.ObjectType_OBJECT_CAST: true,
	pg.ObjectType_OBJECT_TRANSFORM: true, pg.ObjectType_OBJECT_OPCLASS: true, pg.ObjectType_OBJECT_OPFAMILY: true,
	pg.ObjectType_OBJECT_CONVERSION: true,
}

// objectType checks the objects a DDL statement names by type: cluster-level
// types are refused; schemas (bare String nodes) go through schemaName with
// ownOK (whether the tenant's own schema may be the target); large objects
// are per database, refused outside database isolation. Other objects are
// qualified names, checked where the walk meets them.
func (a *pgStmt) objectType(verb string, t pg.ObjectType, ownOK bool, objs ...*pg.Node) {
	switch {
	case pgClusterObjects[t]:
		a.fail(a.privilege(pgObjectVerb(verb, t)))
	case t == pg.ObjectType_OBJECT_SCHEMA:
		for _, o := range objs {
			a.schemaName(pgObjectVerb(verb, t), lower(o.GetString_().GetSval()), ownOK)
		}
	case t == pg.ObjectType_OBJECT_LARGEOBJECT:
		if a.scope.Isolation != IsolationDatabase {
			a.fail(a.largeObjects())
		}
	}
}

// schemaName checks a statement naming schema as a bare name: in schema
// isolation only the tenant's own schema (and only where ownOK: never to
// rename, drop or re-own it); in row isolation none (the schema is shared).
func (a *pgStmt) schemaName(verb, schema string, ownOK bool) {
	switch a.scope.Isolation {
	case IsolationSchema:
		if schema != lower(a.scope.Schema) {
			a.fail(a.outside("schema", schema))
		} else if !ownOK {
			a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: %s of schema %q is not allowed on tenant %q (the tenant's own schema may not be renamed, dropped or given away)", verb, schema, a.tenant()))
		}
	case IsolationRow:
		a.fail(a.rowDDL(verb))
	}
}

// pgObjectVerb phrases a statement on an object type for messages:
// "COMMENT ON DATABASE", "ALTER DATABASE ... RENAME", "DROP SCHEMA".
func pgObjectVerb(verb string, t pg.ObjectType) string {
	word := pgObjectWord(t)
	if rest, ok := strings.CutPrefix(verb, "ALTER ..."); ok {
		return "ALTER " + word + " ..." + rest
	}
	return verb + " " + word
}

func (a *pgStmt) largeObjects() *sqlerr.Error {
	return sqlerr.New(sqlerr.CrossTenant, "permission denied: large objects are not available on tenant %q (they are shared by every tenant of the database)", a.tenant())
}

// pgQualNameFields are the repeated-String fields of parse nodes that hold a
// possibly qualified object name directly (not wrapped in a List node), by
// node type: their schema part is checked like any qualified name.
var pgQualNameFields = map[protoreflect.Name][]protoreflect.Name{
	"CollateClause": {"collname"}, "AlterCollationStmt": {"collname"}, "AlterDomainStmt": {"type_name"},
	"CreateTrigStmt": {"funcname"}, "DefineStmt": {"defnames"}, "CreateDomainStmt": {"domainname"},
	"CreateOpClassStmt": {"opclassname", "opfamilyname"}, "CreateOpFamilyStmt": {"opfamilyname"},
	"AlterOpFamilyStmt": {"opfamilyname"}, "CreateStatsStmt": {"defnames"}, "AlterStatsStmt": {"defnames"},
	"CreateFunctionStmt": {"funcname"}, "AlterTypeStmt": {"type_name"}, "CreateEnumStmt": {"type_name"},
	"CreateRangeStmt": {"type_name"}, "AlterEnumStmt": {"type_name"},
	"CreateConversionStmt": {"conversion_name", "func_name"}, "AlterTSDictionaryStmt": {"dictname"},
	"AlterTSConfigurationStmt": {"cfgname"}, "IndexElem": {"collation", "opclass"},
	"PartitionElem": {"collation", "opclass"}, "SortBy": {"use_op"}, "SubLink": {"oper_name"},
	"CreateAmStmt": {"handler_name"}, "CreateEventTrigStmt": {"funcname"},
	"CreatePLangStmt": {"plhandler", "plinline", "plvalidator"},
}

// unnamedOps checks the operators named outside an A_Expr: by a sub-link
// (x op ANY (SELECT …)) and by a sort (ORDER BY x USING op).
func (a *pgStmt) unnamedOps(m protoreflect.ProtoMessage) {
	var names []string
	switch x := m.(type) {
	case *pg.SubLink:
		names = pgNames(x.OperName)
	case *pg.SortBy:
		names = pgNames(x.UseOp)
	}
	if len(names) > 0 {
		op := lower(names[len(names)-1])
		a.fail(a.s.ownFunc(op, "operator "+op, a.role))
	}
}

// qualNameFields checks the qualified names m holds in pgQualNameFields.
func (a *pgStmt) qualNameFields(m protoreflect.ProtoMessage) {
	msg := m.ProtoReflect()
	fields, ok := pgQualNameFields[msg.Descriptor().Name()]
	if !ok {
		return
	}
	for _, f := range fields {
		fd := msg.Descriptor().Fields().ByName(f)
		if fd == nil || !fd.IsList() {
			continue
		}
		l := msg.Get(fd).List()
		nodes := make([]*pg.Node, 0, l.Len())
		for i := 0; i < l.Len(); i++ {
			if n, ok := l.Get(i).Message().Interface().(*pg.Node); ok {
				nodes = append(nodes, n)
			}
		}
		if names := pgNames(nodes); len(names) >= 2 {
			a.qualified("object", names, 2)
		}
	}
}

// withScope walks a WITH clause's CTEs with the names each may see, then
// body with all of them in scope.
// walkInWith walks statement m, whose WITH clause is *w, inside the scope
// of that clause's CTEs (the clause itself is walked by withScope) and
// tells the walker not to descend again.
func (a *pgStmt) walkInWith(w **pg.WithClause, m protoreflect.ProtoMessage) bool {
	wc := *w
	*w = nil
	a.withScope(wc, func() { pgWalk(m.ProtoReflect(), a.visit) })
	*w = wc
	return false
}

func (a *pgStmt) withScope(w *pg.WithClause, body func()) {
	frame := map[string]bool{}
	a.ctes = append(a.ctes, frame)
	if w.Recursive {
		for _, c := range w.Ctes {
			if cte := c.GetCommonTableExpr(); cte != nil {
				frame[cte.Ctename] = true
			}
		}
	}
	for _, c := range w.Ctes {
		cte := c.GetCommonTableExpr()
		if cte == nil {
			continue
		}
		switch cte.Ctequery.GetNode().(type) {
		case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
			a.dmlCTE = true
		}
		pgWalkNode(cte.Ctequery, a.visit)
		frame[cte.Ctename] = true
		a.rangeNms[lower(cte.Ctename)] = true
	}
	body()
	a.ctes = a.ctes[:len(a.ctes)-1]
}

// seen reports whether m was visited before (statements with a WITH clause
// are visited twice: once to open the scope, once for their body).
func (a *pgStmt) seen(m protoreflect.ProtoMessage) bool {
	if a.visited == nil {
		a.visited = map[protoreflect.ProtoMessage]bool{}
	}
	if a.visited[m] {
		return true
	}
	a.visited[m] = true
	return false
}

func (a *pgStmt) isCTE(name string) bool {
	for i := len(a.ctes) - 1; i >= 0; i-- {
		if a.ctes[i][name] {
			return true
		}
	}
	return false
}

// schemaAllowed reports whether a schema-isolated tenant may name schema.
func (a *pgStmt) schemaAllowed(schema string) bool {
	switch schema {
	case a.scope.Schema, "pg_catalog", "information_schema", "pg_temp":
		return true
	}
	return false
}

// qualified checks a qualified name's qualifiers: parts holds [catalog.]
// [schema.]name; relLen is the length from which the first part is a schema
// (2: schema.name, 3: db.schema.name).
func (a *pgStmt) qualified(kind string, parts []string, relLen int) {
	if len(parts) < relLen {
		return
	}
	var db, schema string
	switch {
	case len(parts) == relLen:
		schema = parts[0]
	default:
		db, schema = parts[len(parts)-relLen-1], parts[len(parts)-relLen]
	}
	full := strings.Join(parts, ".")
	if db != "" && db != a.scope.Database {
		a.fail(a.outside(kind, full))
		return
	}
	if a.scope.Isolation == IsolationSchema && !a.schemaAllowed(schema) {
		a.fail(a.outside(kind, full))
	}
}

// rangeVar checks one table reference.
func (a *pgStmt) rangeVar(rv *pg.RangeVar) {
	rel := lower(rv.Relname)
	schema := rv.Schemaname
	db := rv.Catalogname
	full := rv.Relname
	if schema != "" {
		full = schema + "." + rel
	}
	if db != "" {
		full = db + "." + full
		if db != a.scope.Database {
			a.fail(a.outside("relation", full))
			return
		}
	}
	if a.scope.Isolation == IsolationSchema && schema != "" && !a.schemaAllowed(schema) {
		a.fail(a.outside("relation", full))
		return
	}
	if schema == "pg_toast" {
		a.fail(a.outside("relation", full))
		return
	}
	if rv.Alias != nil {
		a.rangeNms[lower(rv.Alias.Aliasname)] = true
	}
	a.rangeNms[rel] = true
	if schema == "" && db == "" && a.isCTE(rv.Relname) {
		return
	}
	if (schema == "" || schema == "pg_catalog") && pgSensitiveCatalog[rel] &&
		!(a.scope.Isolation == IsolationDatabase && pgDatabaseOwnCatalog[rel]) {
		a.fail(sqlerr.New(sqlerr.Permission,
			"permission denied: catalog relation %s is not available through the proxy (it shows other tenants' data or server secrets)", rel))
		return
	}
	a.catalogRef(lower(schema), rel)
	if a.catalogPred(rv) != "" {
		a.catalogFiltered = true
	}
	a.refs[rv] = true
	a.tables[rel] = true
	if schema == "pg_catalog" || schema == "information_schema" {
		return
	}
	for _, t := range a.role.DeniedTables {
		if lower(t) == rel {
			a.fail(a.tableDenied(rel))
			return
		}
	}
	if len(a.role.AllowedTables) > 0 && !pgCatalogName(rel) {
		ok := false
		for _, t := range a.role.AllowedTables {
			if lower(t) == rel {
				ok = true
				break
			}
		}
		if !ok {
			a.fail(a.tableDenied(rel))
		}
	}
}

// pgSensitiveCatalog are catalog relations refused for every role: the
// backend server is shared, and these show other tenants' data (statistics
// hold sampled column values, activity views hold other sessions' SQL text),
// or secrets of the server.
var pgSensitiveCatalog = map[string]bool{
	"pg_stat_activity": true, "pg_stat_statements": true, "pg_stat_statements_info": true,
	"pg_stats": true, "pg_stats_ext": true, "pg_stats_ext_exprs": true,
	"pg_statistic": true, "pg_statistic_ext_data": true,
	"pg_authid": true, "pg_shadow": true, "pg_user_mappings": true, "pg_user_mapping": true,
	"pg_largeobject": true, "pg_largeobject_metadata": true,
	"pg_file_settings": true, "pg_hba_file_rules": true, "pg_ident_file_mappings": true,
	"pg_stat_subscription": true, "pg_replication_slots": true,
	"pg_stat_replication": true, "pg_stat_wal_receiver": true, "pg_prepared_xacts": true,
	"pg_locks": true, "pg_stat_ssl": true, "pg_stat_gssapi": true, "pg_backend_memory_contexts": true,
	// Per backend connection, and connections are shared: other clients'
	// statement texts (literals included) and cursors.
	"pg_prepared_statements": true, "pg_cursors": true,
}

// pgDatabaseOwnCatalog are sensitive catalogs whose rows all belong to a
// database-isolated tenant: its database's large objects.
var pgDatabaseOwnCatalog = map[string]bool{"pg_largeobject": true, "pg_largeobject_metadata": true}

// pgCatalogName reports catalog relations psql and drivers read unqualified.
func pgCatalogName(rel string) bool {
	return strings.HasPrefix(rel, "pg_")
}

func (a *pgStmt) tableDenied(rel string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: role %q may not access table %q on tenant %q", a.role.Name, rel, a.tenant())
}

// Function rules.
type funcRule uint8

const (
	fnDeny        funcRule = iota + 1 // refused for every role
	fnNonAdmin                        // refused below admin
	fnPins                            // session-level state: pin the session
	fnRelName                         // takes a relation name as a string
	fnLargeObject                     // large objects: per database, shared by its tenants
	fnNotify                          // notification channels: per database
)

var pgFuncRules = map[string]funcRule{
	"pg_read_file": fnDeny, "pg_read_binary_file": fnDeny, "pg_ls_dir": fnDeny, "pg_stat_file": fnDeny,
	"lo_import": fnDeny, "lo_export": fnDeny, "pg_terminate_backend": fnDeny, "pg_cancel_backend": fnDeny,
	"pg_signal_backend": fnDeny, "pg_reload_conf": fnDeny, "pg_rotate_logfile": fnDeny,
	"pg_log_backend_memory_contexts": fnDeny, "pg_promote": fnDeny, "pg_switch_wal": fnDeny,
	"pg_backup_start": fnDeny, "pg_backup_stop": fnDeny, "pg_start_backup": fnDeny, "pg_stop_backup": fnDeny,
	"pg_import_system_collations": fnDeny, "pg_logdir_ls": fnDeny, "pg_current_logfile": fnDeny,
	// ts_stat runs the query text it is given (ts_rewrite's two-argument
	// form too, see funcCall), unchecked.
	"ts_stat": fnDeny, "pg_nextoid": fnDeny,
	// The functions behind pg_prepared_statements and pg_cursors.
	"pg_prepared_statement": fnDeny, "pg_cursor": fnDeny,
	"pg_notify": fnNotify,
	"loread":    fnLargeObject, "lowrite": fnLargeObject,
	"pg_advisory_lock": fnPins, "pg_advisory_lock_shared": fnPins,
	"pg_try_advisory_lock": fnPins, "pg_try_advisory_lock_shared": fnPins,
	"nextval": fnRelName, "currval": fnRelName, "setval": fnRelName, "pg_get_serial_sequence": fnRelName,
	"to_regclass": fnRelName, "pg_relation_size": fnRelName, "pg_total_relation_size": fnRelName,
	"pg_table_size": fnRelName, "pg_indexes_size": fnRelName, "pg_get_viewdef": fnRelName,
	"has_table_privilege": fnRelName, "has_column_privilege": fnRelName, "has_sequence_privilege": fnRelName,
	"pg_relation_filepath": fnRelName, "pg_sequence_last_value": fnRelName, "to_regtype": fnRelName,
	"to_regproc": fnRelName, "to_regprocedure": fnRelName, "to_regnamespace": fnRelName,
	"brin_summarize_new_values": fnRelName, "brin_summarize_range": fnRelName,
	"brin_desummarize_range": fnRelName, "gin_clean_pending_list": fnRelName,
}

// pgWriteFuncs change database state: a statement calling one is a write
// (refused to read-only roles, sent to the primary).
var pgWriteFuncs = map[string]bool{
	"nextval": true, "setval": true, "lo_create": true, "lo_creat": true, "lo_unlink": true, "lo_put": true,
	"lo_from_bytea": true, "lo_truncate": true, "lo_truncate64": true, "lowrite": true, "lo_import": true,
	"brin_summarize_new_values": true, "brin_summarize_range": true, "brin_desummarize_range": true,
	"gin_clean_pending_list": true,
}

// pgSharedSequenceWrites are sequence functions that change a sequence's
// state for everyone: in row isolation the sequences are shared.
var pgSharedSequenceWrites = map[string]bool{"setval": true}

// pgDenyPrefixes are function-name prefixes refused for every role: files,
// other connections, the server's state, SQL run from strings.
var pgDenyPrefixes = []string{
	"dblink", "pg_ls_", "pg_read_", "pg_file_", "query_to_xml", "table_to_xml", "cursor_to_xml",
	"schema_to_xml", "database_to_xml", "pg_replication_", "pg_logical_", "pg_create_", "pg_drop_replication",
	"pg_copy_", "pg_wal_replay", "pg_stat_reset", "pg_execute", "pg_stat_get_", "pg_stat_statements",
	"pg_blocking_pids", "pg_safe_snapshot_blocking_pids", "pg_log_backend_memory_contexts",
	"binary_upgrade_",
}

func (a *pgStmt) denyFunc(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: function %s is not allowed for role %q on tenant %q", name, a.role.Name, a.tenant())
}

func (a *pgStmt) funcCall(f *pg.FuncCall) {
	names := pgNames(f.Funcname)
	if len(names) == 0 {
		return
	}
	a.qualified("function", names, 2)
	a.regArgs(f)
	if a.err != nil {
		return
	}
	name := lower(names[len(names)-1])
	if err := a.s.ownFunc(name, "function "+name+"()", a.role); err != nil {
		a.fail(err)
		return
	}
	for _, p := range pgDenyPrefixes {
		if strings.HasPrefix(name, p) {
			a.fail(a.denyFunc(name))
			return
		}
	}
	a.catalogFunc(name, f)
	if a.err != nil {
		return
	}
	// Sleeping holds a backend connection of the tenant's pool: read-only
	// roles may not; roles that may write can hold a connection anyway.
	if strings.HasPrefix(name, "pg_sleep") && a.role.Access < AccessWrite {
		a.fail(a.denyFunc(name))
		return
	}
	switch name {
	case "set_config":
		if a.role.Access < AccessAdmin {
			a.fail(a.denyFunc(name))
			return
		}
		if a.scope.Isolation == IsolationSchema {
			if a.setConfig != nil && a.setConfig.Name == "search_path" {
				// pg_dump's first statement: it needs search_path '' and
				// the whole database's catalogs.
				a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: set_config of search_path is not allowed on tenant %q (schema isolation): pg_dump of a schema tenant is not supported through the proxy; export its tables with COPY (SELECT ...) TO STDOUT or psql's \\copy, and its definitions with psql's \\d+", a.tenant()))
				return
			}
			a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: set_config is not allowed on tenant %q (schema isolation)", a.tenant()))
			return
		}
		a.litDep = true
		if len(f.Args) == 0 {
			return
		}
		setting, ok := pgConstString(f.Args[0])
		if a.setConfig != nil {
			setting, ok = a.setConfig.Name, true
		}
		switch lower(strings.TrimSpace(setting)) {
		case "search_path":
			// Tracked and replayed only as a statement of its own.
			ok = ok && a.setConfig != nil
		case "role", "session_authorization":
			ok = false
		case "standard_conforming_strings", "client_encoding":
			if len(f.Args) > 1 {
				val, isConst := pgConstString(f.Args[1])
				if err := a.lexerSetting(lower(strings.TrimSpace(setting)), val, isConst); err != nil {
					a.fail(err)
					return
				}
			}
		}
		if !ok {
			a.fail(sqlerr.New(sqlerr.Permission, "permission denied: set_config of this setting is not allowed on tenant %q", a.tenant()))
		}
		return
	}
	if name == "ts_rewrite" && len(f.Args) == 2 {
		// ts_rewrite(query, 'SELECT target, substitute FROM ...') runs the
		// query text; the three-argument form does not.
		a.fail(a.denyFunc(name))
		return
	}
	if pgWriteFuncs[name] {
		a.writeFn = true
	}
	rule := pgFuncRules[name]
	if rule == 0 && strings.HasPrefix(name, "lo_") {
		rule = fnLargeObject
	}
	switch rule {
	case fnDeny:
		a.fail(a.denyFunc(name))
	case fnNonAdmin:
		if a.role.Access < AccessAdmin {
			a.fail(a.denyFunc(name))
		}
	case fnNotify:
		if a.scope.Isolation != IsolationDatabase {
			a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: %s is not allowed on tenant %q (notification channels are shared with other tenants of the database)", name, a.tenant()))
		} else if a.role.Access < AccessAdmin {
			a.fail(a.denyFunc(name))
		}
	case fnLargeObject:
		if a.scope.Isolation != IsolationDatabase {
			a.fail(a.largeObjects())
		}
	case fnPins:
		a.pins = true
	case fnRelName:
		if a.scope.Isolation == IsolationRow && pgSharedSequenceWrites[name] {
			a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: %s is not allowed on tenant %q (row isolation: sequences are shared with other tenants)", name, a.tenant()))
			return
		}
		if a.scope.Isolation != IsolationSchema || len(f.Args) == 0 {
			return
		}
		a.litDep = true
		s, ok := pgConstString(f.Args[0])
		if _, guarded := pgOidFuncs[name]; !ok && guarded {
			return // a computed oid: shown only when it is the tenant's (catalogFunc)
		}
		if !ok {
			if c := f.Args[0].GetTypeCast(); c != nil && pgRegType(c.TypeName) != "" {
				if _, ok := pgConstString(c.Arg); ok {
					return // 'name'::regclass: checked as a cast
				}
			}
			a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: %s needs a constant relation name on tenant %q", name, a.tenant()))
			return
		}
		if pgNumericOID(s) {
			a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: %s needs a relation name, not an oid, on tenant %q", name, a.tenant()))
			return
		}
		if name == "to_regnamespace" {
			if !a.schemaAllowed(lower(strings.Trim(s, `"`))) {
				a.fail(a.outside("schema", s))
			}
			return
		}
		a.qualified("relation", splitQualified(s), 2)
	}
}

// pgRegObjectTypes are the object-identifier types naming relations,
// routines, operators, types, schemas, roles and collations by name or oid.
// (regconfig and regdictionary, text search configurations, are harmless.)
var pgRegObjectTypes = map[string]bool{
	"regclass": true, "regproc": true, "regprocedure": true, "regoper": true, "regoperator": true,
	"regtype": true, "regnamespace": true, "regrole": true, "regcollation": true,
}

// pgRegType returns the object-identifier type tn names ("regclass", ...), or "".
func pgRegType(tn *pg.TypeName) string {
	if tn == nil {
		return ""
	}
	names := pgNames(tn.Names)
	if len(names) == 0 || len(names) > 2 || len(names) == 2 && lower(names[0]) != "pg_catalog" {
		return ""
	}
	if t := lower(names[len(names)-1]); pgRegObjectTypes[t] {
		return t
	}
	return ""
}

// regArgs refuses, in schema isolation, casts to object-identifier types of
// anything but a constant name inside a function's arguments (at any depth):
// a computed name or an oid could hand another tenant's relation, sequence
// or routine to the function (setval(c.oid::regclass, ...)). Casts whose
// value is only displayed (psql's \d runs c.oid::pg_catalog.regclass) stay
// allowed; an oid column passed directly (oid and text cast to regclass
// implicitly) is refused by the relation-name rule of the function.
func (a *pgStmt) regArgs(f *pg.FuncCall) {
	if a.scope.Isolation != IsolationSchema {
		return
	}
	for _, arg := range f.Args {
		pgWalkNode(arg, func(m protoreflect.ProtoMessage) bool {
			c, ok := m.(*pg.TypeCast)
			if !ok || a.err != nil {
				return a.err == nil
			}
			if reg := pgRegType(c.TypeName); reg != "" {
				a.litDep = true
				if s, ok := pgConstString(c.Arg); !ok || c.Arg.GetAConst().GetSval() == nil || pgNumericOID(s) {
					a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: a cast to %s of anything but a constant name may not be passed to a function on tenant %q", reg, a.tenant()))
				}
			}
			return a.err == nil
		})
	}
}

// typeCast checks 'schema.name'::regclass-style casts of constants in schema
// isolation: a constant naming a numeric oid or another schema's object is
// refused (see regArgs for computed values).
func (a *pgStmt) typeCast(c *pg.TypeCast) {
	if c.TypeName == nil {
		return
	}
	if names := pgNames(c.TypeName.Names); len(names) > 0 {
		// A cast made with a function of the database calls it unnamed.
		typ := lower(names[len(names)-1])
		if err := a.s.ownFunc(typ, "a cast to "+typ, a.role); err != nil {
			a.fail(err)
			return
		}
	}
	if a.scope.Isolation != IsolationSchema {
		return
	}
	reg := pgRegType(c.TypeName)
	if reg == "" {
		return
	}
	a.litDep = true
	s, ok := pgConstString(c.Arg)
	if !ok {
		// Computed: checked where it reaches a function (regArgs); shown
		// as a name only when it is the tenant's object.
		if _, known := pgOidSets[reg]; known {
			a.guardOid(&c.Arg, reg, reg)
		}
		return
	}
	if pgNumericOID(s) {
		a.fail(sqlerr.New(sqlerr.CrossTenant, "permission denied: a cast to %s of an oid is not allowed on tenant %q; use a name", reg, a.tenant()))
		return
	}
	if reg == "regnamespace" {
		if !a.schemaAllowed(lower(strings.Trim(s, `"`))) {
			a.fail(a.outside("schema", s))
		}
		return
	}
	a.qualified("relation", splitQualified(s), 2)
}

// pgNumericOID reports whether s is what the reg* input functions read as a
// numeric oid rather than a name.
func pgNumericOID(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && !(i == 0 && (s[i] == '-' || s[i] == '+')) {
			return false
		}
	}
	return true
}

// splitQualified splits a possibly quoted qualified name ("a"."b", a.b) into
// its lower-cased (unless quoted) parts. Anything before an opening
// parenthesis (regprocedure arguments) counts.
func splitQualified(s string) []string {
	var parts []string
	var cur strings.Builder
	inQ := false
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if inQ && i+1 < len(s) && s[i+1] == '"' {
				cur.WriteByte('"')
				i++
				continue
			}
			inQ = !inQ
			quoted = true
		case c == '.' && !inQ:
			p := cur.String()
			if !quoted {
				p = lower(strings.TrimSpace(p))
			}
			parts = append(parts, p)
			cur.Reset()
			quoted = false
		case c == '(' && !inQ:
			i = len(s)
		default:
			cur.WriteByte(c)
		}
	}
	p := cur.String()
	if !quoted {
		p = lower(strings.TrimSpace(p))
	}
	parts = append(parts, p)
	return parts
}
