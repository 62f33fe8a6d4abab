package policy

import (
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// TestMaskedCopiesRefused: a role that may write or run DDL must not copy
// masked values where the front end cannot mask them (new tables, other
// tables' columns, session variables), in either dialect.
func TestMaskedCopiesRefused(t *testing.T) {
	admin := &Role{Name: "maskadmin", Access: AccessAdmin, MaskedColumns: []string{"items.email"}}
	scope := &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha_db"}
	s := Subject{User: "u", Scope: scope, Role: admin, Version: 1}
	e := NewEngine(100)
	cases := []struct {
		d       Dialect
		sql     string
		allowed bool
	}{
		{Postgres, "SELECT email INTO t FROM items", false},
		{Postgres, "SELECT * INTO TEMP t FROM items", false},
		{Postgres, "SELECT id, name INTO t FROM items", true},
		{Postgres, "CREATE TABLE t AS SELECT email FROM items", false},
		{Postgres, "CREATE TABLE t AS SELECT * FROM items", false},
		{Postgres, "CREATE MATERIALIZED VIEW v AS SELECT email FROM items", false},
		{Postgres, "CREATE VIEW v AS SELECT * FROM items", false},
		{Postgres, "INSERT INTO t (e) SELECT email FROM items", false},
		{Postgres, "COPY items TO STDOUT", false},
		{Postgres, "COPY items (id, name) TO STDOUT", true},
		{Postgres, "COPY items FROM STDIN", true},
		{Postgres, "PREPARE p AS SELECT email FROM items", false},
		{Postgres, "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM items", false},
		{Postgres, "SELECT email FROM items", true},
		{MySQL, "CREATE TABLE t AS SELECT email FROM items", false},
		{MySQL, "CREATE TABLE t AS SELECT * FROM items", false},
		{MySQL, "INSERT INTO t SELECT * FROM items", false},
		{MySQL, "PREPARE s FROM 'SELECT * FROM items'", false},
		{MySQL, "SELECT email FROM items", true},
	}
	for _, c := range cases {
		_, err := e.Check(s, c.d, c.sql)
		if c.allowed && err != nil {
			t.Errorf("%s: %q refused: %v", c.d, c.sql, err)
		}
		if !c.allowed {
			if err == nil {
				t.Errorf("%s: %q allowed, want refused", c.d, c.sql)
			} else if se := sqlerr.As(err); se == nil || se.SQLState() != "42501" {
				t.Errorf("%s: %q: %v, want a policy refusal", c.d, c.sql, err)
			}
		}
	}
}

// TestUncheckedCodeEveryModel: function bodies, DO blocks and the like are
// refused for admins in every isolation model.
func TestUncheckedCodeEveryModel(t *testing.T) {
	admin, _ := BuiltinRole(RoleAdmin)
	scopes := []*Scope{
		{Tenant: "a", Isolation: IsolationDatabase, Database: "a_db"},
		{Tenant: "a", Isolation: IsolationSchema, Database: "shared", Schema: "a"},
		{Tenant: "a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant_id", TenantTables: []string{"orders"}},
	}
	stmts := []string{
		"DO $$BEGIN NULL; END$$",
		"DO LANGUAGE plpgsql 'BEGIN NULL; END'",
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1",
		"CREATE PROCEDURE p() LANGUAGE plpgsql AS $$BEGIN NULL; END$$",
		"CREATE EXTENSION IF NOT EXISTS dblink",
		"CREATE LANGUAGE plpython3u",
		"CREATE TRUSTED LANGUAGE x HANDLER h",
		"CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION f()",
		"LOAD 'plpgsql'",
		"ALTER DATABASE x RENAME TO y",
		"COMMENT ON DATABASE x IS 'y'",
		"GRANT CONNECT ON DATABASE x TO PUBLIC",
		"ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC",
		"CREATE ROLE r",
		"GRANT pg_read_server_files TO CURRENT_USER",
		"ALTER SYSTEM SET work_mem = '1GB'",
		"SECURITY LABEL ON TABLE orders IS 'x'",
		"CREATE SUBSCRIPTION s CONNECTION 'dbname=x' PUBLICATION p",
	}
	e := NewEngine(0)
	for _, sc := range scopes {
		s := Subject{User: "u", Scope: sc, Role: &admin, Version: 1}
		for _, q := range stmts {
			if _, err := e.Check(s, Postgres, q); err == nil {
				t.Errorf("%s isolation: %q allowed", sc.Isolation, q)
			}
		}
		if _, err := e.Check(s, Postgres, "CALL p()"); err != nil {
			t.Errorf("%s isolation: CALL refused: %v", sc.Isolation, err)
		}
	}
}

func TestMyHasExecComment(t *testing.T) {
	cases := map[string]bool{
		"SELECT 1":                          false,
		"SELECT 1 /*!50000 , 2 */":          true,
		"SELECT 1 /*!*/":                    true,
		"SELECT 1 /*M!100000 x */":          true,
		"SELECT 1 /*m! x */":                true,
		"SELECT 1 /*T![clustered_index] */": true,
		"SELECT 1 /* ! x */":                false,
		"SELECT 1 /*+ hint */":              false,
		"SELECT '/*!'":                      false,
		`SELECT 'it''s /*!'`:                false,
		`SELECT 'a\' /*! '`:                 false,
		`SELECT 'a\\' /*! x */`:             true,
		`SELECT "a"" /*M! x */"`:            false,
		"SELECT `a``/*!`":                   false,
		"SELECT 1 -- /*! x */\n":            false,
		"SELECT 1 --/*! x */":               true, // "--" without a space is not a comment
		"SELECT 1 # /*! x */\n, 2":          false,
		"SELECT 1 # x\n /*! x */":           true,
		"SELECT 1 /* a /*! b */":            false, // no nesting: one ordinary comment
		"SELECT 1 /* a */ /*!x*/":           true,
		"SELECT 1 /* unterminated":          false,
		"SELECT 1 --":                       false,
	}
	for in, want := range cases {
		if got := myHasExecComment(in); got != want {
			t.Errorf("myHasExecComment(%q) = %v, want %v", in, got, want)
		}
	}
}
