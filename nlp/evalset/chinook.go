package evalset

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// chinookLoadLock is the Postgres advisory lock that serialises loads of
// Chinook: test packages run in parallel, and each may find it missing.
const chinookLoadLock = 7_134_000_001

// EnsureChinook loads Chinook from datasets/chinook (the public sample
// database, as ../shared/datasets holds it) into chinook_pg on the local
// Postgres and chinook_my on the local MariaDB, where either is missing or
// was left half-loaded. pgAdmin is a DSN of a Postgres superuser; the
// loads run psql and mariadb, as the datasets' README does.
func EnsureChinook(ctx context.Context, pgAdmin, datasets string) error {
	c, err := pgx.Connect(ctx, pgAdmin)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(context.Background()) }()
	if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(chinookLoadLock)); err != nil {
		return err
	}
	defer func() { _, _ = c.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(chinookLoadLock)) }()
	dir := filepath.Join(datasets, "chinook")

	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = 'chinook_pg'").Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		// Loaded under another name and renamed when complete: a load
		// that stops half-way never looks like Chinook.
		tmp := fmt.Sprintf("chinook_pg_load_%d", os.Getpid())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+tmp); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "CREATE DATABASE "+tmp+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
			return err
		}
		script := fmt.Sprintf(`set -e
sed -e '/^DROP DATABASE IF EXISTS chinook;/d' -e '/^CREATE DATABASE chinook;/d' -e '/^\\c chinook;/d' %q |
  psql -X -q -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -d %s`, filepath.Join(dir, "Chinook_PostgreSql.sql"), tmp)
		if out, err := exec.CommandContext(ctx, "bash", "-c", script).CombinedOutput(); err != nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+tmp)
			return fmt.Errorf("load chinook_pg: %v\n%s", err, out)
		}
		if _, err := c.Exec(ctx, "ALTER DATABASE "+tmp+" RENAME TO chinook_pg"); err != nil {
			return err
		}
	}

	const my = "mariadb --protocol=TCP -h 127.0.0.1 -P 3306 -uroot --default-character-set=utf8mb4"
	// The load's last row is the sentinel of a complete load.
	out, err := exec.CommandContext(ctx, "bash", "-c", my+" -N -e 'SELECT count(*) FROM chinook_my.PlaylistTrack WHERE PlaylistId = 18 AND TrackId = 597'").CombinedOutput()
	if err == nil && strings.TrimSpace(string(out)) == "1" {
		return nil
	}
	script := fmt.Sprintf(`set -e; M=%q
$M -e 'DROP DATABASE IF EXISTS chinook_my; CREATE DATABASE chinook_my CHARACTER SET utf8mb4'
{ echo "SET SESSION sql_mode=CONCAT(@@sql_mode,',NO_BACKSLASH_ESCAPES');"
  sed -e '/^DROP DATABASE IF EXISTS `+"`Chinook`"+`;/d' -e '/^CREATE DATABASE `+"`Chinook`"+`;/d' -e '/^USE `+"`Chinook`"+`;/d' %q; } | $M chinook_my`,
		my, filepath.Join(dir, "Chinook_MySql.sql"))
	if out, err := exec.CommandContext(ctx, "bash", "-c", script).CombinedOutput(); err != nil {
		return fmt.Errorf("load chinook_my: %v\n%s", err, out)
	}
	return nil
}
