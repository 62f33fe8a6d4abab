package evalset

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// The question sets' gold SQL runs on Postgres; to score other engines on
// the same data, CopyToSQLite and CopyToMongo copy a Postgres database's
// tables (public schema) with the same table and column names, so the
// gold rows from Postgres are the gold rows of the copy.

type srcColumn struct{ name, typ string }

type srcTable struct {
	name string
	cols []srcColumn
	pk   []string
	fks  []srcFK
}

type srcFK struct {
	name       string
	cols, refs []string
	refTable   string
}

func readTables(ctx context.Context, c *pgx.Conn) ([]*srcTable, error) {
	rows, err := c.Query(ctx, `SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
WHERE table_schema = 'public' AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE')
ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, err
	}
	var out []*srcTable
	by := map[string]*srcTable{}
	for rows.Next() {
		var tn, cn, ty string
		if err := rows.Scan(&tn, &cn, &ty); err != nil {
			rows.Close()
			return nil, err
		}
		t := by[tn]
		if t == nil {
			t = &srcTable{name: tn}
			by[tn] = t
			out = append(out, t)
		}
		t.cols = append(t.cols, srcColumn{cn, ty})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = c.Query(ctx, `SELECT con.conname::text, con.contype::text, c.relname::text, COALESCE(f.relname::text, ''), a.attname::text, COALESCE(fa.attname::text, '')
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class f ON f.oid = con.confrelid
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
LEFT JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[k.ord]
WHERE con.contype IN ('p','f') AND n.nspname = 'public'
ORDER BY c.relname, con.conname, k.ord`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, tn, ref, col, refCol string
		if err := rows.Scan(&name, &typ, &tn, &ref, &col, &refCol); err != nil {
			return nil, err
		}
		t := by[tn]
		if t == nil {
			continue
		}
		if typ == "p" {
			t.pk = append(t.pk, col)
			continue
		}
		if n := len(t.fks); n == 0 || t.fks[n-1].name != name {
			t.fks = append(t.fks, srcFK{name: name, refTable: ref})
		}
		fk := &t.fks[len(t.fks)-1]
		fk.cols = append(fk.cols, col)
		fk.refs = append(fk.refs, refCol)
	}
	return out, rows.Err()
}

// sqliteDecl is the SQLite declaration of a Postgres type, chosen so the
// SQLite affinity and the translator's kind match Postgres's.
func sqliteDecl(pgType string) string {
	switch {
	case strings.Contains(pgType, "int"):
		return "INTEGER"
	case pgType == "numeric", pgType == "real", pgType == "double precision":
		return "NUMERIC"
	case strings.HasPrefix(pgType, "timestamp"):
		return "DATETIME"
	case pgType == "date":
		return "DATE"
	case pgType == "boolean":
		return "BOOLEAN"
	}
	return "TEXT"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// CopyToSQLite copies every table of src into the SQLite database dst:
// same names, keys declared, each foreign key's columns indexed (as
// Chinook's own SQLite file and its Postgres dump index them), timestamps
// as 'YYYY-MM-DD HH:MM:SS' text (SQLite's date functions read that form).
func CopyToSQLite(ctx context.Context, src *pgx.Conn, dst *sql.DB) error {
	tables, err := readTables(ctx, src)
	if err != nil {
		return fmt.Errorf("evalset: read tables: %w", err)
	}
	for _, t := range tables {
		var defs []string
		for _, c := range t.cols {
			defs = append(defs, quoteIdent(c.name)+" "+sqliteDecl(c.typ))
		}
		if len(t.pk) > 0 {
			defs = append(defs, "PRIMARY KEY ("+quoteList(t.pk)+")")
		}
		for _, fk := range t.fks {
			defs = append(defs, fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s (%s)", quoteList(fk.cols), quoteIdent(fk.refTable), quoteList(fk.refs)))
		}
		if _, err := dst.ExecContext(ctx, "CREATE TABLE "+quoteIdent(t.name)+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("evalset: create %s: %w", t.name, err)
		}
		if err := copySQLiteTable(ctx, src, dst, t); err != nil {
			return fmt.Errorf("evalset: copy %s: %w", t.name, err)
		}
		for i, fk := range t.fks {
			idx := quoteIdent(fmt.Sprintf("ifk_%s_%d", t.name, i))
			if _, err := dst.ExecContext(ctx, "CREATE INDEX "+idx+" ON "+quoteIdent(t.name)+" ("+quoteList(fk.cols)+")"); err != nil {
				return fmt.Errorf("evalset: index %s: %w", t.name, err)
			}
		}
	}
	return nil
}

// copySQLiteTable inserts t's rows in one transaction through one
// prepared statement.
func copySQLiteTable(ctx context.Context, src *pgx.Conn, dst *sql.DB, t *srcTable) error {
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ")
	st, err := tx.PrepareContext(ctx, "INSERT INTO "+quoteIdent(t.name)+" VALUES ("+ph+")")
	if err != nil {
		return err
	}
	defer st.Close()
	err = copyRows(ctx, src, t, func(vals []any) error {
		for i, v := range vals {
			switch x := v.(type) {
			case time.Time:
				vals[i] = x.UTC().Format("2006-01-02 15:04:05")
			case pgNumeric:
				vals[i] = float64(x)
			}
		}
		_, err := st.ExecContext(ctx, vals...)
		return err
	})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// CopyToMongo copies every table of src into a collection of dst: one
// document per row with the same field names (NULL as null), references as
// the referenced row's key (track.album_id), and _id the primary key — the
// value of a one-column key, a document of the columns of a composite one.
func CopyToMongo(ctx context.Context, src *pgx.Conn, dst *mongo.Database) error {
	tables, err := readTables(ctx, src)
	if err != nil {
		return fmt.Errorf("evalset: read tables: %w", err)
	}
	for _, t := range tables {
		var docs []any
		if err := copyRows(ctx, src, t, func(vals []any) error {
			doc := bson.D{{Key: "_id"}}
			var id bson.D
			for i, c := range t.cols {
				v := vals[i]
				switch x := v.(type) {
				case pgNumeric:
					v = float64(x)
				case time.Time:
					v = x.UTC()
				}
				doc = append(doc, bson.E{Key: c.name, Value: v})
				for _, k := range t.pk {
					if k == c.name {
						id = append(id, bson.E{Key: c.name, Value: v})
					}
				}
			}
			switch len(id) {
			case 0:
				doc = doc[1:] // no key: the server assigns an ObjectId
			case 1:
				doc[0].Value = id[0].Value
			default:
				doc[0].Value = id
			}
			docs = append(docs, doc)
			return nil
		}); err != nil {
			return fmt.Errorf("evalset: copy %s: %w", t.name, err)
		}
		if len(docs) == 0 {
			if err := dst.CreateCollection(ctx, t.name); err != nil {
				return fmt.Errorf("evalset: create %s: %w", t.name, err)
			}
			continue
		}
		for len(docs) > 0 {
			n := min(len(docs), 1000)
			if _, err := dst.Collection(t.name).InsertMany(ctx, docs[:n]); err != nil {
				return fmt.Errorf("evalset: insert into %s: %w", t.name, err)
			}
			docs = docs[n:]
		}
	}
	return nil
}

// pgNumeric is a numeric value read as text and parsed: the copies hold
// doubles, which is what the gold results' two-decimal comparison needs.
type pgNumeric float64

// copyRows reads t's rows and hands each to fn: integers as int32/int64,
// numerics as pgNumeric, timestamps as time.Time, text as string, NULL as nil.
func copyRows(ctx context.Context, c *pgx.Conn, t *srcTable, fn func([]any) error) error {
	sel := make([]string, len(t.cols))
	for i, col := range t.cols {
		sel[i] = quoteIdent(col.name)
		if col.typ == "numeric" {
			sel[i] += "::text"
		}
	}
	order := ""
	if len(t.pk) > 0 {
		order = " ORDER BY " + quoteList(t.pk)
	}
	rows, err := c.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+quoteIdent(t.name)+order)
	if err != nil {
		return err
	}
	defer rows.Close()
	var batch [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		for i, col := range t.cols {
			if s, ok := vals[i].(string); ok && col.typ == "numeric" {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fmt.Errorf("%s.%s: %w", t.name, col.name, err)
				}
				vals[i] = pgNumeric(f)
			}
		}
		batch = append(batch, vals)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for _, vals := range batch {
		if err := fn(vals); err != nil {
			return err
		}
	}
	return nil
}
