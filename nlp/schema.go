// Package nlp turns natural-language questions into SQL for one tenant: it
// introspects the tenant's schema from the live catalog (tables, columns,
// keys, row estimates and an index of the values of low-cardinality text
// columns), and translates questions deterministically by linking their
// words to that schema (the default), or through an optional
// OpenAI-compatible model whose answer is checked like any other SQL.
//
// The package knows nothing of HTTP or wire protocols: it reads the catalog
// through a Runner and returns SQL text; the caller runs that text through
// the policy engine like a human's.
package nlp

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Dialect is the query language of a tenant ("postgres", "mysql",
// "sqlite" or "mongodb").
type Dialect string

// Dialects.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// Runner runs one catalog statement written by this package on a tenant's
// backend and hands each row to fn (values: int64, json.Number, string,
// bool or nil).
type Runner interface {
	RunCatalog(ctx context.Context, sql string, fn func(row []any) error) error
}

// Kind is the broad type of a column.
type Kind string

// Column kinds.
const (
	KindText   Kind = "text"
	KindInt    Kind = "integer"
	KindNumber Kind = "number"
	KindDate   Kind = "date"
	KindTime   Kind = "timestamp"
	KindBool   Kind = "boolean"
	KindOther  Kind = "other"
)

// Schema is what a tenant's database offers to questions.
type Schema struct {
	Dialect  Dialect   `json:"dialect"`
	Tables   []*Table  `json:"tables"`
	LoadedAt time.Time `json:"loaded_at"`

	byName map[string]*Table
}

// Table is one table or view.
type Table struct {
	Name        string       `json:"name"`
	Columns     []*Column    `json:"columns"`
	PrimaryKey  []string     `json:"primary_key,omitempty"`
	ForeignKeys []ForeignKey `json:"foreign_keys,omitempty"`
	RowEstimate int64        `json:"row_estimate"`
	View        bool         `json:"view,omitempty"`
	// Indexes are a MongoDB collection's indexes (IntrospectMongo).
	Indexes []Index `json:"indexes,omitempty"`
}

// Column is one column of a table.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Kind     Kind   `json:"kind"`
	Nullable bool   `json:"nullable"`
	// Values are the distinct values of a short text column with few of
	// them (the value index), used to link words like "Brazil" to it.
	Values []string `json:"-"`
	// Indexed reports that Values holds the column's every value.
	Indexed bool `json:"value_index,omitempty"`

	// What the sample of a MongoDB collection showed of a field
	// (IntrospectMongo); Name is then a dotted path.

	// Types maps each BSON type seen ($type alias: "string", "int", …) to
	// the share of sampled documents holding it there.
	Types map[string]float64 `json:"types,omitempty"`
	// Presence is the share of sampled documents holding the field.
	Presence float64 `json:"presence,omitempty"`
	// Array reports that some documents hold an array there (the column's
	// types are then those of the elements); Object, a nested document.
	Array  bool `json:"array,omitempty"`
	Object bool `json:"object,omitempty"`
}

// ForeignKey is a declared foreign key, or one inferred from names and
// values (infer.go).
type ForeignKey struct {
	Columns    []string `json:"columns"`
	RefTable   string   `json:"ref_table"`
	RefColumns []string `json:"ref_columns"`
	// Inferred reports a key the catalog does not declare: the names and
	// the values say it (infer.go).
	Inferred bool `json:"inferred,omitempty"`
}

// Table returns the table named name (case-insensitive).
func (s *Schema) Table(name string) *Table {
	if s.byName == nil {
		s.index()
	}
	return s.byName[strings.ToLower(name)]
}

func (s *Schema) index() {
	s.byName = make(map[string]*Table, len(s.Tables))
	for _, t := range s.Tables {
		s.byName[strings.ToLower(t.Name)] = t
	}
}

// Column returns the column named name (case-insensitive).
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

