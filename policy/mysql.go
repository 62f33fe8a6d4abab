package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/model"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// myRestoreFlags restores rewritten MySQL statements. Backslashes in string
// literals are escaped too (the spec's flags plus RestoreStringEscapeBackslash)
// because MySQL's default sql_mode treats a backslash as an escape: without
// it a literal 'a\\' would come back as 'a\' and change the statement.
const myRestoreFlags = format.RestoreStringSingleQuotes | format.RestoreStringEscapeBackslash |
	format.RestoreKeyWordUppercase | format.RestoreNameBackQuotes

var errPredicate = errors.New("row filter must be one boolean expression")

// myParse parses MySQL text. The TiDB parser is not safe for concurrent use,
// so each call gets its own (they are cheap to build).
func myParse(sql string) ([]ast.StmtNode, error) {
	p := parser.New()
	stmts, _, err := p.Parse(sql, "", "")
	return stmts, err
}

func myRestore(n ast.Node) (string, error) {
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(myRestoreFlags, &b)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// checkMySQL analyses a MySQL text; see checkPG for the bool.
func (e *Engine) checkMySQL(s Subject, sql string) (*result, bool) {
	return e.checkMySQLCap(s, sql, true)
}

// checkMySQLCap is checkMySQL; counted says whether the front end counts
// the rows of the text's results (it does not for the text of an SQL-level
// PREPARE, whose rows EXECUTE returns), which decides how a cap is applied
// (see Stmt.Cap).
func (e *Engine) checkMySQLCap(s Subject, sql string, counted bool) (*result, bool) {
	if myHasExecComment(sql) {
		return &result{err: sqlerr.New(sqlerr.Privilege, "permission denied: executable comments (/*! ... */, /*M! ... */) are not allowed on tenant %q: the server runs what the proxy's parser may skip (or the reverse)", s.Scope.Tenant)}, false
	}
	stmts, err := myParse(sql)
	if err != nil {
		if k := myAdminPrefix(sql); k != "" {
			return &result{err: sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q", k, s.Scope.Tenant)}, false
		}
		return &result{err: sqlerr.Wrap(sqlerr.Syntax, err, "syntax error: %s", err.Error())}, false
	}
	dec := &Decision{SQL: sql}
	tmplSafe := true
	masked := map[string]bool{}
	outs := make([]string, len(stmts))
	pos := 0 // where outs[i] starts in the joined output
	for i, stmt := range stmts {
		a := &myStmt{e: e, s: s, role: s.Role, scope: s.Scope, stmt: stmt, counted: counted}
		st, err := a.analyze()
		if err != nil {
			return &result{err: err}, false
		}
		outs[i] = strings.TrimSpace(stmt.Text())
		if a.rewritten {
			dec.Rewritten = true
			out, spans, rerr := a.restoreOut()
			if rerr != nil {
				return &result{err: sqlerr.Wrap(sqlerr.Internal, rerr, "internal error while rewriting the statement")}, false
			}
			outs[i] = out
			for _, sp := range spans {
				sp.Pos += pos
				dec.Subst = append(dec.Subst, sp)
			}
		}
		pos += len(outs[i]) + len("; ")
		if a.litDep || !a.plainDML {
			tmplSafe = false
		}
		if a.capped {
			dec.Capped, dec.MaxRows = true, s.Role.MaxRows
		}
		if a.maskOut {
			dec.maskOut = true
		}
		for _, m := range a.masks {
			masked[m] = true
		}
		dec.Stmts = append(dec.Stmts, st)
	}
	for m := range masked {
		dec.Masked = append(dec.Masked, m)
	}
	sort.Strings(dec.Masked)
	if dec.Rewritten {
		dec.SQL = strings.Join(outs, "; ")
	} else {
		dec.Subst = nil
	}
	return &result{dec: dec}, tmplSafe
}

// myHasExecComment reports whether sql holds, outside string literals, quoted
// identifiers and ordinary comments, an executable comment: /*! ... */ and
// /*!NNNNN ... */ (MySQL and MariaDB run the body; TiDB's parser also runs
// versions MariaDB skips), /*M! ... */ (MariaDB runs it, TiDB skips it) or
// any other /*X! ... */ form (TiDB runs /*T! ... */, MariaDB skips it). Any
// of them lets the proxy and the server see different statements.
//
// The scan follows MariaDB's lexer under the session settings the policy
// allows (backslash escapes on, double quotes delimit strings, no multi-byte
// client character set that could hide a backslash): see classifySet.
func myHasExecComment(sql string) bool {
	n := len(sql)
	for i := 0; i < n; i++ {
		switch c := sql[i]; c {
		case '\'', '"', '`':
			for i++; i < n; i++ {
				if sql[i] == '\\' && c != '`' {
					i++
					continue
				}
				if sql[i] == c {
					if i+1 < n && sql[i+1] == c {
						i++
						continue
					}
					break
				}
			}
		case '#':
			for i < n && sql[i] != '\n' {
				i++
			}
		case '-':
			if i+2 < n && sql[i+1] == '-' && (sql[i+2] <= ' ') || i+2 == n && sql[i+1] == '-' {
				for i < n && sql[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 >= n || sql[i+1] != '*' {
				continue
			}
			if i+2 < n && sql[i+2] == '!' {
				return true
			}
			if i+3 < n && sql[i+3] == '!' && (sql[i+2]|0x20 >= 'a' && sql[i+2]|0x20 <= 'z') {
				return true
			}
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return false // an unterminated comment: the parsers refuse it
			}
			i += 2 + end + 1
		}
	}
	return false
}

// myAdminPrefix recognises statements the TiDB grammar lacks but that must be
// refused as privileged rather than as syntax errors (SET PERSIST).
func myAdminPrefix(sql string) string {
	f := strings.Fields(strings.ToUpper(sql))
	if len(f) >= 2 && f[0] == "SET" && (strings.HasPrefix(f[1], "PERSIST") || strings.HasPrefix(f[1], "@@PERSIST")) {
		return "SET PERSIST"
	}
	return ""
}

// myStmt is the analysis of one MySQL statement.
type myStmt struct {
	e     *Engine
	s     Subject
	role  *Role
	scope *Scope
	stmt  ast.StmtNode
	// counted: the front end counts this statement's rows (see Stmt.Cap).
	counted bool

	st        Stmt
	litDep    bool
	plainDML  bool
	rewritten bool
	capped    bool
	masks     []string

	ctes     []map[string]bool
	withOf   map[ast.Node]bool
	refs     map[*ast.TableName]bool
	visited  map[*ast.TableName]bool // every table name the visitor reached
	tables   map[string]bool
	rangeNms map[string]bool
	maskOut  bool // the top-level output carries masked columns
	selects  []*ast.SelectStmt
	locking  bool
	writes   bool // a function that changes data (NEXTVAL, SETVAL)
	err      *sqlerr.Error
	// infoRefs are information_schema tables and the column naming the
	// database each row belongs to; they are filtered to the tenant's own.
	infoRefs map[*ast.TableName]string
	// locals are a stored procedure's parameters and declared variables.
	locals map[string]bool
	// substs are the calls the front end fills in (CONNECTION_ID(), USER()).
	substs map[*ast.FuncCallExpr]string
}

func (a *myStmt) tenant() string { return a.scope.Tenant }

func (a *myStmt) fail(err *sqlerr.Error) {
	if a.err == nil {
		a.err = err
	}
}

func (a *myStmt) privilege(what string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q", what, a.tenant())
}

func (a *myStmt) outside(kind, name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.CrossTenant, "%s %q is outside tenant %q", kind, name, a.tenant())
}

func (a *myStmt) analyze() (Stmt, *sqlerr.Error) {
	class, kind, err := a.classify(a.stmt)
	if err != nil {
		return Stmt{}, err
	}
	a.st.Class, a.st.Kind = class, kind
	if class == ClassDDL && a.scope.Isolation == IsolationRow && !mySessionLocalDDL(a.stmt) {
		return Stmt{}, sqlerr.New(sqlerr.CrossTenant, "permission denied: %s is not allowed on tenant %q (row isolation: the database and its tables are shared with other tenants)", kind, a.tenant())
	}
	if class == ClassTx || kind == "KILL" {
		// No expressions: BEGIN, COMMIT, SAVEPOINT names, KILL <literal>.
		if !accessAllows(a.role.Access, class) {
			return Stmt{}, a.permission()
		}
		return a.st, nil
	}
	// Every other statement, session statements included (SET @v = <expr>,
	// SHOW ... WHERE <expr>), is walked in full: every expression anywhere
	// gets the same checks, masks, row filters and schema filters.
	a.refs = map[*ast.TableName]bool{}
	a.infoRefs = map[*ast.TableName]string{}
	a.tables = map[string]bool{}
	a.rangeNms = map[string]bool{}
	a.withOf = map[ast.Node]bool{}
	a.visited = map[*ast.TableName]bool{}
	a.stmt.Accept(a)
	if a.err == nil {
		a.unvisitedTables()
	}
	if a.err == nil {
		a.ownFuncs()
	}
	if p, ok := a.stmt.(*ast.ProcedureInfo); ok && a.err == nil {
		a.fail(a.procBody(p))
	}
	if a.err != nil {
		return Stmt{}, a.err
	}
	if (a.locking || a.writes) && rank(a.st.Class) < rank(ClassWrite) {
		a.st.Class = ClassWrite
	}
	if !accessAllows(a.role.Access, a.st.Class) {
		return Stmt{}, a.permission()
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
	if err := a.infoSchemaFilters(); err != nil {
		return Stmt{}, err
	}
	if a.role.MaxRows > 0 {
		a.capTop()
	}
	return a.st, nil
}

func (a *myStmt) permission() *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: role %q may not run %s (%s) on tenant %q",
		a.role.Name, a.st.Kind, a.st.Class, a.tenant())
}

func (a *myStmt) classify(n ast.StmtNode) (Class, string, *sqlerr.Error) {
	switch x := n.(type) {
	case *ast.SelectStmt:
		a.plainDML = true
		if x.SelectIntoOpt != nil {
			if x.SelectIntoOpt.Tp == ast.SelectIntoVars {
				a.st.Pins = true
				a.plainDML = false
				return ClassRead, "SELECT", nil
			}
			return 0, "", a.privilege("SELECT ... INTO OUTFILE/DUMPFILE")
		}
		if v := myShowVar(x); v != "" {
			a.st.ShowVar = v
			a.plainDML = false
			return ClassSession, "SELECT", nil
		}
		switch x.Kind {
		case ast.SelectStmtKindTable:
			return ClassRead, "TABLE", nil
		case ast.SelectStmtKindValues:
			return ClassRead, "VALUES", nil
		}
		return ClassRead, "SELECT", nil
	case *ast.SetOprStmt:
		a.plainDML = true
		return ClassRead, "SELECT", nil
	case *ast.InsertStmt:
		a.plainDML = true
		if x.IsReplace {
			return ClassWrite, "REPLACE", nil
		}
		return ClassWrite, "INSERT", nil
	case *ast.UpdateStmt:
		a.plainDML = true
		return ClassWrite, "UPDATE", nil
	case *ast.DeleteStmt:
		a.plainDML = true
		return ClassWrite, "DELETE", nil
	case *ast.LoadDataStmt, *ast.ImportIntoStmt:
		return 0, "", a.privilege("LOAD DATA")
	case *ast.ExplainStmt:
		cl, _, err := a.classify(x.Stmt)
		a.plainDML = false
		a.st.ShowVar = ""
		if err != nil {
			return 0, "", err
		}
		if x.Analyze && cl != ClassRead {
			return cl, "EXPLAIN ANALYZE", nil
		}
		if cl == ClassSession || cl == ClassTx {
			return cl, "EXPLAIN", nil
		}
		return ClassRead, "EXPLAIN", nil
	case *ast.ShowStmt:
		switch x.Tp {
		case ast.ShowProcessList, ast.ShowEngines, ast.ShowMasterStatus, ast.ShowBinlogStatus,
			ast.ShowReplicaStatus, ast.ShowPlugins, ast.ShowPrivileges, ast.ShowCreateUser:
			return 0, "", a.privilege("SHOW " + myShowWord(x))
		case ast.ShowGrants:
			if !a.serverDetailsAllowed() {
				return 0, "", a.serverDetails("SHOW GRANTS")
			}
			if x.User != nil && !x.User.CurrentUser {
				return 0, "", a.privilege("SHOW GRANTS FOR another user")
			}
		case ast.ShowStatus:
			if !a.serverDetailsAllowed() {
				return 0, "", a.serverDetails("SHOW STATUS")
			}
		case ast.ShowVariables:
			if !a.serverDetailsAllowed() {
				a.hideServerVars(x)
			}
		}
		if x.DBName != "" && !a.dbAllowed(x.DBName) {
			return 0, "", a.outside("database", x.DBName)
		}
		if x.Tp == ast.ShowVariables {
			return ClassSession, "SHOW", nil
		}
		return ClassRead, "SHOW", nil
	case *ast.UseStmt:
		a.st.TenantSwitch = x.DBName
		return ClassSession, "USE", nil
	case *ast.SetStmt:
		return a.classifySet(x)
	case *ast.KillStmt:
		a.st.KillID, a.st.KillQuery = x.ConnectionID, x.Query
		if x.Expr != nil {
			return 0, "", sqlerr.New(sqlerr.Unsupported, "KILL needs a literal connection id")
		}
		return ClassUtility, "KILL", nil
	case *ast.BeginStmt:
		return ClassTx, "BEGIN", nil
	case *ast.CommitStmt:
		return ClassTx, "COMMIT", nil
	case *ast.RollbackStmt:
		if x.SavepointName != "" {
			return ClassTx, "ROLLBACK TO SAVEPOINT", nil
		}
		return ClassTx, "ROLLBACK", nil
	case *ast.SavepointStmt:
		return ClassTx, "SAVEPOINT", nil
	case *ast.ReleaseSavepointStmt:
		return ClassTx, "RELEASE SAVEPOINT", nil
	case *ast.PrepareStmt:
		a.st.Pins = true
		if x.SQLVar != nil {
			return 0, "", sqlerr.New(sqlerr.Unsupported, "PREPARE ... FROM @variable cannot be checked; use PREPARE ... FROM '<statement>'")
		}
		res, _ := a.e.checkMySQLCap(a.s, x.SQLText, false)
		if res.err != nil {
			return 0, "", res.err
		}
		if len(res.dec.Stmts) != 1 {
			return 0, "", sqlerr.New(sqlerr.Syntax, "PREPARE needs exactly one statement")
		}
		if len(res.dec.Subst) > 0 {
			return 0, "", sqlerr.New(sqlerr.Unsupported, "CONNECTION_ID() and USER() are not supported inside PREPARE ... FROM; use the prepared-statement protocol")
		}
		if res.dec.maskOut {
			// EXECUTE names no table: its rows could not be masked.
			return 0, "", sqlerr.New(sqlerr.Permission, "permission denied: PREPARE of masked columns is not allowed for role %q (the rows of EXECUTE cannot be masked); list the columns you need without them", a.role.Name)
		}
		if res.dec.Rewritten {
			x.SQLText = res.dec.SQL
			a.rewritten = true
		}
		a.capped = res.dec.Capped
		a.masks = res.dec.Masked
		return res.dec.Stmts[0].Class, "PREPARE", nil
	case *ast.ExecuteStmt:
		return ClassWrite, "EXECUTE", nil
	case *ast.DeallocateStmt:
		return ClassSession, "DEALLOCATE PREPARE", nil
	case *ast.CallStmt:
		if a.scope.Isolation == IsolationRow {
			// A procedure's statements read the shared tables unfiltered.
			return 0, "", sqlerr.New(sqlerr.CrossTenant, "permission denied: CALL is not allowed on tenant %q (row isolation: a procedure's statements are not filtered to the tenant's rows)", a.tenant())
		}
		if r := a.role; len(r.RowFilters) > 0 || len(r.AllowedTables) > 0 || len(r.DeniedTables) > 0 || r.MaxRows > 0 || len(r.MaskedColumns) > 0 {
			// The body runs with the backend account's rights: the role's
			// filters, table lists, cap and masks would not reach it.
			return 0, "", sqlerr.New(sqlerr.Permission, "permission denied: CALL is not allowed for role %q on tenant %q (its row filters, table lists, row cap or masks would not apply inside the procedure)", r.Name, a.tenant())
		}
		return ClassWrite, "CALL", nil
	case *ast.DoStmt:
		return ClassRead, "DO", nil
	case *ast.LockTablesStmt:
		return ClassWrite, "LOCK TABLES", nil
	case *ast.UnlockTablesStmt:
		return ClassTx, "UNLOCK TABLES", nil
	case *ast.CreateDatabaseStmt, *ast.DropDatabaseStmt, *ast.AlterDatabaseStmt, *ast.CreateUserStmt,
		*ast.AlterUserStmt, *ast.DropUserStmt, *ast.RenameUserStmt, *ast.GrantStmt, *ast.RevokeStmt,
		*ast.GrantRoleStmt, *ast.RevokeRoleStmt, *ast.SetPwdStmt, *ast.SetRoleStmt, *ast.SetDefaultRoleStmt,
		*ast.FlushStmt, *ast.ShutdownStmt, *ast.RestartStmt, *ast.AdminStmt, *ast.BRIEStmt,
		*ast.ChangeStmt, *ast.CreateBindingStmt, *ast.DropBindingStmt, *ast.SetBindingStmt,
		*ast.CreateResourceGroupStmt, *ast.AlterResourceGroupStmt, *ast.DropResourceGroupStmt,
		*ast.AlterInstanceStmt, *ast.PlanReplayerStmt, *ast.CreatePlacementPolicyStmt,
		*ast.AlterPlacementPolicyStmt, *ast.DropPlacementPolicyStmt, *ast.SetConfigStmt,
		*ast.DropProcedureStmt:
		return 0, "", a.privilege(myKind(n))
	case *ast.ExplainForStmt:
		// Another connection's statement: on a shared server, another
		// tenant's.
		return 0, "", a.privilege("EXPLAIN FOR CONNECTION")
	case *ast.CreateTableStmt:
		if err := a.tableOptions(x.Options); err != nil {
			return 0, "", err
		}
		if x.TemporaryKeyword != ast.TemporaryNone {
			a.st.Pins = true
			return ClassDDL, "CREATE TEMPORARY TABLE", nil
		}
		return ClassDDL, "CREATE TABLE", nil
	case *ast.DropTableStmt:
		if x.TemporaryKeyword != ast.TemporaryNone {
			return ClassDDL, "DROP TEMPORARY TABLE", nil
		}
		return ClassDDL, "DROP TABLE", nil
	case *ast.AlterTableStmt:
		for _, sp := range x.Specs {
			if err := a.tableOptions(sp.Options); err != nil {
				return 0, "", err
			}
		}
		return ClassDDL, myKind(n), nil
	case *ast.CreateIndexStmt, *ast.DropIndexStmt, *ast.TruncateTableStmt,
		*ast.RenameTableStmt, *ast.CreateViewStmt, *ast.CreateSequenceStmt, *ast.DropSequenceStmt,
		*ast.AlterSequenceStmt, *ast.RepairTableStmt, *ast.OptimizeTableStmt:
		return ClassDDL, myKind(n), nil
	case *ast.AnalyzeTableStmt:
		return ClassUtility, "ANALYZE TABLE", nil
	}
	return ClassUtility, myKind(n), nil
}

// myEngines are the storage engines a table may be created with: engines
// that reach other servers or tables (FEDERATED, CONNECT, SPIDER, MERGE,
// OQGRAPH, ...) could read another tenant's data through the proxy's
// backend account.
var myEngines = map[string]bool{
	"innodb": true, "xtradb": true, "aria": true, "myisam": true, "memory": true, "heap": true,
	"archive": true, "blackhole": true, "csv": true, "rocksdb": true, "sequence": true,
}

// tableOptions refuses table options that reach outside the tenant's
// database: other engines, CONNECTION=, DATA/INDEX DIRECTORY=, UNION=.
func (a *myStmt) tableOptions(opts []*ast.TableOption) *sqlerr.Error {
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionEngine:
			if o.StrValue != "" && !myEngines[strings.ToLower(o.StrValue)] {
				return a.privilege("ENGINE=" + o.StrValue)
			}
		case ast.TableOptionConnection:
			return a.privilege("CONNECTION=")
		case ast.TableOptionDataDirectory, ast.TableOptionIndexDirectory:
			return a.privilege("DATA DIRECTORY / INDEX DIRECTORY")
		case ast.TableOptionUnion:
			return a.privilege("UNION=")
		}
	}
	return nil
}

