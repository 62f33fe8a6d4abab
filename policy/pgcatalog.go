package policy

import (
	"sort"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Catalog visibility on Postgres (catalog.md has the table of decisions).
//
// A tenant sees only its own objects in the system catalogs: its own
// database (every isolation model), and under schema isolation its own
// schema plus pg_catalog and information_schema. Each catalog relation a
// statement reads is one of:
//   - filtered: replaced, like a row-filtered table, by
//     (SELECT * FROM pg_catalog.x WHERE <predicate>) AS x;
//   - open: it holds nothing of another tenant;
//   - refused: no exact filter exists (or it shows server internals).
//
// Under schema isolation a catalog relation that is not listed is refused.
// Object-identifier values shown as names (c.oid::regclass) and the oid
// arguments of the functions that print definitions (pg_get_indexdef, ...)
// are passed through only when they belong to the tenant's schemas:
// (SELECT x WHERE x IN (<own oids>)) keeps the column label and yields NULL
// for anything else.

// pgOwnNamespaces is the set of namespace oids a schema tenant may see
// ({{tenant}} is its schema).
const pgOwnNamespaces = `(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ({{tenant}}, 'pg_catalog', 'information_schema') OR oid = pg_catalog.pg_my_temp_schema())`

// pgOwnRelations is the set of relation oids a schema tenant may see.
const pgOwnRelations = `(SELECT oid FROM pg_catalog.pg_class WHERE relnamespace IN ` + pgOwnNamespaces + `)`

// pgOwnDatabase is the current database's oid.
const pgOwnDatabase = `(SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`

// pgOwnSchemaNames is the list of schema names a schema tenant may see.
const pgOwnSchemaNames = `({{tenant}}, 'pg_catalog', 'information_schema')`

// pgCatalogDatabase filters, in every isolation model, the catalogs that
// span the databases of the server.
var pgCatalogDatabase = map[string]string{
	"pg_database":                 "datname = pg_catalog.current_database()",
	"pg_stat_database":            "datname = pg_catalog.current_database()",
	"pg_stat_database_conflicts":  "datname = pg_catalog.current_database()",
	"pg_db_role_setting":          "setdatabase = " + pgOwnDatabase,
	"pg_shdescription":            "classoid <> 'pg_catalog.pg_database'::pg_catalog.regclass OR objoid = " + pgOwnDatabase,
	"pg_shseclabel":               "classoid <> 'pg_catalog.pg_database'::pg_catalog.regclass OR objoid = " + pgOwnDatabase,
	"pg_shdepend":                 "dbid IN (0, " + pgOwnDatabase + ")",
	"pg_stat_progress_analyze":    "datname = pg_catalog.current_database()",
	"pg_stat_progress_basebackup": "false",
	// Subscriptions carry connection strings (passwords) and are created by
	// the server's operator, never by a tenant: always empty.
	"pg_subscription":               "false",
	"pg_stat_progress_cluster":      "datname = pg_catalog.current_database()",
	"pg_stat_progress_copy":         "datname = pg_catalog.current_database()",
	"pg_stat_progress_create_index": "datname = pg_catalog.current_database()",
	"pg_stat_progress_vacuum":       "datname = pg_catalog.current_database()",
}

// pgCatalogSchema filters, under schema isolation, the per-database
// catalogs on the tenant's own schemas.
var pgCatalogSchema = map[string]string{
	"pg_namespace":             "oid IN " + pgOwnNamespaces,
	"pg_class":                 "relnamespace IN " + pgOwnNamespaces,
	"pg_type":                  "typnamespace IN " + pgOwnNamespaces,
	"pg_proc":                  "pronamespace IN " + pgOwnNamespaces,
	"pg_constraint":            "connamespace IN " + pgOwnNamespaces,
	"pg_operator":              "oprnamespace IN " + pgOwnNamespaces,
	"pg_opclass":               "opcnamespace IN " + pgOwnNamespaces,
	"pg_opfamily":              "opfnamespace IN " + pgOwnNamespaces,
	"pg_collation":             "collnamespace IN " + pgOwnNamespaces,
	"pg_conversion":            "connamespace IN " + pgOwnNamespaces,
	"pg_statistic_ext":         "stxnamespace IN " + pgOwnNamespaces,
	"pg_ts_config":             "cfgnamespace IN " + pgOwnNamespaces,
	"pg_ts_dict":               "dictnamespace IN " + pgOwnNamespaces,
	"pg_ts_parser":             "prsnamespace IN " + pgOwnNamespaces,
	"pg_ts_template":           "tmplnamespace IN " + pgOwnNamespaces,
	"pg_extension":             "extnamespace IN " + pgOwnNamespaces,
	"pg_default_acl":           "defaclnamespace IN " + pgOwnNamespaces,
	"pg_attribute":             "attrelid IN " + pgOwnRelations,
	"pg_attrdef":               "adrelid IN " + pgOwnRelations,
	"pg_index":                 "indrelid IN " + pgOwnRelations,
	"pg_trigger":               "tgrelid IN " + pgOwnRelations,
	"pg_rewrite":               "ev_class IN " + pgOwnRelations,
	"pg_policy":                "polrelid IN " + pgOwnRelations,
	"pg_sequence":              "seqrelid IN " + pgOwnRelations,
	"pg_partitioned_table":     "partrelid IN " + pgOwnRelations,
	"pg_foreign_table":         "ftrelid IN " + pgOwnRelations,
	"pg_publication_rel":       "prrelid IN " + pgOwnRelations,
	"pg_inherits":              "inhrelid IN " + pgOwnRelations + " AND inhparent IN " + pgOwnRelations,
	"pg_enum":                  "enumtypid IN (SELECT oid FROM pg_catalog.pg_type WHERE typnamespace IN " + pgOwnNamespaces + ")",
	"pg_range":                 "rngtypid IN (SELECT oid FROM pg_catalog.pg_type WHERE typnamespace IN " + pgOwnNamespaces + ")",
	"pg_aggregate":             "aggfnoid IN (SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace IN " + pgOwnNamespaces + ")",
	"pg_publication_namespace": "pnnspid IN " + pgOwnNamespaces,
	"pg_description":           "objoid IN (" + pgOwnObjects + ")",
	"pg_init_privs":            "objoid IN (" + pgOwnObjects + ")",
	"pg_depend": "(classid <> 'pg_catalog.pg_class'::pg_catalog.regclass OR objid IN " + pgOwnRelations + ") AND " +
		"(refclassid <> 'pg_catalog.pg_class'::pg_catalog.regclass OR refobjid IN " + pgOwnRelations + ") AND " +
		"(classid <> 'pg_catalog.pg_namespace'::pg_catalog.regclass OR objid IN " + pgOwnNamespaces + ") AND " +
		"(refclassid <> 'pg_catalog.pg_namespace'::pg_catalog.regclass OR refobjid IN " + pgOwnNamespaces + ")",
	// Views of pg_catalog that name their schema.
	"pg_tables":                   "schemaname IN " + pgOwnSchemaNames,
	"pg_views":                    "schemaname IN " + pgOwnSchemaNames,
	"pg_matviews":                 "schemaname IN " + pgOwnSchemaNames,
	"pg_indexes":                  "schemaname IN " + pgOwnSchemaNames,
	"pg_sequences":                "schemaname IN " + pgOwnSchemaNames,
	"pg_policies":                 "schemaname IN " + pgOwnSchemaNames,
	"pg_rules":                    "schemaname IN " + pgOwnSchemaNames,
	"pg_publication_tables":       "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_all_tables":          "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_user_tables":         "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_sys_tables":          "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_xact_all_tables":     "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_xact_user_tables":    "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_xact_sys_tables":     "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_all_indexes":         "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_user_indexes":        "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_sys_indexes":         "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_all_tables":        "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_user_tables":       "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_sys_tables":        "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_all_indexes":       "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_user_indexes":      "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_sys_indexes":       "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_all_sequences":     "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_user_sequences":    "schemaname IN " + pgOwnSchemaNames,
	"pg_statio_sys_sequences":     "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_user_functions":      "schemaname IN " + pgOwnSchemaNames,
	"pg_stat_xact_user_functions": "schemaname IN " + pgOwnSchemaNames,
}

// pgOwnObjects is the set of oids of a schema tenant's objects that
// comments and initial privileges refer to (oids are unique across the
// catalogs of a database: one counter assigns them all).
const pgOwnObjects = "SELECT oid FROM pg_catalog.pg_class WHERE relnamespace IN " + pgOwnNamespaces +
	" UNION ALL SELECT oid FROM pg_catalog.pg_namespace WHERE oid IN " + pgOwnNamespaces +
	" UNION ALL SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace IN " + pgOwnNamespaces +
	" UNION ALL SELECT oid FROM pg_catalog.pg_type WHERE typnamespace IN " + pgOwnNamespaces +
	" UNION ALL SELECT oid FROM pg_catalog.pg_constraint WHERE connamespace IN " + pgOwnNamespaces +
	" UNION ALL SELECT oid FROM pg_catalog.pg_trigger WHERE tgrelid IN " + pgOwnRelations +
	" UNION ALL SELECT oid FROM pg_catalog.pg_rewrite WHERE ev_class IN " + pgOwnRelations

// pgCatalogSchemaOpen are the catalog relations a schema tenant reads
// unfiltered: they describe the server's built-in machinery (access
// methods, casts, languages, roles, time zones, extensions available to
// install), nothing of another tenant.
var pgCatalogSchemaOpen = map[string]bool{
	"pg_am": true, "pg_amop": true, "pg_amproc": true, "pg_cast": true, "pg_language": true,
	"pg_auth_members": true, "pg_roles": true, "pg_user": true, "pg_group": true, "pg_tablespace": true,
	"pg_ts_config_map": true, "pg_transform": true, "pg_available_extensions": true,
	"pg_available_extension_versions": true, "pg_timezone_names": true, "pg_timezone_abbrevs": true,
	"pg_settings": true, "pg_stat_archiver": true, "pg_stat_bgwriter": true, "pg_stat_wal": true,
	"pg_stat_slru": true, "pg_stat_recovery_prefetch": true, "pg_publication": true,
	"pg_foreign_data_wrapper": true, "pg_foreign_server": true, "pg_parameter_acl": true,
}

// pgCatalogRelations are the relations of pg_catalog (Postgres 15-17):
// under schema isolation one that is neither filtered nor open is refused.
var pgCatalogRelations = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`pg_aggregate pg_am pg_amop pg_amproc pg_attrdef pg_attribute pg_auth_members
	pg_authid pg_cast pg_class pg_collation pg_constraint pg_conversion pg_database pg_db_role_setting pg_default_acl
	pg_depend pg_description pg_enum pg_event_trigger pg_extension pg_foreign_data_wrapper pg_foreign_server
	pg_foreign_table pg_index pg_inherits pg_init_privs pg_language pg_largeobject pg_largeobject_metadata
	pg_namespace pg_opclass pg_operator pg_opfamily pg_parameter_acl pg_partitioned_table pg_policy pg_proc
	pg_publication pg_publication_namespace pg_publication_rel pg_range pg_replication_origin pg_rewrite
	pg_seclabel pg_sequence pg_shdepend pg_shdescription pg_shseclabel pg_statistic pg_statistic_ext
	pg_statistic_ext_data pg_subscription pg_subscription_rel pg_tablespace pg_transform pg_trigger pg_ts_config
	pg_ts_config_map pg_ts_dict pg_ts_parser pg_ts_template pg_type pg_user_mapping
	pg_available_extension_versions pg_available_extensions pg_backend_memory_contexts pg_config pg_cursors
	pg_file_settings pg_group pg_hba_file_rules pg_ident_file_mappings pg_indexes pg_locks pg_matviews
	pg_policies pg_prepared_statements pg_prepared_xacts pg_publication_tables pg_replication_origin_status
	pg_replication_slots pg_roles pg_rules pg_seclabels pg_sequences pg_settings pg_shadow
	pg_shmem_allocations pg_stat_activity pg_stat_all_indexes pg_stat_all_tables pg_stat_archiver
	pg_stat_bgwriter pg_stat_database pg_stat_database_conflicts pg_stat_gssapi pg_stat_progress_analyze
	pg_stat_progress_basebackup pg_stat_progress_cluster pg_stat_progress_copy pg_stat_progress_create_index
	pg_stat_progress_vacuum pg_stat_recovery_prefetch pg_stat_replication pg_stat_replication_slots
	pg_stat_slru pg_stat_ssl pg_stat_subscription pg_stat_subscription_stats pg_stat_sys_indexes
	pg_stat_sys_tables pg_stat_user_functions pg_stat_user_indexes pg_stat_user_tables pg_stat_wal
	pg_stat_wal_receiver pg_stat_xact_all_tables pg_stat_xact_sys_tables pg_stat_xact_user_functions
	pg_stat_xact_user_tables pg_statio_all_indexes pg_statio_all_sequences pg_statio_all_tables
	pg_statio_sys_indexes pg_statio_sys_sequences pg_statio_sys_tables pg_statio_user_indexes
	pg_statio_user_sequences pg_statio_user_tables pg_stats pg_stats_ext pg_stats_ext_exprs pg_tables
	pg_timezone_abbrevs pg_timezone_names pg_user pg_user_mappings pg_views
	pg_stat_io pg_stat_checkpointer pg_wait_events pg_aios pg_shmem_allocations_numa`) {
		m[n] = true
	}
	return m
}()

