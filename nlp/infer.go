package nlp

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Inferred relations: many schemas leave some relations undeclared (a
// dump that dropped its constraints, a key one dangling row kept from
// being declared). A column with no declared key is taken to reference
// another table's single-column primary key or unique column when
//
//   - the names say so: the column has the key's own name and that name
//     bears the table's ("countryid" = countries.countryid, "model" =
//     model_list.model), or the column is named after the table
//     ("airline" → airlines, "maker" → car_makers, "airline_id",
//     "AirlineCode"), or ends with its name ("sourceairport" → airports);
//   - the kinds agree (integer with integer or number, text with text);
//   - the values confirm it: of up to inferSampleRows non-null values of
//     the column, at least inferMinShare exist in the referenced column,
//     among at least inferMinDistinct distinct values.
//
// Declared keys win: a column with a declared key, and a table with a
// declared key to the same table, get no inferred one, and the planner
// joins along inferred keys only where declared ones reach nothing
// (join.go). A column that several tables would fit is left alone. Such
// keys are marked Inferred, and a join along one costs confidence
// (confidence.go). Each value check is one bounded statement (a LIMIT on
// the column's rows, an index probe of the key, a timeout); checks that
// fail or time out infer nothing. Under a row scope both sides read only
// the tenant's rows.

// Bounds of the inference.
const (
	inferSampleRows  = 1000 // values of the column read per check
	inferMinShare    = 0.95 // share of them the referenced column must hold
	inferMinDistinct = 3    // distinct values the sample must show
	inferMaxChecks   = 200  // value checks per schema
)

// Time bounds of the inference (variables for the tests).
var (
	inferCheckTimeout = 2 * time.Second // per value check
	inferTimeBudget   = 10 * time.Second
)

// Catalog statements of the single-column unique constraints and indexes.
const pgUniqueSQL = `SELECT c.relname::text, a.attname::text
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
WHERE i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL
  AND n.nspname = ANY(pg_catalog.current_schemas(false))`

const myUniqueSQL = `SELECT TABLE_NAME, MIN(COLUMN_NAME)
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0
GROUP BY TABLE_NAME, INDEX_NAME
HAVING COUNT(*) = 1`

// genericTableWords end a table's name without naming what its rows are
// ("model_list", "cars_data"); genericStems are words too general to
// stand for a table on their own (a "type" column is no reference to
// document_types).
var (
	genericTableWords = toSet("list lists data info information detail details table tables record records master")
	genericStems      = toSet("type status name code date detail item list data info record id key number no value")
	keyWords          = toSet("id ids code key no num number ref")
)

// tableStems are the forms in which a column's name may name table t:
// its whole name folded (singular and plural) and its last word alone.
func tableStems(t *Table) []string {
	words := splitName(t.Name)
	if len(words) > 1 && tablePrefixes[words[0]] {
		words = words[1:]
	}
	for len(words) > 1 && genericTableWords[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	if len(words) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= 3 && !seen[s] && !genericStems[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	last := words[len(words)-1]
	head := strings.Join(words[:len(words)-1], "")
	for _, w := range []string{last, singular(last), lemma(last)} {
		add(head + w)
	}
	for _, w := range []string{last, singular(last), lemma(last)} {
		add(w)
	}
	return out
}

// singular is w without a plural ending: lemma's rules without its
// canonical abbreviations ("departments" → department, not dept).
func singular(w string) string {
	n := len(w)
	switch {
	case n <= 3 || strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") || strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:n-2]
	case strings.HasSuffix(w, "s"):
		return w[:n-1]
	}
	return w
}

// columnBase is a column's name folded without its trailing key words
// ("airline_id" → airline, "AirportCode" → airport); the name itself
// when nothing else is left.
func columnBase(name string) string {
	words := splitName(name)
	for len(words) > 1 && keyWords[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	if len(words) == 1 && len(words[0]) >= 6 && strings.HasSuffix(words[0], "id") {
		return strings.TrimSuffix(words[0], "id") // "teacherid"
	}
	return strings.Join(words, "")
}

func fold(name string) string { return strings.Join(splitName(name), "") }

// colNamesTable reports whether a column's name names table t: its base is
// one of t's stems, or ends with one of four letters or more.
func colNamesTable(col string, t *Table) bool {
	base := columnBase(col)
	for _, st := range tableStems(t) {
		if base == st || (len(st) >= 4 && len(base) > len(st) && strings.HasSuffix(base, st)) {
			return true
		}
	}
	return false
}

// bearsTable reports whether a key's name holds one of t's stems
// ("countryid" of countries, "model" of model_list): a key named only
// "id" or "code" names no table, so a column of that name refers to none.
func bearsTable(key string, t *Table) bool {
	f := fold(key)
	for _, st := range tableStems(t) {
		if strings.Contains(f, st) {
			return true
		}
	}
	return false
}

// refKeys are t's single columns whose values identify a row: the
// primary key when it has one column, and the unique columns.
func refKeys(t *Table, unique map[string][]string) []*Column {
	var out []*Column
	if len(t.PrimaryKey) == 1 {
		if c := t.Column(t.PrimaryKey[0]); c != nil {
			out = append(out, c)
		}
	}
	for _, name := range unique[strings.ToLower(t.Name)] {
		if c := t.Column(name); c != nil && !containsCol(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func containsCol(cs []*Column, c *Column) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// compatibleKinds reports whether values of kinds a and b can be the same
// key: both integers or numbers, or both text.
func compatibleKinds(a, b Kind) bool {
	num := func(k Kind) bool { return k == KindInt || k == KindNumber }
	return (a == KindText && b == KindText) || (num(a) && num(b) && (a == KindInt || b == KindInt))
}

// refCandidate is a column some table's key may be referenced by.
type refCandidate struct {
	child  *Table
	col    *Column
	parent *Table
	key    *Column
}

// refCandidates lists, for column c of t, the keys of other tables its
// name and kind say it may reference.
func refCandidates(s *Schema, t *Table, c *Column, unique map[string][]string) []refCandidate {
	var out []refCandidate
	for _, r := range s.Tables {
		if r == t || r.View {
			continue
		}
		keys := refKeys(r, unique)
		for _, k := range keys {
			same := strings.EqualFold(c.Name, k.Name) && bearsTable(k.Name, r)
			named := colNamesTable(c.Name, r) && len(r.PrimaryKey) == 1 && strings.EqualFold(k.Name, r.PrimaryKey[0])
			if (same || named) && compatibleKinds(c.Kind, k.Kind) {
				out = append(out, refCandidate{child: t, col: c, parent: r, key: k})
			}
		}
	}
	return out
}

// declaredKeyOn reports whether column col of t has a declared key, or t
// has a declared key to table ref ("" for any).
func declaredKeyOn(t *Table, col, ref string) bool {
	for _, fk := range t.ForeignKeys {
		if fk.Inferred {
			continue
		}
		if ref != "" && strings.EqualFold(fk.RefTable, ref) {
			return true
		}
		for _, fc := range fk.Columns {
			if col != "" && strings.EqualFold(fc, col) {
				return true
			}
		}
	}
	return false
}

// inferKeys adds the inferred foreign keys of s (see the top of this
// file). A table in scoped is read only where scope.Column holds
// scope.Value. Only the caller's context ending is an error; a check that
// fails infers nothing.
func inferKeys(ctx context.Context, r Runner, s *Schema, scope RowScope, scoped map[*Table]bool) error {
	unique := map[string][]string{}
	var uq string
	switch s.Dialect {
	case Postgres:
		uq = pgUniqueSQL
	case MySQL:
		uq = myUniqueSQL
	}
	if uq != "" {
		err := r.RunCatalog(ctx, uq, func(row []any) error {
			k := strings.ToLower(str(row[0]))
			unique[k] = append(unique[k], str(row[1]))
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			unique = map[string][]string{} // primary keys only
		}
	}
	var found []refCandidate
	checks := 0
	deadline := time.Now().Add(inferTimeBudget)
	for _, t := range s.Tables {
		if t.View {
			continue
		}
		for _, c := range t.Columns {
			if c.Kind != KindText && c.Kind != KindInt && c.Kind != KindNumber {
				continue
			}
			// A table's own one-column key is its rows' identity, and a
			// declared key is the schema's word.
			if len(t.PrimaryKey) == 1 && strings.EqualFold(t.PrimaryKey[0], c.Name) || declaredKeyOn(t, c.Name, "") {
				continue
			}
			var ok []refCandidate
			for _, rc := range refCandidates(s, t, c, unique) {
				if declaredKeyOn(t, "", rc.parent.Name) {
					continue
				}
				if checks >= inferMaxChecks || time.Now().After(deadline) {
					break
				}
				checks++
				hold, err := valuesHeld(ctx, r, s.Dialect, rc, scope, scoped)
				if err != nil {
					return err
				}
				if hold {
					ok = append(ok, rc)
				}
			}
			if len(ok) == 1 { // several tables fit: none is the reading
				found = append(found, ok[0])
			}
		}
	}
	for _, rc := range found {
		rc.child.ForeignKeys = append(rc.child.ForeignKeys, ForeignKey{Columns: []string{rc.col.Name},
			RefTable: rc.parent.Name, RefColumns: []string{rc.key.Name}, Inferred: true})
	}
	return nil
}

// valuesHeld runs the value check of candidate rc: of a bounded sample of
// the column's non-null values, at least inferMinShare exist in the key,
// with at least inferMinDistinct distinct ones.
func valuesHeld(ctx context.Context, r Runner, d Dialect, rc refCandidate, scope RowScope, scoped map[*Table]bool) (bool, error) {
	q := quoter(d)
	lit := newRenderer(d).str
	own := func(t *Table, alias string) string {
		if !scoped[t] {
			return ""
		}
		return fmt.Sprintf(" AND %s.%s = %s", alias, q(scope.Column), lit(scope.Value))
	}
	sql := fmt.Sprintf("SELECT COUNT(*), COUNT(p.%s), COUNT(DISTINCT s.v) FROM (SELECT c.%s AS v FROM %s c WHERE c.%s IS NOT NULL%s LIMIT %d) s LEFT JOIN %s p ON p.%s = s.v%s",
		q(rc.key.Name), q(rc.col.Name), q(rc.child.Name), q(rc.col.Name), own(rc.child, "c"), inferSampleRows,
		q(rc.parent.Name), q(rc.key.Name), own(rc.parent, "p"))
	cctx, cancel := context.WithTimeout(ctx, inferCheckTimeout)
	defer cancel()
	var total, held, distinct int64
	err := r.RunCatalog(cctx, sql, func(row []any) error {
		total, held, distinct = num(row[0]), num(row[1]), num(row[2])
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil // a timeout or a comparison the engine refuses: no key
	}
	return total > 0 && distinct >= inferMinDistinct && float64(held) >= inferMinShare*float64(total), nil
}

// tableKey is a foreign key with the table holding it.
type tableKey struct {
	table string
	*ForeignKey
}

// inferredJoins are the inferred keys whose condition the rendered sql
// compares (a join, or a correlated subquery along the key).
func (p *parser) inferredJoins(sql string) []tableKey {
	var out []tableKey
	for _, t := range p.s.Tables {
		for i := range t.ForeignKeys {
			fk := &t.ForeignKeys[i]
			if !fk.Inferred || len(fk.Columns) != 1 {
				continue
			}
			a := p.r.q(t.Name) + "." + p.r.q(fk.Columns[0])
			b := p.r.q(fk.RefTable) + "." + p.r.q(fk.RefColumns[0])
			if strings.Contains(sql, a+" = "+b) || strings.Contains(sql, b+" = "+a) {
				out = append(out, tableKey{t.Name, fk})
			}
		}
	}
	return out
}