// mySessionLocalDDL reports DDL private to the session (temporary tables),
// which row isolation allows.
func mySessionLocalDDL(n ast.StmtNode) bool {
	switch x := n.(type) {
	case *ast.CreateTableStmt:
		return x.TemporaryKeyword != ast.TemporaryNone
	case *ast.DropTableStmt:
		return x.TemporaryKeyword != ast.TemporaryNone
	}
	return false
}

// myShowVar recognises SELECT @@tenant / @@session.tenant.
func myShowVar(x *ast.SelectStmt) string {
	if x.From != nil || x.Where != nil || x.Fields == nil || len(x.Fields.Fields) != 1 {
		return ""
	}
	v, ok := x.Fields.Fields[0].Expr.(*ast.VariableExpr)
	if ok && v.IsSystem && !v.IsGlobal && strings.EqualFold(v.Name, "tenant") {
		return "tenant"
	}
	return ""
}

func myShowWord(x *ast.ShowStmt) string {
	s, err := myRestore(x)
	if err != nil {
		return "statement"
	}
	return strings.TrimPrefix(s, "SHOW ")
}

// myKind names a statement type: *ast.CreateDatabaseStmt -> CREATE DATABASE.
func myKind(n ast.Node) string {
	name := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", n), "*ast."), "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// dbAllowed reports whether a qualified reference may name database db.
func (a *myStmt) dbAllowed(db string) bool {
	return strings.EqualFold(db, a.scope.Database) || strings.EqualFold(db, "information_schema")
}

// Enter implements ast.Visitor: checks and collection.
func (a *myStmt) Enter(n ast.Node) (ast.Node, bool) {
	if a.err != nil {
		return n, true
	}
	switch x := n.(type) {
	case *ast.SelectStmt:
		a.selects = append(a.selects, x)
		if x.LockInfo != nil && x.LockInfo.LockType != ast.SelectLockNone {
			a.locking = true
		}
		if x.SelectIntoOpt != nil && x.SelectIntoOpt.Tp != ast.SelectIntoVars {
			a.fail(a.privilege("SELECT ... INTO OUTFILE/DUMPFILE"))
		}
		a.pushWith(n, x.With)
	case *ast.SetOprStmt:
		a.pushWith(n, x.With)
	case *ast.SetOprSelectList:
		a.pushWith(n, x.With)
	case *ast.UpdateStmt:
		a.pushWith(n, x.With)
	case *ast.DeleteStmt:
		a.pushWith(n, x.With)
		if x.Tables != nil {
			// DELETE t1 FROM t1 JOIN t2: the list names FROM items; check
			// only the FROM clause and the rest.
			tables := x.Tables
			x.Tables = nil
			defer func() { x.Tables = tables }()
			for _, t := range tables.Tables {
				a.visited[t] = true // names FROM items, checked here
				if t.Schema.O != "" && !a.dbAllowed(t.Schema.O) {
					a.fail(a.outside("table", t.Schema.O+"."+t.Name.O))
				}
			}
			if x.TableRefs != nil {
				x.TableRefs.Accept(a)
			}
			if x.Where != nil {
				x.Where.Accept(a)
			}
			if x.Order != nil {
				x.Order.Accept(a)
			}
			if x.With != nil {
				// already walked above via pushWith scope; nothing else
				_ = x.With
			}
			a.popWith(n)
			return n, true
		}
	case *ast.WithClause:
		if x.IsRecursive && len(a.ctes) > 0 {
			for _, c := range x.CTEs {
				a.ctes[len(a.ctes)-1][c.Name.L] = true
			}
		}
	case *ast.ProcedureInfo:
		a.procLocals(x)
	case *ast.SetStmt:
		if n != ast.Node(a.stmt) {
			a.nestedSet(x)
		}
	case *ast.UseStmt:
		if n != ast.Node(a.stmt) {
			// Unqualified names in the rest of the body would resolve in
			// another database.
			a.fail(a.privilege("USE inside a stored procedure"))
		}
	case *ast.TableName:
		a.visited[x] = true
		a.tableName(x)
	case *ast.TableSource:
		if x.AsName.L != "" {
			a.rangeNms[x.AsName.L] = true
		}
	case *ast.ColumnName:
		if x.Schema.O != "" && !a.dbAllowed(x.Schema.O) {
			a.fail(a.outside("table", x.Schema.O+"."+x.Table.O))
		}
	case *ast.FuncCallExpr:
		a.funcCall(x)
	case *ast.VariableExpr:
		if x.Value != nil && !x.IsSystem {
			a.st.Pins = true // SELECT @x := ...
		}
		if x.Value != nil && x.IsSystem {
			a.fail(a.privilege("assigning system variables inside a statement"))
		}
		if x.IsSystem && myServerVarSet[strings.ToLower(x.Name)] && !a.serverDetailsAllowed() {
			a.fail(a.serverDetails("@@" + strings.ToLower(x.Name)))
		}
	}
	return n, a.err != nil
}

// Leave implements ast.Visitor.
func (a *myStmt) Leave(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.CommonTableExpression:
		if len(a.ctes) > 0 {
			a.ctes[len(a.ctes)-1][x.Name.L] = true
			a.rangeNms[x.Name.L] = true
		}
	case *ast.SelectStmt, *ast.SetOprStmt, *ast.SetOprSelectList, *ast.UpdateStmt, *ast.DeleteStmt:
		a.popWith(n)
	}
	return n, a.err == nil
}

