package proxy

// The catalog queries of isolation verification, per engine. They are the
// proxy's own SQL, run on a tenant's pool without a role; every name and
// value in them comes from the configuration or the catalog and is quoted.

import (
	"fmt"
	"strings"

	"github.com/tenantproxy/tenantproxy/policy"
)

// table is one table of a tenant's database.
type table struct {
	schema       string // Postgres: the table's schema; MySQL: ""
	name         string
	hasTenantCol bool // it carries the tenant's tenant column (row isolation)
}

// display is the table's name as reports show it (public. left out).
func (t table) display() string {
	if t.schema == "" || t.schema == "public" {
		return t.name
	}
	return t.schema + "." + t.name
}

// verifyCatalog is what verification knows of a tenant's tables.
type verifyCatalog struct {
	schema string // the schema the tenant owns (schema isolation), else ""
	tables []table
}

// find returns the table named name (unqualified, case-insensitive).
func (c *verifyCatalog) find(name string) (table, bool) {
	for _, t := range c.tables {
		if strings.EqualFold(t.name, name) {
			return t, true
		}
	}
	return table{}, false
}

// loadCatalog lists t's tables (for schema isolation: those of its schema).
func (r *tenantRun) loadCatalog(t *TenantState) (*verifyCatalog, error) {
	d := dialectOf(t)
	c := &verifyCatalog{}
	if t.Scope.Isolation == policy.IsolationSchema {
		c.schema = t.Scope.Schema
	}
	col := ""
	if t.Scope.Isolation == policy.IsolationRow {
		col = t.Scope.TenantColumn
	}
	rows, err := r.direct(t, d.tablesSQL(col, c.schema))
	if err != nil {
		return nil, fmt.Errorf("tenant %q: cannot list its tables: %w", t.ID, err)
	}
	for _, row := range rows {
		has := false
		switch v := row[2].(type) {
		case bool:
			has = v
		default:
			has = asInt(v) == 1
		}
		c.tables = append(c.tables, table{schema: asText(row[0]), name: asText(row[1]), hasTenantCol: has})
	}
	return c, nil
}

// verifyDialect writes the catalog queries and probes of one engine.
type verifyDialect interface {
	// tablesSQL returns (schema, table, has col) of the tenant's tables
	// and views, only those of schema when it is set.
	tablesSQL(col, schema string) string
	// orphanSQL counts (NULL, unknown) values of col in t.
	orphanSQL(t table, col string, known []string) string
	// keysSQL returns (schema, table, key) of unique keys without col on
	// tables that carry col.
	keysSQL(col, schema string) string
	// viewsSQL returns (schema, view) of the views reading column col of t.
	viewsSQL(t table, col string) string
	// foreignViewsSQL returns (view, referenced object) for views of the
	// tenant's scope that read objects outside it ("" when the engine
	// cannot have them for this model).
	foreignViewsSQL(scope *policy.Scope) string
	// columnsSQL returns the column names of t in their order.
	columnsSQL(t table) string
	// extensionsSQL returns (name, usable) of installed ways out.
	extensionsSQL() string
	ident(name string) string
	qualified(t table) string
	lit(s string) string
	// concat is an expression of col that is not the bare column.
	concat(col string) string
	// series selects n rows without reading a table.
	series(n int) string
}

func dialectOf(t *TenantState) verifyDialect {
	if t.Engine == EngineMySQL {
		return myVerify{}
	}
	return pgVerify{}
}

func (r *tenantRun) dialect() verifyDialect { return dialectOf(r.t) }

type pgVerify struct{}

func (pgVerify) ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func (d pgVerify) qualified(t table) string {
	if t.schema == "" {
		return d.ident(t.name)
	}
	return d.ident(t.schema) + "." + d.ident(t.name)
}
func (pgVerify) lit(s string) string      { return pgQuoteLiteral(s) }
func (d pgVerify) concat(c string) string { return d.ident(c) + " || ''" }
func (pgVerify) series(n int) string      { return fmt.Sprintf("SELECT generate_series(1, %d) AS n", n) }

const pgUserSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'`

func (d pgVerify) tablesSQL(col, schema string) string {
	where := pgUserSchemas
	if schema != "" {
		where = "n.nspname = " + d.lit(schema)
	}
	return fmt.Sprintf(`SELECT n.nspname::text, c.relname::text,
  EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = %s)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition AND %s ORDER BY 1, 2`, d.lit(col), where)
}

func (d pgVerify) orphanSQL(t table, col string, known []string) string {
	lits := make([]string, len(known))
	for i, v := range known {
		lits[i] = d.lit(v)
	}
	if len(lits) == 0 {
		lits = []string{"NULL"}
	}
	return fmt.Sprintf("SELECT count(*) FILTER (WHERE %[1]s IS NULL), count(*) FILTER (WHERE %[1]s::text NOT IN (%[2]s)) FROM %[3]s",
		d.ident(col), strings.Join(lits, ", "), d.qualified(t))
}

func (d pgVerify) keysSQL(col, schema string) string {
	where := pgUserSchemas
	if schema != "" {
		where = "n.nspname = " + d.lit(schema)
	}
	return fmt.Sprintf(`SELECT n.nspname::text, c.relname::text, i.relname::text
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped
WHERE x.indisunique AND c.relkind IN ('r', 'p') AND %s AND NOT (a.attnum = ANY (x.indkey::int2[]))
ORDER BY 1, 2, 3`, d.lit(col), where)
}