// Filter returns a copy of s holding only the tables keep accepts and the
// columns hide does not reject, with foreign keys to dropped tables
// removed. Used to show each role only what it may read.
func (s *Schema) Filter(keep func(table string) bool, hide func(table, column string) bool) *Schema {
	out := &Schema{Dialect: s.Dialect, LoadedAt: s.LoadedAt}
	kept := map[string]bool{}
	for _, t := range s.Tables {
		if keep(t.Name) {
			kept[strings.ToLower(t.Name)] = true
		}
	}
	for _, t := range s.Tables {
		if !kept[strings.ToLower(t.Name)] {
			continue
		}
		nt := *t
		nt.Columns = nil
		for _, c := range t.Columns {
			if hide == nil || !hide(t.Name, c.Name) {
				nt.Columns = append(nt.Columns, c)
			}
		}
		nt.ForeignKeys = nil
		for _, fk := range t.ForeignKeys {
			if kept[strings.ToLower(fk.RefTable)] {
				nt.ForeignKeys = append(nt.ForeignKeys, fk)
			}
		}
		out.Tables = append(out.Tables, &nt)
	}
	out.index()
	return out
}

// WithoutValues returns a copy of s whose columns that hidden reports
// carry no value index: a masked column's values must neither link a
// question (an existence oracle) nor reach a model's prompt.
func (s *Schema) WithoutValues(hidden func(table, column string) bool) *Schema {
	out := &Schema{Dialect: s.Dialect, LoadedAt: s.LoadedAt}
	for _, t := range s.Tables {
		nt := *t
		nt.Columns = make([]*Column, len(t.Columns))
		for i, c := range t.Columns {
			nt.Columns[i] = c
			if len(c.Values) > 0 && hidden(t.Name, c.Name) {
				nc := *c
				nc.Values, nc.Indexed = nil, false
				nt.Columns[i] = &nc
			}
		}
		out.Tables = append(out.Tables, &nt)
	}
	out.index()
	return out
}

// Limits of the value index.
const (
	valueIndexMaxDistinct = 1000    // columns with more distinct values are not indexed
	valueIndexMaxLen      = 255     // nor columns declared longer (when the type says)
	valueMaxLen           = 80      // nor columns holding a longer value
	valueIndexMaxRows     = 2000000 // nor tables estimated larger
)

// RowScope is the share of a database that belongs to one tenant under row
// isolation: the rows of every table carrying Column whose value is Value.
// The zero RowScope is a database of its own.
type RowScope struct {
	Column string // the tenant column; hidden from the schema
	Value  string // this tenant's value of it
}

// Introspect reads the schema of the database r reaches. Under a row scope
// the tenant column is left out of the schema and every statement that
// reads table contents (the value index, the value checks of inferred
// keys) reads only the tenant's rows, so one tenant's values never link
// another tenant's questions nor decide its relations.
func Introspect(ctx context.Context, r Runner, d Dialect, scope RowScope) (*Schema, error) {
	if scope.Column != "" && scope.Value == "" {
		return nil, fmt.Errorf("nlp: introspect: row scope on column %q without a tenant value", scope.Column)
	}
	s := &Schema{Dialect: d, LoadedAt: time.Now()}
	var err error
	switch d {
	case Postgres:
		err = introspectPG(ctx, r, s)
	case MySQL:
		err = introspectMySQL(ctx, r, s)
	case SQLite:
		err = introspectSQLite(ctx, r, s)
	case Mongo:
		return nil, fmt.Errorf("nlp: introspect: a MongoDB database is read with IntrospectMongo")
	default:
		return nil, fmt.Errorf("nlp: unknown dialect %q", d)
	}
	if err != nil {
		return nil, fmt.Errorf("nlp: introspect: %w", err)
	}
	scoped := map[*Table]bool{}
	if scope.Column != "" {
		for _, t := range s.Tables {
			cols := t.Columns[:0]
			for _, c := range t.Columns {
				if strings.EqualFold(c.Name, scope.Column) {
					scoped[t] = true
					continue
				}
				cols = append(cols, c)
			}
			t.Columns = cols
		}
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Name < s.Tables[j].Name })
	s.index()
	if err := inferKeys(ctx, r, s, scope, scoped); err != nil {
		return nil, fmt.Errorf("nlp: inferred keys: %w", err)
	}
	if err := indexValues(ctx, r, s, scope, scoped); err != nil {
		return nil, fmt.Errorf("nlp: value index: %w", err)
	}
	// The catalog's row estimate of a shared table counts every tenant's
	// rows: not this tenant's to see.
	for t := range scoped {
		t.RowEstimate = 0
	}
	return s, nil
}