func (a *myStmt) pushWith(n ast.Node, w *ast.WithClause) {
	if w == nil || a.withOf[n] {
		return
	}
	a.withOf[n] = true
	a.ctes = append(a.ctes, map[string]bool{})
}

func (a *myStmt) popWith(n ast.Node) {
	if a.withOf[n] {
		delete(a.withOf, n)
		a.ctes = a.ctes[:len(a.ctes)-1]
	}
}

func (a *myStmt) isCTE(name string) bool {
	for i := len(a.ctes) - 1; i >= 0; i-- {
		if a.ctes[i][name] {
			return true
		}
	}
	return false
}

func (a *myStmt) tableName(t *ast.TableName) {
	if t.Schema.O != "" {
		switch strings.ToLower(t.Schema.O) {
		case "information_schema":
			a.infoTable(t)
			return
		case "performance_schema", "mysql", "sys":
			a.fail(a.outside("table", t.Schema.O+"."+t.Name.O))
			return
		}
		if !a.dbAllowed(t.Schema.O) {
			a.fail(a.outside("table", t.Schema.O+"."+t.Name.O))
			return
		}
	}
	rel := t.Name.L
	a.rangeNms[rel] = true
	if t.Schema.O == "" && a.isCTE(rel) {
		return
	}
	a.refs[t] = true
	a.tables[rel] = true
	for _, d := range a.role.DeniedTables {
		if strings.EqualFold(d, rel) {
			a.fail(a.tableDenied(rel))
			return
		}
	}
	if len(a.role.AllowedTables) > 0 {
		for _, al := range a.role.AllowedTables {
			if strings.EqualFold(al, rel) {
				return
			}
		}
		a.fail(a.tableDenied(rel))
	}
}