func (d pgVerify) viewsSQL(t table, col string) string {
	return fmt.Sprintf(`SELECT DISTINCT vn.nspname::text, v.relname::text
FROM pg_catalog.pg_depend dep
JOIN pg_catalog.pg_rewrite rw ON rw.oid = dep.objid
JOIN pg_catalog.pg_class v ON v.oid = rw.ev_class
JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
WHERE dep.classid = 'pg_catalog.pg_rewrite'::regclass AND dep.refobjid = %s::regclass AND a.attname = %s AND v.oid <> dep.refobjid
ORDER BY 1, 2`, d.lit(d.qualified(t)), d.lit(col))
}

func (d pgVerify) foreignViewsSQL(scope *policy.Scope) string {
	if scope.Isolation != policy.IsolationSchema {
		return "" // one database, one tenant (or row tenants filtered per table): no view reads another's
	}
	return fmt.Sprintf(`SELECT DISTINCT vn.nspname || '.' || v.relname, rn.nspname || '.' || r.relname
FROM pg_catalog.pg_depend dep
JOIN pg_catalog.pg_rewrite rw ON rw.oid = dep.objid
JOIN pg_catalog.pg_class v ON v.oid = rw.ev_class
JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_catalog.pg_class r ON r.oid = dep.refobjid
JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
WHERE dep.classid = 'pg_catalog.pg_rewrite'::regclass AND dep.refclassid = 'pg_catalog.pg_class'::regclass
  AND vn.nspname = %[1]s AND rn.nspname NOT IN (%[1]s, 'pg_catalog', 'information_schema') AND r.oid <> v.oid
ORDER BY 1, 2`, d.lit(scope.Schema))
}

func (d pgVerify) columnsSQL(t table) string {
	return fmt.Sprintf("SELECT attname::text FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
		d.lit(d.qualified(t)))
}

func (pgVerify) extensionsSQL() string {
	return `SELECT e.extname::text,
  CASE WHEN e.extname = 'postgres_fdw' THEN has_foreign_data_wrapper_privilege('postgres_fdw', 'USAGE')
       ELSE coalesce((SELECT bool_or(has_function_privilege(p.oid, 'EXECUTE'))
                      FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
                      WHERE d.refobjid = e.oid AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'), false) END
FROM pg_catalog.pg_extension e
WHERE e.extname IN ('dblink', 'postgres_fdw', 'mysql_fdw', 'oracle_fdw', 'tds_fdw', 'mongo_fdw', 'file_fdw')
ORDER BY 1`
}

type myVerify struct{}

func (myVerify) ident(s string) string      { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
func (d myVerify) qualified(t table) string { return d.ident(t.name) }
func (myVerify) lit(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
func (d myVerify) concat(c string) string { return "CONCAT(" + d.ident(c) + ", '')" }
func (myVerify) series(n int) string {
	return fmt.Sprintf("WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n FROM s", n)
}

func (d myVerify) tablesSQL(col, _ string) string {
	return fmt.Sprintf(`SELECT '', t.table_name,
  EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = %s)
FROM information_schema.tables t WHERE t.table_schema = DATABASE() AND t.table_type IN ('BASE TABLE', 'VIEW') ORDER BY 2`, d.lit(col))
}

func (d myVerify) orphanSQL(t table, col string, known []string) string {
	lits := make([]string, len(known))
	for i, v := range known {
		lits[i] = d.lit(v)
	}
	if len(lits) == 0 {
		lits = []string{"NULL"}
	}
	return fmt.Sprintf("SELECT CAST(COALESCE(SUM(%[1]s IS NULL), 0) AS SIGNED), CAST(COALESCE(SUM(%[1]s IS NOT NULL AND CAST(%[1]s AS CHAR) NOT IN (%[2]s)), 0) AS SIGNED) FROM %[3]s",
		d.ident(col), strings.Join(lits, ", "), d.qualified(t))
}

func (d myVerify) keysSQL(col, _ string) string {
	return fmt.Sprintf(`SELECT '', s.table_name, s.index_name FROM information_schema.statistics s
WHERE s.table_schema = DATABASE() AND s.non_unique = 0
  AND EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = %[1]s)
GROUP BY s.table_name, s.index_name HAVING SUM(s.column_name = %[1]s) = 0 ORDER BY 2, 3`, d.lit(col))
}

func (d myVerify) viewsSQL(t table, col string) string {
	return fmt.Sprintf("SELECT '', table_name FROM information_schema.views WHERE table_schema = DATABASE() AND view_definition LIKE %s AND view_definition LIKE %s ORDER BY 2",
		d.lit("%`"+t.name+"`%"), d.lit("%`"+col+"`%"))
}

func (d myVerify) foreignViewsSQL(*policy.Scope) string {
	return `SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = DATABASE() ORDER BY 1`
}

func (d myVerify) columnsSQL(t table) string {
	return fmt.Sprintf("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
		d.lit(t.name))
}

func (myVerify) extensionsSQL() string {
	return `SELECT plugin_name, 1 FROM information_schema.plugins
WHERE plugin_status = 'ACTIVE' AND plugin_name IN ('FEDERATED', 'FEDERATEDX', 'CONNECT', 'SPIDER') ORDER BY 1`
}