// pgColumnsSQL reads the columns of the tables and views on the search
// path. A materialized view created WITH NO DATA (Pagila's
// rental_by_category) cannot be read until it is refreshed: it is left
// out, as any query on it would fail.
const pgColumnsSQL = `SELECT c.relname::text, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)::text,
  NOT a.attnotnull, GREATEST(c.reltuples, 0)::int8, (c.relkind IN ('v','m'))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
WHERE c.relkind IN ('r','p','v','m') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
  AND (c.relkind <> 'm' OR c.relispopulated)
  AND n.nspname = ANY(pg_catalog.current_schemas(false))
ORDER BY c.relname, a.attnum`

const pgKeysSQL = `SELECT con.conname::text, con.contype::text, c.relname::text, COALESCE(f.relname::text, ''), a.attname::text, COALESCE(fa.attname::text, '')
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class f ON f.oid = con.confrelid
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
LEFT JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[k.ord]
WHERE con.contype IN ('p','f') AND n.nspname = ANY(pg_catalog.current_schemas(false))
ORDER BY c.relname, con.conname, k.ord`

func introspectPG(ctx context.Context, r Runner, s *Schema) error {
	byName := map[string]*Table{}
	err := r.RunCatalog(ctx, pgColumnsSQL, func(row []any) error {
		tn, cn, ty := str(row[0]), str(row[1]), str(row[2])
		t := byName[tn]
		if t == nil {
			t = &Table{Name: tn, RowEstimate: num(row[4]), View: row[5] == true}
			byName[tn] = t
			s.Tables = append(s.Tables, t)
		}
		t.Columns = append(t.Columns, &Column{Name: cn, Type: ty, Kind: kindOf(ty), Nullable: row[3] == true})
		return nil
	})
	if err != nil {
		return err
	}
	fks := map[string]*ForeignKey{}
	return r.RunCatalog(ctx, pgKeysSQL, func(row []any) error {
		name, typ, tn, ref, col, refCol := str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5])
		t := byName[tn]
		if t == nil {
			return nil
		}
		if typ == "p" {
			t.PrimaryKey = append(t.PrimaryKey, col)
			return nil
		}
		key := tn + "\x00" + name
		fk := fks[key]
		if fk == nil {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{RefTable: ref})
			fk = &t.ForeignKeys[len(t.ForeignKeys)-1]
			fks[key] = fk
		}
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, refCol)
		return nil
	})
}

const myColumnsSQL = `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE = 'YES', COALESCE(t.TABLE_ROWS, 0), t.TABLE_TYPE = 'VIEW', c.COLUMN_KEY = 'PRI'
FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = DATABASE()
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`

const myKeysSQL = `SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL AND REFERENCED_TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`

func introspectMySQL(ctx context.Context, r Runner, s *Schema) error {
	byName := map[string]*Table{}
	err := r.RunCatalog(ctx, myColumnsSQL, func(row []any) error {
		tn, cn, ty := str(row[0]), str(row[1]), str(row[2])
		t := byName[tn]
		if t == nil {
			t = &Table{Name: tn, RowEstimate: num(row[4]), View: num(row[5]) == 1}
			byName[tn] = t
			s.Tables = append(s.Tables, t)
		}
		t.Columns = append(t.Columns, &Column{Name: cn, Type: ty, Kind: kindOf(ty), Nullable: num(row[3]) == 1})
		if num(row[6]) == 1 {
			t.PrimaryKey = append(t.PrimaryKey, cn)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fks := map[string]*ForeignKey{}
	return r.RunCatalog(ctx, myKeysSQL, func(row []any) error {
		name, tn, col, ref, refCol := str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4])
		t := byName[tn]
		if t == nil {
			return nil
		}
		key := tn + "\x00" + name
		fk := fks[key]
		if fk == nil {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{RefTable: ref})
			fk = &t.ForeignKeys[len(t.ForeignKeys)-1]
			fks[key] = fk
		}
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, refCol)
		return nil
	})
}