func (a *myStmt) tableDenied(rel string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: role %q may not access table %q on tenant %q", a.role.Name, rel, a.tenant())
}

var myDenyFuncs = map[string]bool{
	"load_file": true, "sleep": true, "benchmark": true, "sys_exec": true, "sys_eval": true,
	"sys_get": true, "sys_set": true, "sys_bineval": true, "lib_mysqludf_sys_info": true,
	"master_pos_wait": true, "source_pos_wait": true, "wait_for_executed_gtid_set": true,
	"wait_until_sql_thread_after_gtids": true,
}

func (a *myStmt) funcCall(f *ast.FuncCallExpr) {
	if f.Schema.O != "" && !a.dbAllowed(f.Schema.O) {
		a.fail(a.outside("function", f.Schema.O+"."+f.FnName.O))
		return
	}
	name := f.FnName.L
	if myDenyFuncs[name] || strings.HasPrefix(name, "sys_") {
		a.fail(sqlerr.New(sqlerr.Permission, "permission denied: function %s is not allowed for role %q on tenant %q", name, a.role.Name, a.tenant()))
		return
	}
	switch name {
	case "get_lock", "release_lock", "is_free_lock", "is_used_lock":
		if name == "get_lock" {
			a.st.Pins = true
		}
		// User lock names are server-wide: each tenant gets its own
		// namespace, so that tenants neither block nor probe each other.
		if len(f.Args) > 0 {
			f.Args[0] = &ast.FuncCallExpr{FnName: model.NewCIStr("CONCAT"),
				Args: []ast.ExprNode{ast.NewValueExpr(a.tenant()+":", "", ""), f.Args[0]}}
			a.rewritten = true
		}
	case "nextval", "setval":
		a.writes = true // they change the sequence, whatever the statement
	case "connection_id":
		a.subst(f, SubstConnectionID)
	case "user", "current_user", "session_user", "system_user":
		a.subst(f, SubstUser)
	}
}

