package proxy

// The static checks of isolation verification: what the catalog of a
// tenant's database says (tenant tables and shared ones, rows of no tenant,
// unique keys, extensions and views that reach outside the tenant).

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tenantproxy/tenantproxy/policy"
)

// checkRowTables lists the tables with and without the tenant column.
func (r *tenantRun) checkRowTables() {
	for _, tb := range r.cat.tables {
		if tb.hasTenantCol {
			r.rep.TenantTables = append(r.rep.TenantTables, tb.display())
		} else {
			r.rep.SharedTables = append(r.rep.SharedTables, tb.display())
		}
	}
	c := Check{Kind: CheckTenantTables, Name: "tables carrying " + r.t.Scope.TenantColumn, Passed: true, Outcome: "clean",
		Reason: fmt.Sprintf("%d tables carry %s; %d do not (shared data: %s)", len(r.rep.TenantTables), r.t.Scope.TenantColumn,
			len(r.rep.SharedTables), strings.Join(orNone(r.rep.SharedTables), ", "))}
	if len(r.rep.TenantTables) == 0 {
		c.Passed, c.Outcome = false, "failed"
		c.Reason = fmt.Sprintf("no table of database %q carries the tenant column %q: nothing is filtered", r.t.Scope.Database, r.t.Scope.TenantColumn)
	}
	r.add(c)
}

func orNone(l []string) []string {
	if len(l) == 0 {
		return []string{"none"}
	}
	return l
}

// rowPeers returns the row tenants sharing t's server, database and tenant
// column (t included).
func (r *tenantRun) rowPeers() []*TenantState {
	var out []*TenantState
	for _, o := range r.all {
		if o.Engine == r.t.Engine && o.Scope.Isolation == policy.IsolationRow && o.Scope.Database == r.t.Scope.Database &&
			o.Scope.TenantColumn == r.t.Scope.TenantColumn && r.chk.Servers[o.ID] == r.chk.Servers[r.t.ID] {
			out = append(out, o)
		}
	}
	return out
}

// checkOrphans counts rows whose tenant column is NULL or names no
// configured tenant of the shared database.
func (r *tenantRun) checkOrphans() {
	var values []string
	for _, p := range r.rowPeers() {
		values = append(values, p.Scope.TenantValue)
	}
	sort.Strings(values)
	d := r.dialect()
	for _, tb := range r.cat.tables {
		if !tb.hasTenantCol {
			continue
		}
		name := "rows of " + tb.display() + " belong to a configured tenant"
		if r.outOfTime(CheckOrphanRows, name) {
			return
		}
		rows, err := r.direct(r.t, d.orphanSQL(tb, r.t.Scope.TenantColumn, values))
		if err != nil {
			r.add(Check{Kind: CheckOrphanRows, Name: name, Reason: err.Error()})
			continue
		}
		var nulls, unknown int64
		if len(rows) == 1 && len(rows[0]) == 2 {
			nulls, unknown = asInt(rows[0][0]), asInt(rows[0][1])
		}
		c := Check{Kind: CheckOrphanRows, Name: name, Passed: nulls == 0 && unknown == 0, Outcome: "clean"}
		if !c.Passed {
			c.Outcome = "failed"
			c.Reason = fmt.Sprintf("%s has %d rows with %s NULL and %d whose %s names no configured tenant (known: %s): no tenant sees them, and a tenant added with such a value would",
				tb.display(), nulls, r.t.Scope.TenantColumn, unknown, r.t.Scope.TenantColumn, strings.Join(values, ", "))
		}
		r.add(c)
	}
}