// pgInfoSchemaColumns are, per information_schema view, the columns naming
// a schema: a row is shown only when each of them is NULL or one of the
// tenant's schemas (schema isolation). A view not listed here nor in
// pgInfoSchemaOpen is refused under schema isolation.
var pgInfoSchemaColumns = map[string][]string{
	"attributes":                            {"udt_schema", "attribute_udt_schema"},
	"character_sets":                        {"character_set_schema", "default_collate_schema"},
	"check_constraint_routine_usage":        {"constraint_schema", "specific_schema"},
	"check_constraints":                     {"constraint_schema"},
	"collation_character_set_applicability": {"collation_schema", "character_set_schema"},
	"collations":                            {"collation_schema"},
	"column_column_usage":                   {"table_schema"},
	"column_domain_usage":                   {"domain_schema", "table_schema"},
	"column_options":                        {"table_schema"},
	"column_privileges":                     {"table_schema"},
	"column_udt_usage":                      {"udt_schema", "table_schema"},
	"columns":                               {"table_schema", "domain_schema", "udt_schema"},
	"constraint_column_usage":               {"table_schema", "constraint_schema"},
	"constraint_table_usage":                {"table_schema", "constraint_schema"},
	"data_type_privileges":                  {"object_schema"},
	"domain_constraints":                    {"constraint_schema", "domain_schema"},
	"domain_udt_usage":                      {"udt_schema", "domain_schema"},
	"domains":                               {"domain_schema", "udt_schema"},
	"element_types":                         {"object_schema", "udt_schema"},
	"foreign_table_options":                 {"foreign_table_schema"},
	"foreign_tables":                        {"foreign_table_schema"},
	"key_column_usage":                      {"constraint_schema", "table_schema"},
	"parameters":                            {"specific_schema", "udt_schema"},
	"referential_constraints":               {"constraint_schema", "unique_constraint_schema"},
	"role_column_grants":                    {"table_schema"},
	"role_routine_grants":                   {"specific_schema", "routine_schema"},
	"role_table_grants":                     {"table_schema"},
	"role_udt_grants":                       {"udt_schema"},
	"role_usage_grants":                     {"object_schema"},
	"routine_column_usage":                  {"specific_schema", "routine_schema", "table_schema"},
	"routine_privileges":                    {"specific_schema", "routine_schema"},
	"routine_routine_usage":                 {"specific_schema", "routine_schema"},
	"routine_sequence_usage":                {"specific_schema", "routine_schema", "sequence_schema"},
	"routine_table_usage":                   {"specific_schema", "routine_schema", "table_schema"},
	"routines":                              {"specific_schema", "routine_schema", "type_udt_schema"},
	"schemata":                              {"schema_name"},
	"sequences":                             {"sequence_schema"},
	"table_constraints":                     {"constraint_schema", "table_schema"},
	"table_privileges":                      {"table_schema"},
	"tables":                                {"table_schema", "user_defined_type_schema"},
	"transforms":                            {"udt_schema", "specific_schema"},
	"triggered_update_columns":              {"trigger_schema", "event_object_schema"},
	"triggers":                              {"trigger_schema", "event_object_schema"},
	"udt_privileges":                        {"udt_schema"},
	"usage_privileges":                      {"object_schema"},
	"user_defined_types":                    {"user_defined_type_schema"},
	"view_column_usage":                     {"view_schema", "table_schema"},
	"view_routine_usage":                    {"table_schema", "specific_schema"},
	"view_table_usage":                      {"view_schema", "table_schema"},
	"views":                                 {"table_schema"},
}

