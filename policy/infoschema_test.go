package policy

import (
	"strings"
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

func TestMySQLInformationSchemaFiltered(t *testing.T) {
	analyst, _ := BuiltinRole(RoleAnalyst)
	s := Subject{User: "u", Scope: &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha_db"}, Role: &analyst}
	for _, q := range []string{
		"SELECT TABLE_NAME FROM information_schema.TABLES",
		"SELECT t.TABLE_NAME, c.COLUMN_NAME FROM information_schema.TABLES t JOIN information_schema.COLUMNS c ON c.TABLE_NAME = t.TABLE_NAME",
		"SELECT SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA",
		"SELECT * FROM `information_schema`.`columns` WHERE TABLE_SCHEMA = 'beta_db'",
		"SELECT (SELECT count(*) FROM information_schema.tables) AS n",
	} {
		d, err := NewEngine(0).Check(s, MySQL, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !d.Rewritten || strings.Count(d.SQL, "'alpha_db'") < strings.Count(strings.ToLower(q), "information_schema") {
			t.Errorf("%s: not filtered to the tenant's database: %s", q, d.SQL)
		}
	}
	for _, q := range []string{
		"SELECT * FROM information_schema.PROCESSLIST",
		"SELECT * FROM information_schema.INNODB_TRX",
		"SELECT * FROM information_schema.USER_PRIVILEGES",
		"SELECT * FROM information_schema.GLOBAL_STATUS",
	} {
		if _, err := NewEngine(0).Check(s, MySQL, q); !sqlerr.Is(err, sqlerr.CrossTenant) {
			t.Errorf("%s: %v", q, err)
		}
	}
	if _, err := NewEngine(0).Check(s, MySQL, "SELECT CHARACTER_SET_NAME FROM information_schema.CHARACTER_SETS"); err != nil {
		t.Errorf("character sets: %v", err)
	}
}