// Masks: the same rules as for Postgres (see pgStmt.checkMasks). A masked
// column may only be selected bare (or through *) in the top-level select
// list of a plain SELECT whose rows reach the front end; column lists on CTEs
// reading masked rows, NATURAL JOIN and USING on masked columns, positional
// ORDER BY / GROUP BY that may land on one are refused; SELECT ... INTO
// @variables and (see classify) PREPARE of masked output too.
func (a *myStmt) checkMasks() *sqlerr.Error {
	if len(a.role.MaskedColumns) == 0 {
		return nil
	}
	if _, ok := a.stmt.(*ast.CallStmt); ok {
		// A procedure's rows come from statements the proxy never sees.
		return sqlerr.New(sqlerr.Permission, "permission denied: CALL is not allowed for role %q, which has masked columns", a.role.Name)
	}
	cols := map[string]bool{}
	maskSet := map[string]bool{}
	for _, mc := range a.role.MaskedColumns {
		tbl, col, ok := strings.Cut(lower(mc), ".")
		if ok && a.tables[tbl] {
			cols[col] = true
			maskSet[tbl+"."+col] = true
			a.masks = append(a.masks, tbl+"."+col)
		}
	}
	if len(cols) == 0 {
		return nil
	}

	m := &myMaskCheck{a: a, cols: cols, allowed: map[*ast.ColumnName]bool{}, starOK: map[*ast.SelectStmt]bool{}}
	m.scope = a.newMaskScope()
	if top, ok := a.stmt.(*ast.SelectStmt); ok && !top.Distinct && top.Fields != nil {
		m.top = top
		for _, f := range top.Fields.Fields {
			masked := false
			switch {
			case f.WildCard != nil:
				masked = true
			case f.Expr != nil:
				if c, ok := f.Expr.(*ast.ColumnNameExpr); ok {
					m.allowed[c.Name] = true
					masked = cols[c.Name.Name.L]
				}
			}
			if masked {
				a.maskOut = true
				if f.AsName.L != "" {
					m.aliases = append(m.aliases, f.AsName.L)
				}
			}
		}
		m.starOK[top] = true
	}
	if top, ok := a.stmt.(*ast.SelectStmt); ok && top.Kind == ast.SelectStmtKindTable {
		a.maskOut = true // TABLE t: every column
	}
	if top, ok := a.stmt.(*ast.SelectStmt); ok {
		a.st.Output = a.outputPlan(top, maskSet, cols)
	}
	if top, ok := a.stmt.(*ast.SelectStmt); ok && a.maskOut && top.SelectIntoOpt != nil {
		return sqlerr.New(sqlerr.Permission, "permission denied: SELECT ... INTO of masked columns is not allowed for role %q (the values cannot be masked); list the columns you need without them", a.role.Name)
	}
	a.stmt.Accept(m)
	return m.err
}