// pgInfoSchemaOpen are the information_schema views without a schema
// column: roles, the server's SQL features, foreign data wrappers.
var pgInfoSchemaOpen = map[string]bool{
	"administrable_role_authorizations": true, "applicable_roles": true, "enabled_roles": true,
	"information_schema_catalog_name": true, "sql_features": true, "sql_implementation_info": true,
	"sql_parts": true, "sql_sizing": true, "foreign_data_wrappers": true, "foreign_data_wrapper_options": true,
	"foreign_servers": true, "foreign_server_options": true,
}

// pgServerSettings describe the server's files, paths, commands and
// network: shown to admin roles only (SHOW, current_setting, pg_settings).
var pgServerSettings = map[string]bool{
	"data_directory": true, "config_file": true, "hba_file": true, "ident_file": true,
	"external_pid_file": true, "unix_socket_directories": true, "unix_socket_group": true,
	"unix_socket_permissions": true, "log_directory": true, "log_filename": true, "ssl_cert_file": true,
	"ssl_key_file": true, "ssl_ca_file": true, "ssl_crl_file": true, "ssl_crl_dir": true,
	"ssl_dh_params_file": true, "ssl_passphrase_command": true, "krb_server_keyfile": true,
	"archive_command": true, "archive_library": true, "restore_command": true,
	"archive_cleanup_command": true, "recovery_end_command": true, "primary_conninfo": true,
	"primary_slot_name": true, "shared_preload_libraries": true, "dynamic_library_path": true,
	"local_preload_libraries": true, "session_preload_libraries": true, "listen_addresses": true,
	"cluster_name": true, "data_directory_mode": true, "promote_trigger_file": true,
	"synchronous_standby_names": true, "stats_temp_directory": true, "event_source": true,
	"log_destination": true, "syslog_ident": true, "syslog_facility": true,
}

