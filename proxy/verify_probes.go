package proxy

// Live probes of isolation verification: statements a client of the tenant
// could send, checked by the policy engine and run on the tenant's pool,
// whose answers are compared with direct counts on the backends.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tenantproxy/tenantproxy/policy"
)

// maxProbeTables bounds the other tenant's tables probed per pair.
const maxProbeTables = 5

// crossProbe is one cross-reference statement and how to judge its answer.
type crossProbe struct {
	name string
	sql  string
	// kind: "count" (one count, which must equal allowed), "list" (no
	// value of the first column may be in forbidden) or "values" (every
	// value of the first column must be own).
	kind      string
	allowed   int64
	foreign   int64 // the other tenant's rows there, counted directly
	forbidden map[string]bool
	own       string
	// table is the shared table a count probe reads (lower case): a role's
	// row filter on it may narrow the count below the tenant's own rows.
	table string
	// namesOnly: the list shows only the names of the other tenant's
	// objects (not its rows); a hit is reported, not failed.
	namesOnly bool
	// anyRow: any row at all is the other tenant's (statistics of a shared column).
	anyRow bool
}

// sharesServer reports whether o runs on the same server as the tenant.
func (r *tenantRun) sharesServer(o *TenantState) bool {
	s := r.chk.Servers[r.t.ID]
	return o.ID != r.t.ID && o.Engine == r.t.Engine && s != "" && r.chk.Servers[o.ID] == s
}

// crossReferences probes, under every role users hold on the tenant, the
// data of each other tenant on the same server.
func (r *tenantRun) crossReferences() {
	roles := r.heldRoles()
	for _, o := range r.all {
		if !r.sharesServer(o) {
			continue
		}
		name := "the data of " + o.ID
		if r.outOfTime(CheckCrossReference, name) {
			return
		}
		ocat, err := r.loadCatalog(o)
		if err != nil {
			r.add(Check{Kind: CheckCrossReference, Name: name, Other: o.ID, Reason: err.Error()})
			continue
		}
		probes, err := r.crossProbes(o, ocat)
		if err != nil {
			r.add(Check{Kind: CheckCrossReference, Name: name, Other: o.ID, Reason: err.Error()})
			continue
		}
		for _, role := range roles {
			b := r.binding(role)
			for _, p := range probes {
				if r.outOfTime(CheckCrossReference, p.name) {
					return
				}
				r.add(r.runCross(b, role, o, p))
			}
		}
	}
}