// indexValues fills the value index: for every short text column of a
// table that is not too large, its distinct values when there are at most
// valueIndexMaxDistinct of them. One statement per table; a table in
// scoped is read only where scope.Column holds scope.Value.
func indexValues(ctx context.Context, r Runner, s *Schema, scope RowScope, scoped map[*Table]bool) error {
	q := quoter(s.Dialect)
	lit := newRenderer(s.Dialect).str
	for _, t := range s.Tables {
		if t.RowEstimate > valueIndexMaxRows {
			continue
		}
		var parts []string
		var cols []*Column
		own := ""
		if scoped[t] {
			own = fmt.Sprintf(" AND %s = %s", q(scope.Column), lit(scope.Value))
		}
		for _, c := range t.Columns {
			if c.Kind != KindText || declaredLen(c.Type) > valueIndexMaxLen || isKeyColumn(t, c.Name) {
				continue
			}
			i := len(cols)
			cols = append(cols, c)
			part := fmt.Sprintf("SELECT %d AS k, v FROM (SELECT DISTINCT %s AS v FROM %s WHERE %s IS NOT NULL%s LIMIT %d) d%d",
				i, castText(s.Dialect, q(c.Name)), q(t.Name), q(c.Name), own, valueIndexMaxDistinct+1, i)
			if s.Dialect != SQLite { // SQLite takes no parenthesised members of a UNION
				part = "(" + part + ")"
			}
			parts = append(parts, part)
		}
		if len(parts) == 0 {
			continue
		}
		vals := make([][]string, len(cols))
		err := r.RunCatalog(ctx, strings.Join(parts, " UNION ALL "), func(row []any) error {
			k := int(num(row[0]))
			if k >= 0 && k < len(vals) {
				vals[k] = append(vals[k], str(row[1]))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		for i, c := range cols {
			if len(vals[i]) > valueIndexMaxDistinct {
				continue
			}
			// Over-long values (free text) are left out of the index.
			short := vals[i][:0]
			for _, v := range vals[i] {
				if len(v) <= valueMaxLen {
					short = append(short, v)
				}
			}
			c.Values, c.Indexed = short, true
		}
	}
	return nil
}

func castText(d Dialect, col string) string {
	switch d {
	case Postgres:
		return col + "::text"
	case SQLite:
		return "CAST(" + col + " AS TEXT)"
	}
	return "CONVERT(" + col + " USING utf8mb4)"
}

func isKeyColumn(t *Table, col string) bool {
	for _, k := range t.PrimaryKey {
		if strings.EqualFold(k, col) && len(t.PrimaryKey) == 1 {
			return true
		}
	}
	return false
}

// declaredLen is the n of varchar(n) / char(n), or 0.
func declaredLen(ty string) int {
	i := strings.IndexByte(ty, '(')
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range ty[i+1:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func kindOf(ty string) Kind {
	t := strings.ToLower(ty)
	switch {
	case strings.HasPrefix(t, "tinyint(1)"), t == "boolean", t == "bool":
		return KindBool
	case strings.Contains(t, "int") && !strings.Contains(t, "interval") && !strings.Contains(t, "point"):
		return KindInt
	case strings.HasPrefix(t, "numeric"), strings.HasPrefix(t, "decimal"), strings.HasPrefix(t, "double"),
		strings.HasPrefix(t, "real"), strings.HasPrefix(t, "float"), t == "money":
		return KindNumber
	case strings.HasPrefix(t, "timestamp"), strings.HasPrefix(t, "datetime"):
		return KindTime
	case t == "date":
		return KindDate
	case strings.Contains(t, "char"), strings.Contains(t, "text"), t == "citext", strings.HasPrefix(t, "enum"), t == "name":
		return KindText
	}
	return KindOther
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	}
	var n int64
	neg := false
	for i, c := range str(v) {
		if i == 0 && c == '-' {
			neg = true
			continue
		}
		if c == '.' {
			break
		}
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

// quoter returns the identifier quoting function of d.
func quoter(d Dialect) func(string) string {
	if d == MySQL {
		return func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	}
	return func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
}