// pgServerSettingsList is pgServerSettings as an SQL list of literals.
var pgServerSettingsList = func() string {
	var parts []string
	for n := range pgServerSettings {
		parts = append(parts, "'"+n+"'")
	}
	sort.Strings(parts)
	return "(" + strings.Join(parts, ", ") + ")"
}()

// catalogRef checks a reference to a catalog relation (rel in pg_catalog or
// information_schema; schema is "" for an unqualified name). It refuses what
// the tenant may not read; filtering happens in rowFilters (catalogPred).
func (a *pgStmt) catalogRef(schema, rel string) {
	if schema == "information_schema" {
		if a.scope.Isolation != IsolationSchema {
			return
		}
		if pgInfoSchemaColumns[rel] == nil && !pgInfoSchemaOpen[rel] {
			a.fail(a.catalogRefused("information_schema." + rel))
		}
		return
	}
	if schema != "" && schema != "pg_catalog" || !pgCatalogRelations[rel] {
		return
	}
	if rel == "pg_config" && a.role.Access < AccessAdmin {
		a.fail(sqlerr.New(sqlerr.Permission, "permission denied: pg_config describes the server; only admin roles may read it on tenant %q", a.tenant()))
		return
	}
	if a.scope.Isolation != IsolationSchema {
		return
	}
	if _, ok := pgCatalogDatabase[rel]; ok {
		return
	}
	if _, ok := pgCatalogSchema[rel]; ok {
		return
	}
	if !pgCatalogSchemaOpen[rel] {
		a.fail(a.catalogRefused("pg_catalog." + rel))
	}
}

