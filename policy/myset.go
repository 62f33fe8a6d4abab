package policy

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/model"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// MySQL session statements: which system variables a role may set, to
// which values, and what the proxy replays on pooled backend connections.

// mySetRule is who may set a session system variable.
type mySetRule uint8

const (
	setAnyone mySetRule = iota + 1 // harmless for the session itself: every role
	setNever                       // server identity in replication, file names, the proxy's own: refused
)

// mySessionVars are the session variables every role may set: the ones
// drivers send at connect and the ones that only shape the session's own
// results, timeouts and transaction behaviour. Every other variable
// (foreign_key_checks, unique_checks, sql_log_bin, memory sizes, optimizer
// internals, ...) is for the admin role only; myNeverVars for no role.
var mySessionVars = map[string]mySetRule{
	"autocommit": setAnyone, "sql_mode": setAnyone, "time_zone": setAnyone,
	"names": setAnyone, "charset": setAnyone, "character_set_client": setAnyone,
	"character_set_connection": setAnyone, "character_set_results": setAnyone, "collation_connection": setAnyone,
	"transaction_isolation": setAnyone, "tx_isolation": setAnyone, "transaction_read_only": setAnyone,
	"tx_read_only": setAnyone, "tx_isolation_one_shot": setAnyone, "tx_read_only_one_shot": setAnyone,
	"session_track_schema": setAnyone, "session_track_state_change": setAnyone,
	"session_track_system_variables": setAnyone, "session_track_transaction_info": setAnyone,
	"session_track_gtids": setAnyone, "session_track_user_variables": setAnyone,
	"sql_select_limit": setAnyone, "max_execution_time": setAnyone, "max_statement_time": setAnyone,
	"net_read_timeout": setAnyone, "net_write_timeout": setAnyone, "wait_timeout": setAnyone,
	"interactive_timeout": setAnyone, "lock_wait_timeout": setAnyone, "innodb_lock_wait_timeout": setAnyone,
	"group_concat_max_len": setAnyone, "sql_auto_is_null": setAnyone, "sql_safe_updates": setAnyone,
	"sql_big_selects": setAnyone, "sql_buffer_result": setAnyone, "sql_quote_show_create": setAnyone,
	"sql_notes": setAnyone, "sql_warnings": setAnyone, "lc_time_names": setAnyone, "lc_messages": setAnyone,
	"div_precision_increment": setAnyone, "default_week_format": setAnyone, "max_error_count": setAnyone,
	"completion_type": setAnyone, "query_cache_type": setAnyone, "profiling": setAnyone,
	"profiling_history_size": setAnyone, "timestamp": setAnyone, "insert_id": setAnyone,
	"last_insert_id": setAnyone, "identity": setAnyone, "max_sort_length": setAnyone,
	"explicit_defaults_for_timestamp": setAnyone, "big_tables": setAnyone, "max_join_size": setAnyone,
	"sql_if_exists": setAnyone, "default_storage_engine": setAnyone, "storage_engine": setAnyone,
	"max_recursive_iterations": setAnyone, "cte_max_recursion_depth": setAnyone,
	"transaction_prealloc_size": setAnyone, "auto_increment_increment": setAnyone, "auto_increment_offset": setAnyone,

	"server_id": setNever, "gtid_domain_id": setNever, "gtid_seq_no": setNever, "gtid_next": setNever,
	"pseudo_thread_id": setNever, "pseudo_slave_mode": setNever, "pseudo_replica_mode": setNever,
	"skip_replication": setNever, "character_set_filesystem": setNever, "sql_slave_skip_counter": setNever,
	"rand_seed1": setNever, "rand_seed2": setNever,
}

// myServerVars are system variables that describe the backend server
// (paths, host names, certificates, replication topology); only the admin
// role may read them (SELECT @@datadir, SHOW VARIABLES).
var myServerVars = []string{
	"aria_log_dir_path", "basedir", "bind_address", "character_sets_dir", "datadir", "general_log_file",
	"hostname", "init_connect", "init_file", "init_slave", "innodb_data_home_dir", "innodb_log_group_home_dir",
	"innodb_tmpdir", "innodb_undo_directory", "lc_messages_dir", "log_basename", "log_bin_basename",
	"log_bin_index", "log_error", "pid_file", "plugin_dir", "report_host", "report_password",
	"report_user", "relay_log", "relay_log_basename", "relay_log_index", "relay_log_info_file",
	"secure_file_priv", "server_id", "server_uuid", "slow_query_log_file", "socket", "ssl_ca", "ssl_capath",
	"ssl_cert", "ssl_crl", "ssl_crlpath", "ssl_key", "tmpdir", "version_compile_machine", "version_compile_os",
	"wsrep_cluster_address", "wsrep_node_address", "wsrep_node_incoming_address", "wsrep_node_name",
	"wsrep_provider", "wsrep_sst_receive_address", "proxy_protocol_networks", "gtid_binlog_pos",
	"gtid_current_pos", "gtid_slave_pos", "gtid_binlog_state", "log_bin", "slave_load_tmpdir",
}