// viewRules refuses a view whose reads escape the role's read rules
// (Subject.viewRule): the column definitions of its rows name the view.
func (a *myStmt) viewRules() *sqlerr.Error {
	if a.s.Tables == nil || len(a.s.Tables.Views) == 0 || !a.role.ReadRules() {
		return nil
	}
	for _, view := range a.st.Tables {
		if rel := a.s.viewRule(view, a.role); rel != "" {
			return viewRuleErr(view, rel, a.role)
		}
	}
	return nil
}

type myMaskCheck struct {
	a       *myStmt
	cols    map[string]bool
	allowed map[*ast.ColumnName]bool
	starOK  map[*ast.SelectStmt]bool
	aliases []string
	top     *ast.SelectStmt
	scope   *myMaskScope
	err     *sqlerr.Error
}

// positional refuses ORDER BY / GROUP BY by a position that is, or may be
// (at or after a *), a masked column; and, in the top-level select, ORDER
// BY / GROUP BY an alias of one.
func (m *myMaskCheck) positional(sel *ast.SelectStmt) *sqlerr.Error {
	var items []*ast.ByItem
	if sel.OrderBy != nil {
		items = append(items, sel.OrderBy.Items...)
	}
	if sel.GroupBy != nil {
		items = append(items, sel.GroupBy.Items...)
	}
	masked := func(pos int) bool {
		if sel.Fields == nil {
			return false
		}
		for i, f := range sel.Fields.Fields {
			if f.WildCard != nil {
				return true // the position may fall in or after its expansion
			}
			if i == pos-1 {
				c, ok := f.Expr.(*ast.ColumnNameExpr)
				return ok && m.cols[c.Name.Name.L]
			}
		}
		return false
	}
	for _, it := range items {
		m.a.litDep = true
		if p, ok := it.Expr.(*ast.PositionExpr); ok && masked(p.N) {
			return sqlerr.New(sqlerr.Permission, "permission denied: ordering or grouping by position %d (a masked column, or a position a * may cover) is not allowed for role %q; name the column instead", p.N, m.a.role.Name)
		}
		if c, ok := it.Expr.(*ast.ColumnNameExpr); ok && sel == m.top && c.Name.Table.L == "" {
			for _, al := range m.aliases {
				if al == c.Name.Name.L {
					return m.a.maskErrName(al, m.cols)
				}
			}
		}
	}
	return nil
}

