package nlp

import (
	"context"
	"fmt"
	"strings"
)

// SQLite is the dialect of SQLite tenants (served through the admin API).
// Questions are rendered as SQL both SQLite and the Postgres parser read
// (date parts through strftime, not EXTRACT); the policy parses it and
// renders its SQLite subset again, so what runs is what was checked
// (policy/sqlite.go).
const SQLite Dialect = "sqlite"

const sqliteTablesSQL = `SELECT name, type = 'view' FROM sqlite_master
WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`

// introspectSQLite reads tables, columns, keys and row counts from
// sqlite_master and the table-valued pragma functions.
func introspectSQLite(ctx context.Context, r Runner, s *Schema) error {
	err := r.RunCatalog(ctx, sqliteTablesSQL, func(row []any) error {
		s.Tables = append(s.Tables, &Table{Name: str(row[0]), View: num(row[1]) == 1})
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range s.Tables {
		lit := "'" + strings.ReplaceAll(t.Name, "'", "''") + "'"
		err := r.RunCatalog(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(`+lit+`) ORDER BY cid`, func(row []any) error {
			ty := str(row[1])
			t.Columns = append(t.Columns, &Column{Name: str(row[0]), Type: ty, Kind: sqliteKind(ty), Nullable: num(row[2]) == 0})
			if num(row[3]) > 0 {
				t.PrimaryKey = append(t.PrimaryKey, str(row[0]))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		fks := map[int64]*ForeignKey{}
		err = r.RunCatalog(ctx, `SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(`+lit+`) ORDER BY id, seq`, func(row []any) error {
			id := num(row[0])
			fk := fks[id]
			if fk == nil {
				t.ForeignKeys = append(t.ForeignKeys, ForeignKey{RefTable: str(row[1])})
				fk = &t.ForeignKeys[len(t.ForeignKeys)-1]
				fks[id] = fk
			}
			fk.Columns = append(fk.Columns, str(row[2]))
			fk.RefColumns = append(fk.RefColumns, str(row[3]))
			return nil
		})
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		if !t.View {
			_ = r.RunCatalog(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(t.Name, `"`, `""`)+`"`, func(row []any) error {
				t.RowEstimate = num(row[0])
				return nil
			})
		}
	}
	return nil
}

// sqliteKind maps a declared type to a kind by SQLite's affinity rules
// (https://www.sqlite.org/datatype3.html#determination_of_column_affinity).
func sqliteKind(decl string) Kind {
	d := strings.ToUpper(decl)
	switch {
	case strings.Contains(d, "INT"):
		return KindInt
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return KindText
	case strings.Contains(d, "DATETIME"), strings.Contains(d, "TIMESTAMP"):
		return KindTime
	case strings.Contains(d, "DATE"):
		return KindDate
	case strings.Contains(d, "BOOL"):
		return KindBool
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"),
		strings.Contains(d, "NUMERIC"), strings.Contains(d, "DECIMAL"):
		return KindNumber
	case d == "":
		return KindText
	}
	return KindNumber
}
