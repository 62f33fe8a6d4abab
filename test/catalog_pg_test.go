package test

// Catalog visibility on Postgres (issue 9): a database tenant sees no other
// database of the server, a schema tenant no other schema of its database,
// in any catalog view, psql command or object-identifier trick, as viewer,
// analyst and editor; their own introspection keeps working.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// catalogFixture: alpha owns database adb; beta owns database bdb (its name
// carries a marker); gamma and delta own schemas gamma and zzmark_delta of
// database sdb.
type catalogFixture struct {
	rp            *runningProxy
	adb, bdb, sdb string
	markers       []string // must never appear in alpha's or gamma's output
	oids          map[string]string
	dataDir       string
}

func newCatalogFixture(t *testing.T) *catalogFixture {
	t.Helper()
	requirePostgres(t)
	f := &catalogFixture{oids: map[string]string{}}
	f.adb = tempPGDatabase(t, "cat_alpha")
	f.bdb = tempPGDatabase(t, "cat_zzmarkdb")
	f.sdb = tempPGDatabase(t, "cat_shared")
	pgExec(t, f.adb,
		"CREATE TABLE own_items (id int PRIMARY KEY, name text NOT NULL)",
		"INSERT INTO own_items VALUES (1, 'own-1'), (2, 'own-2')",
		"CREATE FUNCTION own_fn(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'")
	pgExec(t, f.bdb,
		"CREATE TABLE zzmark_btable (id int PRIMARY KEY, v text)",
		"INSERT INTO zzmark_btable VALUES (1, 'x')")
	pgExec(t, f.sdb,
		"CREATE SCHEMA gamma",
		"CREATE SCHEMA zzmark_delta",
		"CREATE TABLE gamma.own_items (id int PRIMARY KEY, name text NOT NULL)",
		"INSERT INTO gamma.own_items VALUES (1, 'own-1'), (2, 'own-2')",
		"CREATE VIEW gamma.own_view AS SELECT name FROM gamma.own_items",
		"CREATE FUNCTION gamma.own_fn(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'",
		"CREATE TYPE zzmark_delta.zzmark_dtype AS (a int)",
		"CREATE TABLE zzmark_delta.zzmark_dtable (id int CONSTRAINT zzmark_dpkey PRIMARY KEY, v zzmark_delta.zzmark_dtype)",
		"CREATE INDEX zzmark_didx ON zzmark_delta.zzmark_dtable (id)",
		"CREATE VIEW zzmark_delta.zzmark_dview AS SELECT id AS zzmark_dcol FROM zzmark_delta.zzmark_dtable",
		"CREATE FUNCTION zzmark_delta.zzmark_dfn() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		"COMMENT ON TABLE zzmark_delta.zzmark_dtable IS 'zzmark comment'",
		"INSERT INTO zzmark_delta.zzmark_dtable VALUES (1, ROW(1))",
		"ANALYZE zzmark_delta.zzmark_dtable", "ANALYZE gamma.own_items")
	f.markers = []string{"zzmark", strings.TrimPrefix(f.bdb, "tp_")}
	su := pgSuper(t, f.sdb)
	ctx := context.Background()
	for name, q := range map[string]string{
		"table": "SELECT 'zzmark_delta.zzmark_dtable'::regclass::oid::text",
		"index": "SELECT 'zzmark_delta.zzmark_didx'::regclass::oid::text",
		"view":  "SELECT 'zzmark_delta.zzmark_dview'::regclass::oid::text",
		"type":  "SELECT 'zzmark_delta.zzmark_dtype'::regtype::oid::text",
		"func":  "SELECT 'zzmark_delta.zzmark_dfn'::regproc::oid::text",
		"con":   "SELECT oid::text FROM pg_constraint WHERE conname = 'zzmark_dpkey'",
		"ns":    "SELECT 'zzmark_delta'::regnamespace::oid::text",
		"bdb":   "SELECT oid::text FROM pg_database WHERE datname = '" + f.bdb + "'",
		"dir":   "SELECT current_setting('data_directory')",
	} {
		var v string
		if err := su.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		f.oids[name] = v
	}
	f.dataDir = f.oids["dir"]
	dsn := func(db string) string { return "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable" }
	f.rp = startProxy(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: "%s", pool: {size: 2}}
  - {id: beta, engine: postgres, dsn: "%s", pool: {size: 1}}
  - {id: gamma, engine: postgres, dsn: "%s", isolation: schema, pool: {size: 2}}
  - {id: delta, engine: postgres, dsn: "%s", isolation: schema, schema: zzmark_delta, pool: {size: 1}}
users:
  - {name: av, password: pw, tenants: {alpha: viewer, gamma: viewer}}
  - {name: an, password: pw, tenants: {alpha: analyst, gamma: analyst}}
  - {name: ae, password: pw, tenants: {alpha: editor, gamma: editor}}
  - {name: aa, password: pw, tenants: {alpha: admin, gamma: admin}}
`, dsn(f.adb), dsn(f.bdb), dsn(f.sdb), dsn(f.sdb)))
	return f
}

// catalogProbes are the SQL texts every role runs ({{x}} from oids).
var catalogProbes = []string{
	"SELECT datname FROM pg_database",
	"SELECT * FROM pg_catalog.pg_database",
	"SELECT datname, numbackends, xact_commit FROM pg_stat_database",
	"SELECT * FROM pg_stat_database_conflicts",
	"SELECT pg_database_size('{{bdb_name}}')",
	"SELECT pg_database_size({{bdb}}::oid)",
	"SELECT d, pg_database_size(d) FROM (VALUES ('{{bdb_name}}'::name)) v(d)",
	"SELECT datname, pg_database_size(datname) FROM pg_database",
	"SELECT * FROM pg_shdescription",
	"SELECT * FROM pg_db_role_setting",
	"SELECT nspname FROM pg_namespace",
	"SELECT relname, relnamespace::regnamespace FROM pg_class",
	"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
	"SELECT schemaname, tablename FROM pg_tables",
	"SELECT schemaname, viewname, definition FROM pg_views",
	"SELECT schemaname, indexname, indexdef FROM pg_indexes",
	"SELECT schemaname, relname, n_live_tup FROM pg_stat_user_tables",
	"SELECT schemaname, relname FROM pg_stat_all_tables",
	"SELECT relname, indexrelname FROM pg_stat_user_indexes",
	"SELECT relname, indexrelname FROM pg_stat_all_indexes",
	"SELECT relname FROM pg_statio_user_tables",
	"SELECT relname, heap_blks_read FROM pg_statio_all_tables",
	"SELECT typname, typnamespace::regnamespace FROM pg_type",
	"SELECT proname, prosrc FROM pg_proc",
	"SELECT conname FROM pg_constraint",
	"SELECT attrelid::regclass, attname FROM pg_attribute",
	"SELECT indexrelid::regclass FROM pg_index",
	"SELECT description FROM pg_description",
	"SELECT * FROM pg_depend WHERE refobjid = {{table}}",
	"SELECT table_schema, table_name FROM information_schema.tables",
	"SELECT table_schema, table_name, column_name FROM information_schema.columns",
	"SELECT schema_name FROM information_schema.schemata",
	"SELECT table_schema, table_name, view_definition FROM information_schema.views",
	"SELECT routine_schema, routine_name, routine_definition FROM information_schema.routines",
	"SELECT constraint_schema, constraint_name, table_name FROM information_schema.table_constraints",
	"SELECT * FROM information_schema.key_column_usage",
	"SELECT * FROM information_schema.constraint_column_usage",
	"SELECT * FROM information_schema.user_defined_types",
	"SELECT * FROM information_schema.attributes",
	"SELECT * FROM information_schema.view_table_usage",
	"SELECT * FROM information_schema.parameters",
	"SELECT {{table}}::oid::regclass",
	"SELECT {{table}}::oid::regclass::text",
	"SELECT x::regclass FROM (SELECT {{table}}::oid AS x) s",
	"SELECT x::regclass FROM generate_series({{table}} - 5, {{table}} + 5) g(x)",
	"SELECT {{type}}::oid::regtype",
	"SELECT {{func}}::oid::regprocedure",
	"SELECT {{ns}}::oid::regnamespace",
	"SELECT '{{table}}'::regclass",
	"SELECT 'zzmark_delta.zzmark_dtable'::regclass",
	"SELECT pg_get_indexdef({{index}}::oid)",
	"SELECT pg_get_indexdef(x) FROM (SELECT {{index}}::oid AS x) s",
	"SELECT pg_get_constraintdef({{con}}::oid)",
	"SELECT pg_get_viewdef({{view}}::oid)",
	"SELECT pg_get_viewdef(x) FROM (SELECT {{view}}::oid AS x) s",
	"SELECT pg_get_functiondef(x) FROM (SELECT {{func}}::oid AS x) s",
	"SELECT format_type(x, NULL) FROM (SELECT {{type}}::oid AS x) s",
	"SELECT obj_description(x) FROM (SELECT {{table}}::oid AS x) s",
	"SELECT obj_description(x, 'pg_class') FROM (SELECT {{table}}::oid AS x) s",
	"SELECT pg_total_relation_size(x) FROM (SELECT {{table}}::oid AS x) s",
	"SELECT pg_describe_object('pg_class'::regclass, {{table}}, 0)",
	"SELECT * FROM pg_identify_object('pg_class'::regclass, {{table}}, 0)",
	"SELECT setting FROM pg_settings WHERE name IN ('data_directory', 'config_file', 'hba_file')",
	"SELECT current_setting('data_directory')",
	"SHOW data_directory",
	"SHOW hba_file",
	"SHOW ALL",
	// psql's tab completion of schema and table names.
	"SELECT pg_catalog.quote_ident(n.nspname) || '.' FROM pg_catalog.pg_namespace n WHERE substring(pg_catalog.quote_ident(n.nspname), 1, 2) = 'zz'",
	"SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p', 'v') AND substring(pg_catalog.quote_ident(c.relname), 1, 2) = 'zz'",
}

func (f *catalogFixture) probe(q string) string {
	r := strings.NewReplacer("{{bdb_name}}", f.bdb, "{{bdb}}", f.oids["bdb"], "{{table}}", f.oids["table"],
		"{{index}}", f.oids["index"], "{{view}}", f.oids["view"], "{{type}}", f.oids["type"],
		"{{func}}", f.oids["func"], "{{con}}", f.oids["con"], "{{ns}}", f.oids["ns"])
	return r.Replace(q)
}

// psqlOut runs psql commands through the proxy and returns the output.
func (f *catalogFixture) psqlOut(t *testing.T, user, tenant string, cmds ...string) (string, error) {
	t.Helper()
	psql := requireTool(t, "psql")
	args := []string{"-X", "-P", "pager=off"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return runTool(t, 60*time.Second, f.rp.pgEnv(user, "pw", tenant), psql, args...)
}

// TestCatalogPGNoOtherTenants: every probe, as viewer, analyst and editor
// on a database tenant and a schema tenant, shows no marker of another
// tenant and no server path.
func TestCatalogPGNoOtherTenants(t *testing.T) {
	f := newCatalogFixture(t)
	ctx := context.Background()
	markers := append([]string{f.dataDir}, f.markers...)
	leak := func(where, out string) {
		t.Helper()
		for _, m := range markers {
			// A name the probe itself typed may be echoed (in its own
			// result row or the error about it): only other names count.
			if strings.Contains(strings.ToLower(where), strings.ToLower(m)) {
				continue
			}
			if strings.Contains(strings.ToLower(out), strings.ToLower(m)) {
				t.Errorf("%s: output shows %q:\n%.2000s", where, m, out)
			}
		}
	}
	for _, tenant := range []string{"alpha", "gamma"} {
		for _, user := range []string{"av", "an", "ae"} {
			c := f.rp.connect(t, user, "pw", tenant)
			for _, p := range catalogProbes {
				q := f.probe(p)
				rows, err := c.Query(ctx, q)
				var b strings.Builder
				if err == nil {
					for rows.Next() {
						vals, _ := rows.Values()
						fmt.Fprintln(&b, vals...)
					}
					rows.Close()
					err = rows.Err()
				}
				if err != nil {
					b.WriteString(err.Error())
				}
				leak(fmt.Sprintf("%s@%s %s", user, tenant, q), b.String())
				if strings.Contains(q, "pg_database_size(d)") && !strings.Contains(b.String(), "<nil>") && !strings.Contains(b.String(), "SQLSTATE") {
					t.Errorf("%s@%s %s: another database's size: %s", user, tenant, q, b.String())
				}
			}
			out, _ := f.psqlOut(t, user, tenant, `\l`, `\l+`, `\dn`, `\dn+`, `\dt *.*`, `\d *.*`, `\d+ *.*`,
				`\df *.*`, `\dv *.*`, `\di *.*`, `\dT *.*`, `\ds *.*`, `\dt+`, `\d+`, `\dx`, `\db`)
			leak(fmt.Sprintf("%s@%s psql", user, tenant), out)
		}
	}
	// Control: the markers are there for the superuser.
	su := pgSuper(t, f.sdb)
	var n int
	if err := su.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'zzmark_delta'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("control: %d, %v", n, err)
	}
	if err := su.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", f.bdb).Scan(&n); err != nil || n != 1 {
		t.Fatalf("control: %d, %v", n, err)
	}
}

// TestCatalogPGOwnIntrospection: psql's \d family and information_schema
// keep showing the tenant's own objects.
func TestCatalogPGOwnIntrospection(t *testing.T) {
	f := newCatalogFixture(t)
	ctx := context.Background()
	for _, tenant := range []string{"alpha", "gamma"} {
		for _, user := range []string{"av", "an", "ae", "aa"} {
			out, err := f.psqlOut(t, user, tenant, `\dt`, `\d own_items`, `\d+ own_items`, `\df`, `\dn`, `\l`, `\dt+`)
			if err != nil {
				t.Errorf("psql as %s@%s: %v\n%s", user, tenant, err, out)
				continue
			}
			for _, want := range []string{"own_items", "own_items_pkey", "PRIMARY KEY, btree (id)", "not null", "own_fn", "integer"} {
				if !strings.Contains(out, want) {
					t.Errorf("psql as %s@%s lacks %q:\n%s", user, tenant, want, out)
				}
			}
			if tenant == "gamma" && !strings.Contains(out, "gamma") {
				t.Errorf("psql \\dn as %s@gamma does not list gamma:\n%s", user, out)
			}
			if tenant == "alpha" && !strings.Contains(out, f.adb) {
				t.Errorf("psql \\l as %s@alpha does not list its own database:\n%s", user, out)
			}
			c := f.rp.connect(t, user, "pw", tenant)
			var cols string
			err = c.QueryRow(ctx, "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'own_items'").Scan(&cols)
			if err != nil || cols != "id,name" {
				t.Errorf("information_schema.columns as %s@%s: %q, %v", user, tenant, cols, err)
			}
			var n int
			err = c.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('own_items', 'own_view')").Scan(&n)
			if err != nil || (tenant == "gamma" && n != 2) || (tenant == "alpha" && n != 1) {
				t.Errorf("information_schema.tables as %s@%s: %d, %v", user, tenant, n, err)
			}
			var size int64
			if err := c.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err != nil || size <= 0 {
				t.Errorf("own database size as %s@%s: %d, %v", user, tenant, size, err)
			}
			// Guarded displays of the tenant's own objects come through, labels kept.
			for q, want := range map[string]string{
				"SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p') AND substring(pg_catalog.quote_ident(c.relname), 1, 7) = 'own_ite' AND pg_catalog.pg_table_is_visible(c.oid)": "own_items",
				"SELECT c.oid::regclass::text FROM pg_class c WHERE relname = 'own_items'":                                              "own_items",
				"SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'own_items'::regclass":                               "CREATE UNIQUE INDEX own_items_pkey ON ",
				"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'own_items'::regclass AND attname = 'name'": "text",
				"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'own_items_pkey'":                                  "PRIMARY KEY (id)",
				"SELECT (pg_database_size(datname) > 0)::text FROM pg_database":                                                         "true",
				"SELECT proname FROM pg_proc WHERE pronamespace::regnamespace::text <> 'pg_catalog' AND proname = 'own_fn'":             "own_fn",
			} {
				rows, err := c.Query(ctx, q)
				if err != nil {
					t.Errorf("%s as %s@%s: %v", q, user, tenant, err)
					continue
				}
				var got []string
				for rows.Next() {
					var v string
					if err := rows.Scan(&v); err != nil {
						t.Errorf("%s: %v", q, err)
					}
					got = append(got, v)
				}
				rows.Close()
				if len(got) != 1 || !strings.HasPrefix(got[0], want) {
					t.Errorf("%s as %s@%s: %q, want %q", q, user, tenant, got, want)
				}
			}
			rows, err := c.Query(ctx, "SELECT c.oid::regclass FROM pg_class c LIMIT 1")
			if err == nil {
				if fd := rows.FieldDescriptions(); len(fd) != 1 || fd[0].Name != "oid" {
					t.Errorf("label of c.oid::regclass as %s@%s: %v", user, tenant, fd)
				}
				rows.Close()
			} else {
				t.Errorf("c.oid::regclass as %s@%s: %v", user, tenant, err)
			}
		}
	}
	// Admin roles still read server settings.
	c := f.rp.connect(t, "aa", "pw", "alpha")
	var dir string
	if err := c.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil || dir != f.dataDir {
		t.Errorf("admin SHOW data_directory: %q, %v", dir, err)
	}
}