func (a *pgStmt) catalogRefused(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.CrossTenant,
		"permission denied: catalog relation %s is not available on tenant %q (schema isolation: it would show other tenants' objects); use the psql \\d commands, information_schema or the pg_catalog tables filtered to your schema",
		name, a.tenant())
}

// catalogPred returns the predicate (text, with {{tenant}} for the own
// schema) that filters catalog relation rv for this tenant and role, or "".
func (a *pgStmt) catalogPred(rv *pg.RangeVar) string {
	schema, rel := lower(rv.Schemaname), lower(rv.Relname)
	if rv.Catalogname != "" && rv.Catalogname != a.scope.Database {
		return ""
	}
	if schema == "information_schema" {
		if a.scope.Isolation != IsolationSchema {
			return ""
		}
		var parts []string
		for _, c := range pgInfoSchemaColumns[rel] {
			parts = append(parts, "("+c+" IS NULL OR "+c+"::text IN "+pgOwnSchemaNames+")")
		}
		return strings.Join(parts, " AND ")
	}
	if schema != "" && schema != "pg_catalog" || !pgCatalogRelations[rel] {
		return ""
	}
	var parts []string
	if p, ok := pgCatalogDatabase[rel]; ok {
		parts = append(parts, p)
	}
	if a.scope.Isolation == IsolationSchema {
		if p, ok := pgCatalogSchema[rel]; ok {
			parts = append(parts, p)
		}
	}
	if rel == "pg_settings" && a.role.Access < AccessAdmin {
		parts = append(parts, "name NOT IN "+pgServerSettingsList)
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ") AND (") + ")"
}