// crossProbes builds the statements naming o's data from the tenant.
func (r *tenantRun) crossProbes(o *TenantState, ocat *verifyCatalog) ([]crossProbe, error) {
	d := r.dialect()
	my := r.t.Engine == EngineMySQL
	sameDB := o.Scope.Database == r.t.Scope.Database
	var out []crossProbe
	// qualify names o's table as the tenant would have to.
	qualify := func(tb table) string {
		switch {
		case my && sameDB:
			return d.ident(tb.name)
		case my:
			return d.ident(o.Scope.Database) + "." + d.ident(tb.name)
		case sameDB:
			return d.qualified(tb)
		default:
			return d.ident(o.Scope.Database) + "." + d.qualified(tb)
		}
	}
	n := 0
	for _, tb := range ocat.tables {
		if n == maxProbeTables {
			break
		}
		if o.Scope.Isolation == policy.IsolationRow && !tb.hasTenantCol {
			continue // shared reference data: not the other tenant's rows
		}
		n++
		foreignWhere := ""
		if o.Scope.Isolation == policy.IsolationRow {
			foreignWhere = " WHERE " + d.ident(o.Scope.TenantColumn) + " = " + d.lit(o.Scope.TenantValue)
		}
		foreign, err := r.directCount(o, "SELECT count(*) FROM "+dialectOf(o).qualified(tb)+foreignWhere)
		if err != nil {
			return nil, fmt.Errorf("cannot count the rows of %s of tenant %q: %w", tb.display(), o.ID, err)
		}
		if !(sameDB && o.Scope.Isolation == policy.IsolationRow) {
			// Another database or schema: nothing of it may be read.
			out = append(out, crossProbe{name: fmt.Sprintf("%s of %s by its qualified name", tb.display(), o.ID),
				sql: "SELECT count(*) FROM " + qualify(tb), kind: "count", foreign: foreign})
			continue
		}
		// A shared table: only the tenant's own rows may come back.
		own, mine := int64(0), r.t.Scope.Isolation == policy.IsolationRow && tb.hasTenantCol
		ownWhere := ""
		if mine {
			ownWhere = " WHERE " + d.ident(r.t.Scope.TenantColumn) + " = " + d.lit(r.t.Scope.TenantValue)
		}
		own, err = r.directCount(r.t, "SELECT count(*) FROM "+d.qualified(tb)+ownWhere)
		if err != nil {
			return nil, fmt.Errorf("cannot count the rows of %s: %w", tb.display(), err)
		}
		col := d.ident(o.Scope.TenantColumn)
		other := d.lit(o.Scope.TenantValue)
		out = append(out,
			crossProbe{name: fmt.Sprintf("%s without a filter", tb.display()), sql: "SELECT count(*) FROM " + d.ident(tb.name),
				kind: "count", allowed: own, foreign: foreign, table: strings.ToLower(tb.name)},
			crossProbe{name: fmt.Sprintf("%s qualified", tb.display()), sql: "SELECT count(*) FROM " + qualifiedShared(d, my, o, tb),
				kind: "count", allowed: own, foreign: foreign, table: strings.ToLower(tb.name)},
			crossProbe{name: fmt.Sprintf("%s filtered on %s's value", tb.display(), o.ID),
				sql:  "SELECT count(*) FROM " + d.ident(tb.name) + " WHERE " + col + " = " + other,
				kind: "count", allowed: 0, foreign: foreign, table: strings.ToLower(tb.name)},
			crossProbe{name: fmt.Sprintf("%s with %s's value OR true", tb.display(), o.ID),
				sql:  "SELECT count(*) FROM " + d.ident(tb.name) + " WHERE " + col + " = " + other + " OR 1 = 1",
				kind: "count", allowed: own, foreign: foreign, table: strings.ToLower(tb.name)},
		)
		if mine {
			out = append(out, crossProbe{name: fmt.Sprintf("%s: every %s is %s's", tb.display(), r.t.Scope.TenantColumn, r.t.ID),
				sql: "SELECT DISTINCT " + col + " FROM " + d.ident(tb.name), kind: "values", own: r.t.Scope.TenantValue, foreign: foreign})
		}
	}
	// Catalog look-ups must not show o's data: its sessions and their
	// statements, its column statistics, its tables (MySQL).
	ownName := func(name string) map[string]bool { return map[string]bool{strings.ToLower(name): true} }
	switch {
	case my && !sameDB:
		out = append(out,
			crossProbe{name: "databases listed in information_schema.schemata", sql: "SELECT schema_name FROM information_schema.schemata", kind: "list", forbidden: ownName(o.Scope.Database)},
			crossProbe{name: "tables listed in information_schema.tables", sql: "SELECT table_schema FROM information_schema.tables", kind: "list", forbidden: ownName(o.Scope.Database)},
			crossProbe{name: "sessions in information_schema.processlist", sql: "SELECT db FROM information_schema.processlist", kind: "list", forbidden: ownName(o.Scope.Database)},
		)
	case my:
		out = append(out,
			// Any other session's statement may be the other tenant's.
			crossProbe{name: "sessions in information_schema.processlist", sql: "SELECT info FROM information_schema.processlist WHERE id <> CONNECTION_ID()", kind: "list", anyRow: true},
		)
	case !sameDB:
		out = append(out,
			crossProbe{name: "sessions in pg_stat_activity", sql: "SELECT datname FROM pg_catalog.pg_stat_activity", kind: "list", forbidden: ownName(o.Scope.Database)},
			// Postgres shows every database's name to every user: reported, not failed.
			crossProbe{name: "databases listed in pg_database", sql: "SELECT datname FROM pg_catalog.pg_database", kind: "list", forbidden: ownName(o.Scope.Database), namesOnly: true},
		)
	case o.Scope.Isolation == policy.IsolationSchema:
		out = append(out,
			crossProbe{name: "column statistics in pg_stats", sql: "SELECT schemaname FROM pg_catalog.pg_stats", kind: "list", forbidden: ownName(o.Scope.Schema)},
			crossProbe{name: "sessions in pg_stat_activity", sql: "SELECT query FROM pg_catalog.pg_stat_activity WHERE pid <> pg_backend_pid()", kind: "list", anyRow: true},
			// psql's \d reads pg_namespace: schema names are reported, not failed.
			crossProbe{name: "schemas listed in pg_namespace", sql: "SELECT nspname FROM pg_catalog.pg_namespace", kind: "list", forbidden: ownName(o.Scope.Schema), namesOnly: true},
		)
	default: // row tenants of one database
		out = append(out,
			crossProbe{name: "column statistics in pg_stats", sql: "SELECT most_common_vals::text FROM pg_catalog.pg_stats WHERE attname = " + d.lit(o.Scope.TenantColumn), kind: "list", anyRow: true},
		)
	}
	return out, nil
}