func (a *myStmt) maskErrName(col string, _ map[string]bool) *sqlerr.Error {
	for _, mk := range a.masks {
		if strings.HasSuffix(mk, "."+col) {
			col = mk
			break
		}
	}
	return sqlerr.New(sqlerr.Permission, "permission denied: column %q is masked for role %q and may only be selected as a plain column", col, a.role.Name)
}

// Enter implements ast.Visitor.
func (m *myMaskCheck) Enter(n ast.Node) (ast.Node, bool) {
	if m.err != nil {
		return n, true
	}
	switch x := n.(type) {
	case *ast.TableSource:
		if s, ok := x.Source.(*ast.SelectStmt); ok {
			// MariaDB's column metadata does not name the original table of
			// a derived table's columns, so masked values read through one
			// could not be recognised in the result.
			if m.scope.reads(s) {
				m.err = sqlerr.New(sqlerr.Permission, "permission denied: a derived table reading a table with masked columns is not allowed for role %q; select from the table itself", m.a.role.Name)
				return n, true
			}
			m.starOK[s] = true
		}
	case *ast.CommonTableExpression:
		if x.Query != nil && m.scope.reads(x.Query) {
			m.err = sqlerr.New(sqlerr.Permission, "permission denied: a CTE reading a table with masked columns (%q) is not allowed for role %q; select from the table itself", x.Name.O, m.a.role.Name)
			return n, true
		}
		if x.Query != nil {
			if s, ok := x.Query.Query.(*ast.SelectStmt); ok {
				m.starOK[s] = true
			}
		}
	case *ast.Join:
		if x.NaturalJoin && (x.Left != nil && m.scope.reads(x.Left) || x.Right != nil && m.scope.reads(x.Right)) {
			m.err = sqlerr.New(sqlerr.Permission, "permission denied: NATURAL JOIN with a table with masked columns is not allowed for role %q; join ON the columns you need", m.a.role.Name)
			return n, true
		}
		for _, u := range x.Using {
			if m.cols[u.Name.L] {
				m.err = m.a.maskErrName(u.Name.L, m.cols)
				return n, true
			}
		}
	case *ast.ExistsSubqueryExpr:
		if sq, ok := x.Sel.(*ast.SubqueryExpr); ok {
			if s, ok := sq.Query.(*ast.SelectStmt); ok {
				m.starOK[s] = true
			}
		}
	case *ast.SelectStmt:
		if x.Fields != nil {
			for _, f := range x.Fields.Fields {
				if f.WildCard != nil && !m.starOK[x] {
					m.err = sqlerr.New(sqlerr.Permission, "permission denied: * over a table with masked columns may only be used in the top-level select list for role %q", m.a.role.Name)
					return n, true
				}
			}
		}
		if err := m.positional(x); err != nil {
			m.err = err
			return n, true
		}
	case *ast.ColumnName:
		if m.allowed[x] {
			return n, false
		}
		if m.cols[x.Name.L] {
			m.err = m.a.maskErrName(x.Name.L, m.cols)
			return n, true
		}
		if x.Table.L == "" {
			// An alias of a masked column names its values wherever it
			// can be resolved (HAVING, ORDER BY, a sub-query's select
			// list): any unqualified use of that name is refused.
			for _, al := range m.aliases {
				if al == x.Name.L {
					m.err = sqlerr.New(sqlerr.Permission, "permission denied: %q is an alias of a masked column for role %q and may not be used elsewhere in the statement", al, m.a.role.Name)
					return n, true
				}
			}
		}
	}
	return n, false
}