// pgOidSets are, per object-identifier type, the oids of the objects a
// schema tenant may see.
var pgOidSets = map[string]string{
	"regclass":     pgOwnRelations,
	"regtype":      "(SELECT oid FROM pg_catalog.pg_type WHERE typnamespace IN " + pgOwnNamespaces + ")",
	"regproc":      "(SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace IN " + pgOwnNamespaces + ")",
	"regprocedure": "(SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace IN " + pgOwnNamespaces + ")",
	"regoper":      "(SELECT oid FROM pg_catalog.pg_operator WHERE oprnamespace IN " + pgOwnNamespaces + ")",
	"regoperator":  "(SELECT oid FROM pg_catalog.pg_operator WHERE oprnamespace IN " + pgOwnNamespaces + ")",
	"regcollation": "(SELECT oid FROM pg_catalog.pg_collation WHERE collnamespace IN " + pgOwnNamespaces + ")",
	"regnamespace": pgOwnNamespaces,
	"constraint":   "(SELECT oid FROM pg_catalog.pg_constraint WHERE connamespace IN " + pgOwnNamespaces + ")",
	"trigger":      "(SELECT oid FROM pg_catalog.pg_trigger WHERE tgrelid IN " + pgOwnRelations + ")",
	"rule":         "(SELECT oid FROM pg_catalog.pg_rewrite WHERE ev_class IN " + pgOwnRelations + ")",
	"statext":      "(SELECT oid FROM pg_catalog.pg_statistic_ext WHERE stxnamespace IN " + pgOwnNamespaces + ")",
	"any":          "(" + pgOwnObjects + ")",
}