// qualifiedShared names a table of the shared database with its schema
// (Postgres) or database (MySQL).
func qualifiedShared(d verifyDialect, my bool, o *TenantState, tb table) string {
	if my {
		return d.ident(o.Scope.Database) + "." + d.ident(tb.name)
	}
	if tb.schema == "" {
		return d.ident("public") + "." + d.ident(tb.name)
	}
	return d.qualified(tb)
}

// runCross runs one probe and judges its answer.
func (r *tenantRun) runCross(b *Binding, role string, o *TenantState, p crossProbe) Check {
	c := Check{Kind: CheckCrossReference, Name: p.name, Other: o.ID, Role: role, Statement: p.sql}
	var first []any
	var bad int64
	res, err := r.probe(b, p.sql, func(_ []Column, row []any) {
		if len(row) == 0 {
			return
		}
		if first == nil {
			first = append([]any(nil), row...)
		}
		v := asText(row[0])
		switch p.kind {
		case "list":
			if p.anyRow || p.forbidden[strings.ToLower(v)] {
				bad++
			}
		case "values":
			if v != p.own {
				bad++
			}
		}
	})
	if err != nil {
		c.Reason = err.Error()
		return c
	}
	if res.refused != nil {
		c.Passed, c.Outcome, c.Reason = true, "refused", oneLine(res.refused.Error())
		return c
	}
	c.Records = res.rows
	switch p.kind {
	case "count":
		if res.rows != 1 || len(first) != 1 {
			c.Reason = fmt.Sprintf("expected one count, got %d rows", res.rows)
			return c
		}
		got := asInt(first[0])
		c.Records = got
		if got == p.allowed {
			c.Passed, c.Outcome = true, "filtered"
			c.Reason = fmt.Sprintf("%d rows, the tenant's own (the other tenant has %d there)", got, p.foreign)
			if p.foreign == 0 {
				c.Reason += "; inconclusive while the other tenant has no rows there"
			}
			return c
		}
		if p.table != "" && b.Role.RowFilters[p.table] != "" && got < p.allowed {
			// The role's own row filter narrows the table further; which
			// tenant's rows came back is what the values probe checks.
			c.Passed, c.Outcome = true, "filtered"
			c.Reason = fmt.Sprintf("%d rows, at most the tenant's own %d (the role's row filter on %s narrows them)", got, p.allowed, p.table)
			return c
		}
		c.Foreign = max(got-p.allowed, 0)
		c.Reason = fmt.Sprintf("returned a count of %d where the tenant's own rows are %d: the other tenant has %d rows there", got, p.allowed, p.foreign)
	case "list", "values":
		c.Foreign = bad
		if bad == 0 {
			c.Passed, c.Outcome = true, "filtered"
			c.Reason = fmt.Sprintf("%d rows, none of %s", res.rows, o.ID)
			return c
		}
		if p.namesOnly {
			c.Passed, c.Outcome, c.Foreign = true, "names_visible", 0
			c.Reason = fmt.Sprintf("%d of %d rows show the name of %s's %s (its name only, none of its rows)", bad, res.rows, o.ID,
				map[bool]string{true: "schema", false: "database"}[o.Scope.Isolation == policy.IsolationSchema])
			return c
		}
		if p.kind == "list" {
			c.Reason = fmt.Sprintf("%d of %d rows show %s's objects or data", bad, res.rows, o.ID)
		} else {
			c.Reason = fmt.Sprintf("%d of %d rows belong to another tenant than %s", bad, res.rows, r.t.ID)
		}
	}
	return c
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// definedRoles returns every role defined on the tenant, sorted: a role
// nobody holds today may be granted by the next reload.
func (r *tenantRun) definedRoles() []string {
	out := make([]string, 0, len(r.t.Roles))
	for name := range r.t.Roles {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// checkMasks probes every masked column of every role of the tenant: its
// clear values (read directly) must never come back.
func (r *tenantRun) checkMasks() {
	d := r.dialect()
	for _, role := range r.definedRoles() {
		rl := r.t.Roles[role]
		if rl == nil || len(rl.MaskedColumns) == 0 {
			continue
		}
		b := r.binding(role)
		for _, m := range rl.MaskedColumns {
			tname, col, ok := strings.Cut(m, ".")
			if !ok {
				continue
			}
			name := fmt.Sprintf("%s masked for %s", m, role)
			if r.outOfTime(CheckMask, name) {
				return
			}
			tb, found := r.cat.find(tname)
			if !found {
				r.add(Check{Kind: CheckMask, Name: name, Role: role, Passed: true, Outcome: "clean", Reason: "no such table: nothing to show in clear"})
				continue
			}
			// The probes and the direct read see the same rows: ordered
			// on another column of the table, the first 1000.
			cols, err := r.direct(r.t, d.columnsSQL(tb))
			if err != nil {
				r.add(Check{Kind: CheckMask, Name: name, Role: role, Reason: "cannot read the table's columns: " + err.Error()})
				continue
			}
			tail := " LIMIT 1000"
			for _, c := range cols {
				if k := asText(c[0]); !strings.EqualFold(k, col) {
					tail = " ORDER BY " + d.ident(k) + tail
					break
				}
			}
			where := ""
			if r.t.Scope.Isolation == policy.IsolationRow && tb.hasTenantCol {
				where = " WHERE " + d.ident(r.t.Scope.TenantColumn) + " = " + d.lit(r.t.Scope.TenantValue)
			}
			rows, err := r.direct(r.t, "SELECT "+d.ident(col)+" FROM "+d.qualified(tb)+where+tail)
			if err != nil {
				r.add(Check{Kind: CheckMask, Name: name, Role: role, Reason: "cannot read the clear values: " + err.Error()})
				continue
			}
			clear := map[string]bool{}
			for _, row := range rows {
				if v := asText(row[0]); v != "" {
					clear[v] = true
				}
			}
			for _, sql := range []string{
				"SELECT " + d.ident(col) + " FROM " + d.ident(tb.name) + tail,
				"SELECT * FROM " + d.ident(tb.name) + tail,
				"SELECT " + d.concat(col) + " AS v FROM " + d.ident(tb.name) + tail,
			} {
				r.add(r.runMask(b, role, name, col, sql, clear))
			}
			r.maskViews(b, role, name, tb, col)
		}
	}
}

// maskViews probes the views that read masked column col of tb: no
// value of the column may come back in clear through them either.
func (r *tenantRun) maskViews(b *Binding, role, name string, tb table, col string) {
	d := r.dialect()
	views, err := r.direct(r.t, d.viewsSQL(tb, col))
	if err != nil {
		r.add(Check{Kind: CheckMask, Name: name + " through views", Role: role, Reason: "cannot list the views reading it: " + err.Error()})
		return
	}
	if len(views) == 0 {
		return
	}
	where := ""
	if r.t.Scope.Isolation == policy.IsolationRow && tb.hasTenantCol {
		where = " WHERE " + d.ident(r.t.Scope.TenantColumn) + " = " + d.lit(r.t.Scope.TenantValue)
	}
	rows, err := r.direct(r.t, "SELECT DISTINCT "+d.ident(col)+" FROM "+d.qualified(tb)+where+" LIMIT 10000")
	if err != nil {
		r.add(Check{Kind: CheckMask, Name: name + " through views", Role: role, Reason: "cannot read the clear values: " + err.Error()})
		return
	}
	clear := map[string]bool{}
	for _, row := range rows {
		if v := asText(row[0]); v != "" {
			clear[v] = true
		}
	}
	for _, v := range views {
		vt := table{schema: asText(v[0]), name: asText(v[1])}
		if r.outOfTime(CheckMask, name) {
			return
		}
		sql := "SELECT * FROM " + d.qualified(vt) + " LIMIT 1000"
		c := Check{Kind: CheckMask, Name: fmt.Sprintf("%s through view %s", name, vt.display()), Role: role, Statement: sql}
		var inClear int64
		res, err := r.probe(b, sql, func(_ []Column, row []any) {
			for _, cell := range row {
				if clear[asText(cell)] {
					inClear++
				}
			}
		})
		switch {
		case err != nil:
			c.Reason = err.Error()
		case res.refused != nil:
			c.Passed, c.Outcome, c.Reason = true, "refused", oneLine(res.refused.Error())
		case inClear == 0:
			c.Records = res.rows
			c.Passed, c.Outcome = true, "masked"
			c.Reason = fmt.Sprintf("%d rows, no value of %s in clear", res.rows, col)
		default:
			c.Records, c.Foreign = res.rows, inClear
			c.Reason = fmt.Sprintf("view %s returns %d values of the masked column %s in clear", vt.display(), inClear, col)
		}
		r.add(c)
	}
}

// runMask runs one probe of masked column col: the column (found by name,
// else the first one) must never hold a clear value.
func (r *tenantRun) runMask(b *Binding, role, name, col, sql string, clear map[string]bool) Check {
	c := Check{Kind: CheckMask, Name: name, Role: role, Statement: sql}
	var inClear int64
	idx := -1
	res, err := r.probe(b, sql, func(cols []Column, row []any) {
		if idx < 0 {
			idx = 0
			for i, c := range cols {
				if strings.EqualFold(c.Name, col) {
					idx = i
				}
			}
		}
		if idx < len(row) && clear[asText(row[idx])] {
			inClear++
		}
	})
	if err != nil {
		c.Reason = err.Error()
		return c
	}
	if res.refused != nil {
		c.Passed, c.Outcome, c.Reason = true, "refused", oneLine(res.refused.Error())
		return c
	}
	c.Records, c.Foreign = res.rows, inClear
	if inClear == 0 {
		c.Passed, c.Outcome = true, "masked"
		c.Reason = fmt.Sprintf("%d rows, no value in clear (%d clear values known)", res.rows, len(clear))
		if len(clear) == 0 {
			c.Reason += "; inconclusive while the column holds no value"
		}
		return c
	}
	c.Reason = fmt.Sprintf("%d values came back in clear in %d rows", inClear, res.rows)
	return c
}

// checkCaps probes every capped role of the tenant: no statement returns more
// rows than the cap.
func (r *tenantRun) checkCaps() {
	d := r.dialect()
	for _, role := range r.definedRoles() {
		rl := r.t.Roles[role]
		if rl == nil || rl.MaxRows <= 0 {
			continue
		}
		b := r.binding(role)
		sqls := []string{d.series(rl.MaxRows + 10)}
		if len(r.cat.tables) > 0 {
			tb := r.cat.tables[0]
			sqls = append(sqls, "SELECT * FROM "+d.ident(tb.name),
				fmt.Sprintf("SELECT * FROM %s LIMIT %d", d.ident(tb.name), rl.MaxRows+10))
		}
		for _, sql := range sqls {
			name := fmt.Sprintf("max_rows %d of %s", rl.MaxRows, role)
			if r.outOfTime(CheckCap, name) {
				return
			}
			c := Check{Kind: CheckCap, Name: name, Role: role, Statement: sql}
			res, err := r.probe(b, sql, nil)
			switch {
			case err != nil:
				c.Reason = err.Error()
			case res.refused != nil:
				c.Passed, c.Outcome, c.Reason = true, "refused", oneLine(res.refused.Error())
			case res.rows <= int64(rl.MaxRows):
				c.Records = res.rows
				c.Passed, c.Outcome = true, "capped"
				c.Reason = fmt.Sprintf("%d rows, cap %d", res.rows, rl.MaxRows)
			default:
				c.Records = res.rows
				c.Reason = fmt.Sprintf("%d rows came back, the cap is %d", res.rows, rl.MaxRows)
			}
			r.add(c)
		}
	}
}