// Leave implements ast.Visitor.
func (m *myMaskCheck) Leave(n ast.Node) (ast.Node, bool) { return n, m.err == nil }

// myMaskScope knows the tables with masked columns the statement reads and
// the CTEs whose body reads one (transitively; names unscoped, which can only
// mark more).
type myMaskScope struct {
	tables map[string]bool
	ctes   map[string]bool
}

func (a *myStmt) newMaskScope() *myMaskScope {
	sc := &myMaskScope{tables: map[string]bool{}, ctes: map[string]bool{}}
	for _, mk := range a.masks {
		tbl, _, _ := strings.Cut(mk, ".")
		sc.tables[tbl] = true
	}
	var ctes []*ast.CommonTableExpression
	a.stmt.Accept(&myCollector{fn: func(n ast.Node) {
		if c, ok := n.(*ast.CommonTableExpression); ok {
			ctes = append(ctes, c)
		}
	}})
	for changed := true; changed; {
		changed = false
		for _, c := range ctes {
			if !sc.ctes[c.Name.L] && c.Query != nil && sc.reads(c.Query) {
				sc.ctes[c.Name.L] = true
				changed = true
			}
		}
	}
	return sc
}

// reads reports whether the subtree n reads a table with masked columns or
// a CTE that does.
func (sc *myMaskScope) reads(n ast.Node) bool {
	found := false
	n.Accept(&myCollector{fn: func(n ast.Node) {
		if t, ok := n.(*ast.TableName); ok && (sc.tables[t.Name.L] || t.Schema.L == "" && sc.ctes[t.Name.L]) {
			found = true
		}
	}})
	return found
}

// myCollector calls fn for every node of a tree.
type myCollector struct{ fn func(ast.Node) }

func (c *myCollector) Enter(n ast.Node) (ast.Node, bool) { c.fn(n); return n, false }
func (c *myCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// capTop injects or lowers the LIMIT of a top-level SELECT / set operation.
// A LIMIT ? parameter wraps the query: SELECT * FROM (q) AS _tp_capped LIMIT n.
//
// A statement whose rows the front end counts gets n+1 and Stmt.Cap = n, so
// the client is told only when rows were really withheld.
func (a *myStmt) capTop() {
	n, limit := uint64(a.role.MaxRows), uint64(a.role.MaxRows)
	if a.counted {
		limit = n + 1
		before := a.capped // an SQL PREPARE's text may have been capped already
		defer func() {
			if a.capped && !before {
				a.st.Cap = int(n)
			}
		}()
	}
	var lim **ast.Limit
	switch x := a.stmt.(type) {
	case *ast.SelectStmt:
		if x.SelectIntoOpt != nil || a.st.ShowVar != "" {
			return
		}
		if x.From == nil && x.Kind == ast.SelectStmtKindSelect {
			return // no FROM: one row at most
		}
		lim = &x.Limit
	case *ast.SetOprStmt:
		lim = &x.Limit
	default:
		return
	}
	if *lim != nil {
		a.litDep = true // the cap depends on the client's own LIMIT
	}
	switch {
	case *lim == nil:
		*lim = &ast.Limit{Count: ast.NewValueExpr(limit, "", "")}
	default:
		v, ok := (*lim).Count.(*driver.ValueExpr)
		if !ok {
			a.wrapCap(limit)
			return
		}
		cur := v.GetValue()
		var c uint64
		switch t := cur.(type) {
		case int64:
			if t < 0 {
				t = 0
			}
			c = uint64(t)
		case uint64:
			c = t
		default:
			a.wrapCap(limit)
			return
		}
		if c <= n {
			return
		}
		(*lim).Count = ast.NewValueExpr(limit, "", "")
	}
	a.capped, a.rewritten = true, true
}

func (a *myStmt) wrapCap(n uint64) {
	inner := a.stmt.(ast.ResultSetNode)
	a.stmt = &ast.SelectStmt{
		SelectStmtOpts: &ast.SelectStmtOpts{SQLCache: true},
		Kind:           ast.SelectStmtKindSelect,
		Fields:         &ast.FieldList{Fields: []*ast.SelectField{{WildCard: &ast.WildCardField{}}}},
		From: &ast.TableRefsClause{TableRefs: &ast.Join{Left: &ast.TableSource{
			Source: inner, AsName: model.NewCIStr("_tp_capped")}}},
		Limit: &ast.Limit{Count: ast.NewValueExpr(n, "", "")},
	}
	a.capped, a.rewritten = true, true
}