// pgOidFuncs are functions that print an object named by an oid argument:
// argument index and the oid set it must belong to (schema isolation).
var pgOidFuncs = map[string]struct {
	arg int
	set string
}{
	"pg_get_indexdef": {0, "regclass"}, "pg_get_constraintdef": {0, "constraint"},
	"pg_get_triggerdef": {0, "trigger"}, "pg_get_ruledef": {0, "rule"}, "pg_get_expr": {1, "regclass"},
	"pg_get_partkeydef": {0, "regclass"}, "pg_get_partition_constraintdef": {0, "regclass"},
	"pg_get_statisticsobjdef": {0, "statext"}, "pg_get_statisticsobjdef_columns": {0, "statext"},
	"pg_get_statisticsobjdef_expressions": {0, "statext"}, "pg_get_functiondef": {0, "regproc"},
	"pg_get_function_arguments": {0, "regproc"}, "pg_get_function_identity_arguments": {0, "regproc"},
	"pg_get_function_result": {0, "regproc"}, "pg_get_function_sqlbody": {0, "regproc"},
	"pg_get_function_arg_default": {0, "regproc"}, "format_type": {0, "regtype"},
	"obj_description": {0, "any"}, "col_description": {0, "regclass"},

	"pg_relation_filenode": {0, "regclass"}, "pg_get_replica_identity_index": {0, "regclass"},
	"pg_get_viewdef": {0, "regclass"}, "pg_relation_size": {0, "regclass"},
	"pg_total_relation_size": {0, "regclass"}, "pg_table_size": {0, "regclass"},
	"pg_indexes_size": {0, "regclass"}, "pg_get_serial_sequence": {0, "regclass"},
}

// pgSchemaDeniedFuncs identify any object by oid: refused under schema
// isolation.
var pgSchemaDeniedFuncs = map[string]bool{
	"pg_describe_object": true, "pg_identify_object": true, "pg_identify_object_as_address": true,
	"pg_get_object_address": true, "pg_filenode_relation": true, "pg_partition_tree": true,
	"pg_partition_ancestors": true, "pg_partition_root": true,
}

// oidGuard is a value to pass through only when it belongs to an oid set.
type oidGuard struct {
	slot *(*pg.Node) // where the value sits
	set  string      // key of pgOidSets
	cast string      // the reg* type to compare as ("" for a plain oid)
}

// guardOid records that *slot must be guarded with set (schema isolation).
func (a *pgStmt) guardOid(slot **pg.Node, set, cast string) {
	if a.scope.Isolation != IsolationSchema || *slot == nil {
		return
	}
	if _, ok := pgConstString(*slot); ok {
		return // constants are checked by name (typeCast, fnRelName)
	}
	a.guards = append(a.guards, oidGuard{slot: slot, set: set, cast: cast})
}

// catalogFunc applies the catalog rules to a function call: server
// settings, other databases' sizes, and oid arguments of functions that
// print definitions.
func (a *pgStmt) catalogFunc(name string, f *pg.FuncCall) {
	switch name {
	case "current_setting":
		if a.role.Access >= AccessAdmin || len(f.Args) == 0 {
			return
		}
		a.litDep = true
		s, ok := pgConstString(f.Args[0])
		if !ok {
			a.fail(sqlerr.New(sqlerr.Permission, "permission denied: current_setting needs a constant setting name for role %q on tenant %q", a.role.Name, a.tenant()))
		} else if pgServerSettings[lower(strings.TrimSpace(s))] {
			a.fail(a.serverSetting(s))
		}
		return
	case "pg_show_all_settings", "pg_settings_get_flags", "pg_show_all_file_settings", "pg_hba_file_rules", "pg_config":
		if a.role.Access < AccessAdmin {
			a.fail(a.denyFunc(name))
		}
		return
	case "pg_database_size":
		// Only the tenant's own database: another value becomes NULL.
		if len(f.Args) == 1 {
			a.dbGuards = append(a.dbGuards, &f.Args[0])
		}
		return
	}
	if a.scope.Isolation != IsolationSchema {
		return
	}
	if pgSchemaDeniedFuncs[name] {
		a.fail(a.denyFunc(name))
		return
	}
	if r, ok := pgOidFuncs[name]; ok && r.arg < len(f.Args) {
		cast := ""
		if strings.HasPrefix(r.set, "reg") {
			cast = r.set
		}
		a.guardOid(&f.Args[r.arg], r.set, cast)
	}
}

