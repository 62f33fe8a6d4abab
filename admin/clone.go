package admin

// Cloning a tenant's backend database from a template ("root image"):
// Postgres CREATE DATABASE ... TEMPLATE; MariaDB/MySQL: the template's
// tables (definitions and rows) copied into a new database. A clone that
// fails leaves no database behind.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Clone errors the API maps onto 400/409.
var (
	errTemplateMissing = errors.New("template database does not exist")
	errDatabaseInUse   = errors.New("database already exists")
)

func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// tenantDSN is serverDSN with its database replaced by db.
func tenantDSN(engine, serverDSN, db string) (string, error) {
	if engine == "mysql" {
		c, err := mysql.ParseDSN(serverDSN)
		if err != nil {
			return "", fmt.Errorf("provisioning.mysql_dsn: %v", err)
		}
		c.DBName = db
		return c.FormatDSN(), nil
	}
	u, err := url.Parse(serverDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("provisioning.postgres_dsn: want a postgres:// URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}

func clonePG(ctx context.Context, serverDSN, template, db string) error {
	c, err := pgx.Connect(ctx, serverDSN)
	if err != nil {
		return fmt.Errorf("connect to the Postgres server: %w", err)
	}
	defer c.Close(ctx)
	var tmpl, taken bool
	err = c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1), EXISTS (SELECT 1 FROM pg_database WHERE datname = $2)`,
		template, db).Scan(&tmpl, &taken)
	switch {
	case err != nil:
		return err
	case !tmpl:
		return errTemplateMissing
	case taken:
		return errDatabaseInUse
	}
	// One statement: Postgres creates the whole copy or nothing.
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgIdent(db)+" TEMPLATE "+pgIdent(template))
	return err
}

func dropPG(ctx context.Context, serverDSN, db string) error {
	c, err := pgx.Connect(ctx, serverDSN)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgIdent(db)+" WITH (FORCE)")
	return err
}

func mysqlServer(serverDSN string) (*sql.DB, error) {
	c, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return nil, err
	}
	c.DBName = ""
	c.MultiStatements = false
	return sql.Open("mysql", c.FormatDSN())
}

// cloneMySQL copies the template's tables into a new database db: each
// table's definition (SHOW CREATE TABLE) and rows (INSERT ... SELECT of its
// stored columns), foreign keys checked only once complete. A template with
// views, triggers, routines or events is refused before anything is made:
// they are not copied, and a partial copy is not a clone.
func cloneMySQL(ctx context.Context, serverDSN, template, db string) (err error) {
	pool, err := mysqlServer(serverDSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	c, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to the MySQL server: %w", err)
	}
	defer c.Close()
	count := func(q string, args ...any) (int, error) {
		var n int
		err := c.QueryRowContext(ctx, q, args...).Scan(&n)
		return n, err
	}
	n, err := count(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, template)
	if err != nil {
		return err
	}
	if n == 0 {
		return errTemplateMissing
	}
	if n, err = count(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, db); err != nil {
		return err
	} else if n > 0 {
		return errDatabaseInUse
	}
	for what, q := range map[string]string{
		"views":    `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'BASE TABLE'`,
		"triggers": `SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
		"routines": `SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`,
		"events":   `SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
	} {
		if n, err := count(q, template); err != nil {
			return err
		} else if n > 0 {
			return fmt.Errorf("the template has %s, which cloning does not copy", what)
		}
	}
	var charset, collation string
	if err := c.QueryRowContext(ctx, `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`,
		template).Scan(&charset, &collation); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "CREATE DATABASE "+myIdent(db)+" CHARACTER SET "+charset+" COLLATE "+collation); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+myIdent(db))
		}
	}()
	rows, err := c.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, template)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return err
	}
	defer func() { _, _ = c.ExecContext(context.WithoutCancel(ctx), "SET SESSION foreign_key_checks = 1") }()
	if _, err := c.ExecContext(ctx, "USE "+myIdent(db)); err != nil {
		return err
	}
	for _, t := range tables {
		var name, ddl string
		if err := c.QueryRowContext(ctx, "SHOW CREATE TABLE "+myIdent(template)+"."+myIdent(t)).Scan(&name, &ddl); err != nil {
			return fmt.Errorf("table %s: %w", t, err)
		}
		if _, err := c.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("table %s: %w", t, err)
		}
		crows, err := c.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
			AND EXTRA NOT LIKE '%GENERATED%' AND EXTRA NOT LIKE '%VIRTUAL%' AND EXTRA NOT LIKE '%PERSISTENT%' AND EXTRA NOT LIKE '%STORED%'
			ORDER BY ORDINAL_POSITION`, template, t)
		if err != nil {
			return err
		}
		var cols []string
		for crows.Next() {
			var col string
			if err := crows.Scan(&col); err != nil {
				crows.Close()
				return err
			}
			cols = append(cols, myIdent(col))
		}
		crows.Close()
		list := strings.Join(cols, ", ")
		if _, err := c.ExecContext(ctx, "INSERT INTO "+myIdent(db)+"."+myIdent(t)+" ("+list+") SELECT "+list+" FROM "+myIdent(template)+"."+myIdent(t)); err != nil {
			return fmt.Errorf("table %s: copy rows: %w", t, err)
		}
	}
	return nil
}

func dropMySQL(ctx context.Context, serverDSN, db string) error {
	pool, err := mysqlServer(serverDSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.ExecContext(ctx, "DROP DATABASE IF EXISTS "+myIdent(db))
	return err
}