// checkUniqueKeys finds unique keys of tenant tables without the tenant
// column: inserting a key another tenant holds fails, which tells that
// the other tenant's row exists.
func (r *tenantRun) checkUniqueKeys() {
	if r.outOfTime(CheckUniqueKeys, "unique keys include "+r.t.Scope.TenantColumn) {
		return
	}
	rows, err := r.direct(r.t, r.dialect().keysSQL(r.t.Scope.TenantColumn, r.cat.schema))
	if err != nil {
		r.add(Check{Kind: CheckUniqueKeys, Name: "unique keys include " + r.t.Scope.TenantColumn, Reason: err.Error()})
		return
	}
	if len(rows) == 0 {
		r.add(Check{Kind: CheckUniqueKeys, Name: "unique keys include " + r.t.Scope.TenantColumn, Passed: true, Outcome: "clean"})
		return
	}
	for _, row := range rows {
		tb := table{schema: asText(row[0]), name: asText(row[1])}
		r.add(Check{Kind: CheckUniqueKeys, Name: fmt.Sprintf("unique key %s of %s", asText(row[2]), tb.display()),
			Reason: fmt.Sprintf("unique key %s of %s does not include %s: a tenant inserting a key another tenant holds gets a unique violation, which tells that the other tenant's row exists",
				asText(row[2]), tb.display(), r.t.Scope.TenantColumn)})
	}
}

// checkExtensions looks for installed extensions (Postgres) or storage
// engines (MySQL) through which the backend user reaches other databases.
func (r *tenantRun) checkExtensions() {
	name := "no extension reaches other databases"
	if r.outOfTime(CheckExtensions, name) {
		return
	}
	rows, err := r.direct(r.t, r.dialect().extensionsSQL())
	if err != nil {
		r.add(Check{Kind: CheckExtensions, Name: name, Reason: err.Error()})
		return
	}
	var bad []string
	for _, row := range rows {
		if usable, _ := row[1].(bool); usable || asText(row[1]) == "1" || asText(row[1]) == "t" {
			bad = append(bad, asText(row[0]))
		}
	}
	c := Check{Kind: CheckExtensions, Name: name, Passed: len(bad) == 0, Outcome: "clean"}
	if len(bad) > 0 {
		c.Outcome = "failed"
		c.Reason = fmt.Sprintf("%s installed in database %q and usable by the backend user: it can reach other databases (and other tenants' data) through it",
			strings.Join(bad, ", "), r.t.Scope.Database)
	}
	r.add(c)
}

// mysqlQualifiers find the database qualifiers of a MariaDB view
// definition, which names columns `db`.`table`.`column` and tables
// `db`.`table` after FROM and JOIN.
var mysqlQualifiers = []*regexp.Regexp{
	regexp.MustCompile("`((?:[^`]|``)+)`\\.`(?:[^`]|``)+`\\.`"),
	regexp.MustCompile("(?i)(?:from|join)[\\s(]+`((?:[^`]|``)+)`\\.`"),
}

// checkForeignViews finds views of the tenant that read another schema
// (Postgres schema isolation) or another database (MySQL): whoever reads
// them reads that data with the view owner's rights, past the policy.
func (r *tenantRun) checkForeignViews() {
	name := "no view reads outside the tenant"
	q := r.dialect().foreignViewsSQL(&r.t.Scope)
	if q == "" {
		return
	}
	if r.outOfTime(CheckViews, name) {
		return
	}
	rows, err := r.direct(r.t, q)
	if err != nil {
		r.add(Check{Kind: CheckViews, Name: name, Reason: err.Error()})
		return
	}
	var bad []string
	for _, row := range rows {
		view, ref := asText(row[0]), asText(row[1])
		if r.t.Engine != EngineMySQL {
			bad = append(bad, fmt.Sprintf("%s reads %s", view, ref))
			continue
		}
		seen := map[string]bool{}
		for _, re := range mysqlQualifiers {
			for _, m := range re.FindAllStringSubmatch(ref, -1) {
				db := strings.ReplaceAll(m[1], "``", "`")
				if db != r.t.Scope.Database && !strings.EqualFold(db, "information_schema") && !seen[db] {
					seen[db] = true
					bad = append(bad, fmt.Sprintf("%s reads database %s", view, db))
				}
			}
		}
	}
	c := Check{Kind: CheckViews, Name: name, Passed: len(bad) == 0, Outcome: "clean"}
	if len(bad) > 0 {
		c.Outcome = "failed"
		c.Reason = "views read data outside the tenant with their owner's rights: " + strings.Join(bad, "; ")
	}
	r.add(c)
}