func (a *pgStmt) serverSetting(name string) *sqlerr.Error {
	return sqlerr.New(sqlerr.Permission, "permission denied: setting %q describes the server; only admin roles may read it on tenant %q", name, a.tenant())
}

// applyGuards rewrites the recorded values: x becomes
// (SELECT x WHERE x IN (<own oids>)), which keeps x's column label.
func (a *pgStmt) applyGuards() *sqlerr.Error {
	if len(a.guards) == 0 && len(a.dbGuards) == 0 {
		return nil
	}
	for _, g := range a.guards {
		cmp := proto.Clone(*g.slot).(*pg.Node)
		if g.cast != "" {
			cmp = &pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{Arg: cmp,
				TypeName: pgTypeName("pg_catalog", g.cast), Location: -1}}}
		}
		cond, err := a.e.pgPredicate("x IN "+pgOidSets[g.set], a.scope.Schema, "")
		if err != nil {
			return sqlerr.Wrap(sqlerr.Internal, err, "catalog guard does not parse")
		}
		cond.GetSubLink().Testexpr = &pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{Arg: cmp,
			TypeName: pgTypeName("pg_catalog", "oid"), Location: -1}}}
		*g.slot = pgScalarSelect(*g.slot, cond)
	}
	for _, slot := range a.dbGuards {
		cond, err := a.e.pgPredicate("x::text IN (pg_catalog.current_database()::text, "+
			"(SELECT oid::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))", "", "")
		if err != nil {
			return sqlerr.Wrap(sqlerr.Internal, err, "catalog guard does not parse")
		}
		cond.GetAExpr().Lexpr.GetTypeCast().Arg = proto.Clone(*slot).(*pg.Node)
		*slot = pgScalarSelect(*slot, cond)
	}
	a.rewritten = true
	return nil
}

func pgTypeName(parts ...string) *pg.TypeName {
	tn := &pg.TypeName{Location: -1, Typemod: -1}
	for _, p := range parts {
		tn.Names = append(tn.Names, pgStr(p))
	}
	return tn
}

// pgScalarSelect returns (SELECT v WHERE cond).
func pgScalarSelect(v, cond *pg.Node) *pg.Node {
	return &pg.Node{Node: &pg.Node_SubLink{SubLink: &pg.SubLink{
		SubLinkType: pg.SubLinkType_EXPR_SUBLINK,
		Subselect: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
			TargetList:  []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: v, Location: -1}}}},
			WhereClause: cond,
			Op:          pg.SetOperation_SETOP_NONE,
		}}},
		Location: -1,
	}}}
}

// catalogWrites refuses, for every role, statements that change or lock a
// system catalog: the backend user may be a superuser, and the catalogs are
// every tenant's.
func (a *pgStmt) catalogWrites(n *pg.Node) *sqlerr.Error {
	var targets []*pg.RangeVar
	switch x := n.Node.(type) {
	case *pg.Node_UpdateStmt:
		targets = append(targets, x.UpdateStmt.Relation)
	case *pg.Node_DeleteStmt:
		targets = append(targets, x.DeleteStmt.Relation)
	case *pg.Node_InsertStmt:
		targets = append(targets, x.InsertStmt.Relation)
	case *pg.Node_MergeStmt:
		targets = append(targets, x.MergeStmt.Relation)
	case *pg.Node_CopyStmt:
		if x.CopyStmt.IsFrom {
			targets = append(targets, x.CopyStmt.Relation)
		}
	case *pg.Node_TruncateStmt:
		for _, r := range x.TruncateStmt.Relations {
			targets = append(targets, r.GetRangeVar())
		}
	case *pg.Node_LockStmt:
		for _, r := range x.LockStmt.Relations {
			targets = append(targets, r.GetRangeVar())
		}
	}
	for _, rv := range targets {
		if rv == nil {
			continue
		}
		schema, rel := lower(rv.Schemaname), lower(rv.Relname)
		if schema == "pg_catalog" || schema == "information_schema" || schema == "pg_toast" || schema == "" && pgCatalogRelations[rel] {
			return a.privilege("changing or locking the system catalog " + rel)
		}
	}
	return nil
}