var myServerVarSet = func() map[string]bool {
	m := make(map[string]bool, len(myServerVars))
	for _, v := range myServerVars {
		m[v] = true
	}
	return m
}()

func myIsNeverVar(name string) bool {
	return mySessionVars[name] == setNever || strings.HasPrefix(name, "wsrep")
}

// myUnsafeSQLModes are sql_mode values that change how the server splits a
// text into tokens (where a string or an identifier ends) so that it would
// no longer agree with the proxy's parser: NO_BACKSLASH_ESCAPES, ANSI_QUOTES
// and the combination modes that include ANSI_QUOTES.
var myUnsafeSQLModes = map[string]bool{
	"NO_BACKSLASH_ESCAPES": true, "ANSI_QUOTES": true, "ANSI": true, "DB2": true, "MAXDB": true,
	"MSSQL": true, "ORACLE": true, "POSTGRESQL": true,
}

// mySafeCharsets are the client character sets in which no multi-byte
// character can end in a backslash (0x5c) byte and whose bytes the relay can
// match against names: gbk, big5, sjis, cp932 and the like can hide an
// escape from the proxy's parser; ucs2, utf16 and utf32 results would carry
// column and database names the relay does not recognise.
var mySafeCharsets = map[string]bool{
	"utf8": true, "utf8mb3": true, "utf8mb4": true, "latin1": true, "ascii": true, "binary": true,
}

// myCharsetVars are the variables holding a character set (or collation)
// the client's texts or the results are encoded in.
var myCharsetVars = map[string]bool{
	"names": true, "charset": true, "character_set_client": true, "character_set_connection": true,
	"character_set_results": true, "collation_connection": true,
}

// classifySet handles SET: user variables pin the session (their values
// cannot be replayed reliably) and their expressions are analysed like any
// other (see analyze); SET GLOBAL/PERSIST is privileged; session system
// variables are allowed per role (mySessionVars), must be set to constants
// (sql_mode and session_track_system_variables also to a concatenation of
// their current value and constants) and become one SetVar named after all
// of them, whose SQL replays just those assignments.
func (a *myStmt) classifySet(x *ast.SetStmt) (Class, string, *sqlerr.Error) {
	a.litDep = true
	var sys []*ast.VariableAssignment
	var names []string
	for _, v := range x.Variables {
		if v.IsGlobal {
			return 0, "", a.privilege("SET GLOBAL")
		}
		name := strings.ToLower(v.Name)
		isNames := v.Name == ast.SetNames || v.Name == ast.SetCharset
		if strings.HasPrefix(name, "persist") || strings.HasPrefix(name, "global.") {
			return 0, "", a.privilege("SET PERSIST")
		}
		if !v.IsSystem && !isNames {
			a.st.Pins = true // user variable
			continue
		}
		if isNames {
			name = "names"
		}
		if name == "tenant" {
			return 0, "", sqlerr.New(sqlerr.Unsupported, "use USE <tenant> to switch tenants")
		}
		if err := a.sessionVarAllowed(name); err != nil {
			return 0, "", err
		}
		if err := a.setValue(v, name); err != nil {
			return 0, "", err
		}
		sys = append(sys, v)
		names = append(names, name)
	}
	if len(sys) == 0 {
		return ClassSession, "SET", nil
	}
	sql, err := myRestore(&ast.SetStmt{Variables: sys})
	if err != nil {
		return 0, "", sqlerr.Wrap(sqlerr.Internal, err, "internal error while analysing SET")
	}
	sv := &SetVar{Kind: SetValue, Name: strings.Join(names, ","), SQL: sql}
	if len(sys) == 1 {
		switch val := sys[0].Value.(type) {
		case *driver.ValueExpr:
			sv.Value = val.GetDatumString()
			if val.Kind() == driver.KindNull {
				sv.Value = ""
			}
		case *ast.DefaultExpr:
			sv.Kind = SetDefault
		case nil:
			sv.Kind = SetDefault
		case *ast.ColumnNameExpr:
			sv.Value = val.Name.Name.O
		default:
			if s, err := myRestore(sys[0].Value); err == nil {
				sv.Value = s
			}
		}
	}
	a.st.Set = sv
	return ClassSession, "SET", nil
}

// sessionVarAllowed applies the per-role allow-list.
func (a *myStmt) sessionVarAllowed(name string) *sqlerr.Error {
	if myIsNeverVar(name) {
		return sqlerr.New(sqlerr.Permission, "permission denied: SET %s is not allowed on tenant %q", name, a.tenant())
	}
	if mySessionVars[name] == setAnyone || a.role.Access >= AccessAdmin {
		return nil
	}
	return sqlerr.New(sqlerr.Permission, "permission denied: role %q may not set %s on tenant %q", a.role.Name, name, a.tenant())
}

// setValue checks the value of a system variable assignment: a constant,
// DEFAULT or a keyword for every variable; for sql_mode and
// session_track_system_variables also a CONCAT / CONCAT_WS of constants and
// the variable's own value. Character sets must be in mySafeCharsets and
// sql_mode may not add a mode in myUnsafeSQLModes.
func (a *myStmt) setValue(v *ast.VariableAssignment, name string) *sqlerr.Error {
	var val string
	isConst, isDefault, isNull := false, false, false
	switch x := v.Value.(type) {
	case nil, *ast.DefaultExpr:
		isDefault = true
	case *driver.ValueExpr:
		switch x.Kind() {
		case driver.KindNull:
			isNull, isConst = true, true
		default:
			var ok bool
			if val, ok = myPlainLiteral(x); !ok {
				return sqlerr.New(sqlerr.Permission, "permission denied: %s takes a string or a number here; hex, bit and other literals are not allowed (the server decodes them, the check could not) on tenant %q", name, a.tenant())
			}
			isConst = true
		}
	case *ast.ColumnNameExpr:
		if x.Name.Table.L == "" && x.Name.Schema.L == "" {
			val, isConst = x.Name.Name.O, true
		}
	case *ast.UnaryOperationExpr:
		if c, ok := x.V.(*driver.ValueExpr); ok && c.Kind() != driver.KindString {
			val, isConst = "-"+c.GetDatumString(), true
		}
	}
	if isDefault {
		return nil
	}
	switch {
	case name == "sql_mode":
		modes, ok := a.selfConcat(v.Value, name, isConst, val)
		if !ok {
			return sqlerr.New(sqlerr.Permission, "permission denied: sql_mode may only be set to a list of modes, or to CONCAT(@@sql_mode, <modes>), on tenant %q", a.tenant())
		}
		for _, m := range strings.Split(modes, ",") {
			m = strings.ToUpper(strings.TrimSpace(m))
			if m == mySelfValue {
				continue
			}
			if myUnsafeSQLModes[m] || m != "" && strings.Trim(m, "0123456789") == "" || strings.Contains(m, mySelfValue) {
				return sqlerr.New(sqlerr.Permission, "permission denied: sql_mode %s is not allowed on tenant %q (it changes how statements are tokenized)", strings.ReplaceAll(m, mySelfValue, "@@sql_mode"), a.tenant())
			}
		}
		return nil
	case name == "session_track_system_variables":
		if _, ok := a.selfConcat(v.Value, name, isConst, val); !ok {
			return a.notConstant(name)
		}
		return nil
	case myCharsetVars[name]:
		if name == "character_set_results" && isNull {
			return nil // results in the columns' own character sets, names in utf8
		}
		if !isConst || isNull {
			return a.badCharset(name, val)
		}
		cs := strings.ToLower(strings.TrimSpace(val))
		if name == "collation_connection" {
			cs = myCollationCharset(cs)
		}
		if !mySafeCharsets[cs] {
			return a.badCharset(name, val)
		}
		if name == "names" && v.ExtendValue != nil {
			if !mySafeCharsets[myCollationCharset(v.ExtendValue.GetString())] {
				return a.badCharset(name, v.ExtendValue.GetString())
			}
		}
		return nil
	}
	if !isConst {
		return a.notConstant(name)
	}
	switch name {
	case "default_storage_engine", "storage_engine", "default_tmp_storage_engine", "enforce_storage_engine":
		if !isNull && !myEngines[strings.ToLower(strings.TrimSpace(val))] {
			return a.privilege("storage engine " + val)
		}
	}
	return nil
}

// myCollationCharset is the character set of a collation: the parser's
// table, else the name's prefix (MariaDB names collations after their
// character set: utf8mb4_uca1400_ai_ci).
func myCollationCharset(coll string) string {
	coll = strings.ToLower(strings.TrimSpace(coll))
	if c, err := charset.GetCollationByName(coll); err == nil && c != nil {
		return strings.ToLower(c.CharsetName)
	}
	cs, _, _ := strings.Cut(coll, "_")
	return cs
}

func (a *myStmt) notConstant(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: %s may only be set to a constant on tenant %q", name, a.tenant())
}

func (a *myStmt) badCharset(name, val string) *sqlerr.Error {
	what := "SET " + name
	if name == "names" {
		what = "SET NAMES / CHARACTER SET"
	}
	return sqlerr.New(sqlerr.Permission, "permission denied: %s %q is not allowed on tenant %q (only utf8, utf8mb3, utf8mb4, latin1, ascii and binary)", what, val, a.tenant())
}

// mySelfValue stands for a variable's current value while a concatenation
// is evaluated.
const mySelfValue = "\x00SELF\x00"

// selfConcat evaluates a value built from constants and the variable's own
// current value (@@name, @@session.name, @@global.name) with CONCAT or
// CONCAT_WS; the current value appears as mySelfValue in the result.
func (a *myStmt) selfConcat(e ast.ExprNode, name string, isConst bool, val string) (string, bool) {
	if isConst {
		return val, true
	}
	var eval func(e ast.ExprNode, depth int) (string, bool)
	eval = func(e ast.ExprNode, depth int) (string, bool) {
		if depth > 8 {
			return "", false
		}
		switch x := e.(type) {
		case *driver.ValueExpr:
			return myPlainLiteral(x)
		case *ast.VariableExpr:
			if x.IsSystem && x.Value == nil && strings.EqualFold(x.Name, name) {
				return mySelfValue, true
			}
		case *ast.FuncCallExpr:
			var parts []string
			for _, arg := range x.Args {
				p, ok := eval(arg, depth+1)
				if !ok {
					return "", false
				}
				parts = append(parts, p)
			}
			switch x.FnName.L {
			case "concat":
				return strings.Join(parts, ""), true
			case "concat_ws":
				if len(parts) < 1 || strings.Contains(parts[0], mySelfValue) {
					return "", false
				}
				return strings.Join(parts[1:], parts[0]), true
			}
		}
		return "", false
	}
	return eval(e, 0)
}

// serverDetailsAllowed reports whether the role may see what describes the
// backend server (its paths, host, accounts, grants and status).
func (a *myStmt) serverDetailsAllowed() bool { return a.role.Access >= AccessAdmin }

func (a *myStmt) serverDetails(what string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: %s describes the backend server and is only available to the admin role on tenant %q", what, a.tenant())
}

// hideServerVars makes SHOW [GLOBAL|SESSION] VARIABLES [LIKE p | WHERE e]
// leave out the variables that describe the backend server:
// SHOW VARIABLES WHERE [Variable_name LIKE p AND | (e) AND] Variable_name NOT IN (...).
func (a *myStmt) hideServerVars(x *ast.ShowStmt) {
	col := func() ast.ExprNode {
		return &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: model.NewCIStr("Variable_name")}}
	}
	list := make([]ast.ExprNode, 0, len(myServerVars))
	for _, v := range myServerVars {
		list = append(list, ast.NewValueExpr(v, "", ""))
	}
	var hide ast.ExprNode = &ast.PatternInExpr{Expr: col(), List: list, Not: true}
	switch {
	case x.Pattern != nil && x.Pattern.Pattern != nil:
		like := &ast.PatternLikeOrIlikeExpr{Expr: col(), Pattern: x.Pattern.Pattern, Escape: x.Pattern.Escape, IsLike: true}
		if like.Escape == 0 {
			like.Escape = '\\'
		}
		hide = &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: like, R: hide}
		x.Pattern = nil
	case x.Where != nil:
		hide = &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: &ast.ParenthesesExpr{Expr: x.Where}, R: hide}
	}
	x.Where = hide
	a.rewritten = true
}

// myPlainLiteral returns the value of a string or number literal as the
// server reads it. Other literals (hex and bit literals, which the server
// decodes to strings: 0x414E53495F51554F544553 is 'ANSI_QUOTES') are not
// plain: the caller refuses them rather than check a spelling the server
// does not use.
func myPlainLiteral(x *driver.ValueExpr) (string, bool) {
	switch x.Kind() {
	case driver.KindString:
		return x.GetDatumString(), true
	case driver.KindInt64, driver.KindUint64, driver.KindFloat32, driver.KindFloat64, driver.KindMysqlDecimal:
		return fmt.Sprint(x.GetValue()), true
	}
	return "", false
}
