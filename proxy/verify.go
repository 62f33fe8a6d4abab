package proxy

// Isolation verification: per tenant and on demand, the proxy checks its own
// configuration (overlaps, tenant columns, unique keys, cross-database
// extensions) and its own enforcement (live probes through the policy
// engine and the tenant's pool: cross-references to every other tenant on
// the same server, masked columns, row caps), and reports what it ran, what
// passed, what failed and why.
//
// Probes only read: each is a single statement the policy classifies as a
// read, run under a stand-in user that holds the role being probed (no
// configured user's session or state is touched), and every tenant's checks
// share one time budget. A check the budget left no time for is reported
// failed, never passed.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// VerifyUser is the user name probes run as (it is not a configured user).
const VerifyUser = "tenantproxy-verify"

// Check kinds.
const (
	CheckOverlap        = "overlap"         // the tenant shares nothing with another one
	CheckBackend        = "backend"         // the backend answered
	CheckTenantTables   = "tenant_tables"   // row isolation: tables with and without the tenant column
	CheckOrphanRows     = "orphan_rows"     // rows whose tenant column is NULL or names no tenant
	CheckUniqueKeys     = "unique_keys"     // unique keys of tenant tables include the tenant column
	CheckExtensions     = "extensions"      // no installed way to reach other databases
	CheckViews          = "views"           // no view of the tenant reads another schema or database
	CheckCrossReference = "cross_reference" // a statement naming another tenant's data
	CheckMask           = "mask"            // a masked column never comes back in clear
	CheckCap            = "cap"             // a capped role never gets more rows than its cap
)

// Report is the outcome of one verification.
type Report struct {
	Time     time.Time      `json:"time"`
	Passed   bool           `json:"passed"`
	Failures int            `json:"failures"`
	Tenants  []TenantReport `json:"tenants"`
}

// TenantReport is one tenant's part of a report.
type TenantReport struct {
	Tenant    string `json:"tenant"`
	Engine    string `json:"engine"`
	Isolation string `json:"isolation"`
	Server    string `json:"server"`
	Database  string `json:"database"`
	Schema    string `json:"schema,omitempty"`
	// TenantValue and TenantColumn are set for row isolation.
	TenantColumn string `json:"tenant_column,omitempty"`
	TenantValue  string `json:"tenant_value,omitempty"`
	// TenantTables carry the tenant column; SharedTables do not (shared
	// reference data, listed for an operator to confirm). Row isolation.
	TenantTables []string `json:"tenant_tables,omitempty"`
	SharedTables []string `json:"shared_tables,omitempty"`
	ChecksRun    int      `json:"checks_run"`
	ChecksPassed int      `json:"checks_passed"`
	ChecksFailed int      `json:"checks_failed"`
	// RecordsRetrieved counts the rows the probes got back; ForeignRecords
	// those of them that belong to another tenant.
	RecordsRetrieved   int64   `json:"records_retrieved"`
	ForeignRecords     int64   `json:"foreign_records"`
	CrossContamination bool    `json:"cross_contamination"`
	DurationMS         float64 `json:"duration_ms"`
	Checks             []Check `json:"checks"`
}

// Check is one check of a tenant.
type Check struct {
	Kind string `json:"kind"`
	// Name says what was checked, e.g. "alpha.customers from beta".
	Name string `json:"name"`
	// Other is the other tenant a cross-reference or overlap concerns.
	Other string `json:"other,omitempty"`
	// Role is the role a probe ran under.
	Role string `json:"role,omitempty"`
	// Statement is the probe's SQL as sent to the policy.
	Statement string `json:"statement,omitempty"`
	Passed    bool   `json:"passed"`
	// Outcome is refused, filtered, masked, capped, clean or failed.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// Records is the number of rows the probe got back (for a count(*)
	// probe, the count); Foreign those that belong to another tenant (for a
	// mask: the values that came back in clear).
	Records int64 `json:"records"`
	Foreign int64 `json:"foreign,omitempty"`
}

// VerifyOptions narrow a verification.
type VerifyOptions struct {
	// Tenant limits the report to one tenant ("" for all).
	Tenant string
	// Budget bounds each tenant's checks (default 10s).
	Budget time.Duration
}

// DefaultVerifyBudget is each tenant's time budget when none is set.
const DefaultVerifyBudget = 10 * time.Second

// verifyParallel is how many tenants are checked at once.
const verifyParallel = 2

// Verify runs the isolation checks and returns the report. It fails only
// when opt.Tenant names no configured tenant.
func (s *Server) Verify(ctx context.Context, opt VerifyOptions) (*Report, error) {
	if opt.Budget <= 0 {
		opt.Budget = DefaultVerifyBudget
	}
	all := s.Tenants()
	var targets []*TenantState
	for _, t := range all {
		if opt.Tenant == "" || t.ID == opt.Tenant {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, sqlerr.New(sqlerr.UnknownTenant, "tenant %q does not exist", opt.Tenant)
	}
	cfgs := make([]*Tenant, len(all))
	for i, t := range all {
		cfgs[i] = t.Tenant
	}
	chk, _ := CheckIsolation(ctx, cfgs)
	rep := &Report{Time: time.Now().UTC(), Tenants: make([]TenantReport, len(targets))}
	sem := make(chan struct{}, verifyParallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rep.Tenants[i] = s.verifyTenant(ctx, t, all, chk, opt.Budget)
		}()
	}
	wg.Wait()
	rep.Passed = true
	for _, tr := range rep.Tenants {
		rep.Failures += tr.ChecksFailed
		if tr.ChecksFailed > 0 {
			rep.Passed = false
		}
	}
	return rep, nil
}

// tenantRun is one tenant's verification in progress.
type tenantRun struct {
	s      *Server
	t      *TenantState
	all    []*TenantState
	chk    *IsolationCheck
	ctx    context.Context
	budget time.Duration
	rep    *TenantReport
	cat    *verifyCatalog // the tenant's own tables (nil when unknown)
}

func (s *Server) verifyTenant(parent context.Context, t *TenantState, all []*TenantState, chk *IsolationCheck, budget time.Duration) TenantReport {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	rep := TenantReport{
		Tenant: t.ID, Engine: t.Engine, Isolation: string(t.Scope.Isolation), Server: chk.Servers[t.ID],
		Database: t.Scope.Database, Schema: t.Scope.Schema,
	}
	if t.Scope.Isolation == policy.IsolationRow {
		rep.TenantColumn, rep.TenantValue = t.Scope.TenantColumn, t.Scope.TenantValue
	}
	r := &tenantRun{s: s, t: t, all: all, chk: chk, ctx: ctx, budget: budget, rep: &rep}
	r.run()
	for _, c := range rep.Checks {
		rep.ChecksRun++
		if c.Passed {
			rep.ChecksPassed++
		} else {
			rep.ChecksFailed++
			if c.Kind == CheckOverlap || c.Kind == CheckCrossReference {
				rep.CrossContamination = true
			}
		}
		rep.RecordsRetrieved += c.Records
		if c.Kind != CheckMask {
			rep.ForeignRecords += c.Foreign
		}
	}
	if rep.Checks == nil {
		rep.Checks = []Check{}
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return rep
}

func (r *tenantRun) add(c Check) {
	if !c.Passed && c.Outcome == "" {
		c.Outcome = "failed"
	}
	if !c.Passed && r.ctx.Err() != nil && !strings.Contains(c.Reason, "time budget") {
		c.Reason += fmt.Sprintf(" (the time budget of %s was used up)", r.budget)
	}
	r.rep.Checks = append(r.rep.Checks, c)
}

// outOfTime records that a check could not run within the budget.
func (r *tenantRun) outOfTime(kind, name string) bool {
	if r.ctx.Err() == nil {
		return false
	}
	r.add(Check{Kind: kind, Name: name, Reason: fmt.Sprintf("not run: the time budget of %s was used up", r.budget)})
	return true
}

func (r *tenantRun) run() {
	t := r.t
	// Overlaps, from the backends' own identities.
	var mine []Overlap
	for _, o := range r.chk.Overlaps {
		if o.A == t.ID || o.B == t.ID {
			mine = append(mine, o)
		}
	}
	if len(mine) == 0 {
		c := Check{Kind: CheckOverlap, Name: "no other tenant shares what isolation gives " + t.ID, Passed: true, Outcome: "clean"}
		if p := r.chk.Pending[t.ID]; p != "" {
			c.Reason = "compared by address only: " + p
		}
		r.add(c)
	}
	for _, o := range mine {
		other := o.B
		if other == t.ID {
			other = o.A
		}
		r.add(Check{Kind: CheckOverlap, Name: o.Object, Other: other, Reason: o.String()})
	}
	if t.Engine == EngineMongo {
		r.runMongo()
		return
	}
	cat, err := r.loadCatalog(t)
	if err != nil {
		r.add(Check{Kind: CheckBackend, Name: "the backend answers catalog queries", Reason: err.Error()})
		return
	}
	r.cat = cat
	if t.Scope.Isolation == policy.IsolationRow {
		r.checkRowTables()
		r.checkOrphans()
		r.checkUniqueKeys()
	}
	r.checkExtensions()
	r.checkForeignViews()
	r.crossReferences()
	r.checkMasks()
	r.checkCaps()
}

// heldRoles returns the roles configured users hold on the tenant, sorted;
// without any, the built-in admin role (the widest) is probed.
func (r *tenantRun) heldRoles() []string {
	seen := map[string]bool{}
	for _, u := range r.s.reg.Load().users {
		if role, ok := u.Tenants[r.t.ID]; ok && r.t.Roles[role] != nil {
			seen[role] = true
		}
	}
	if len(seen) == 0 && r.t.Roles["admin"] != nil {
		seen["admin"] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// binding is a stand-in session of the verifier on t under role.
func (r *tenantRun) binding(role string) *Binding {
	rl := r.t.Roles[role]
	u := &User{Name: VerifyUser, Tenants: map[string]string{r.t.ID: role}}
	return &Binding{User: u, Tenant: r.t, Role: rl,
		Subject: policy.Subject{User: VerifyUser, Scope: &r.t.Scope, Role: rl, Version: r.s.reg.Load().version}}
}

// probeResult is what a probe got back.
type probeResult struct {
	refused error // the policy (or the backend) refused the statement
	rows    int64 // rows handed back
}

// probe checks sql under b's role and, when allowed, runs it on the
// tenant's pool as a client's statement would run: the rewrite, the masks;
// each row goes to onRow with the result's columns (nil: only counted). It refuses anything but one
// read statement. Probes are not counted in the tenant's error metrics (a
// refusal is the expected answer).
func (r *tenantRun) probe(b *Binding, sql string, onRow func(cols []Column, row []any)) (*probeResult, error) {
	dec, err := r.s.Check(b, b.Tenant.Dialect(), sql)
	if err != nil {
		return &probeResult{refused: err}, nil
	}
	if len(dec.Stmts) != 1 || dec.Stmts[0].Class != policy.ClassRead || dec.Stmts[0].Set != nil ||
		dec.Stmts[0].TenantSwitch != "" || dec.Stmts[0].Pins {
		return nil, fmt.Errorf("probe %q is not a single read statement", sql)
	}
	res := &probeResult{}
	info := &ResultInfo{SQL: dec.SQL}
	ru := &runner{role: b.Role, masked: dec.Masked, info: info, fn: func(row []any) error {
		res.rows++
		if onRow != nil {
			onRow(info.Columns, row)
		}
		return nil
	}}
	err = r.s.runDecision(r.ctx, b, dec, "", ru)
	if err != nil {
		if r.ctx.Err() != nil {
			return nil, fmt.Errorf("not finished: the time budget of %s was used up", r.budget)
		}
		if e := sqlerr.As(err); e != nil && (e.Kind == sqlerr.Unavailable || e.Kind == sqlerr.PoolTimeout) {
			return nil, err
		}
		// The backend refused it (permission, unknown relation, cross-database reference).
		return &probeResult{refused: err}, nil
	}
	return res, nil
}

// direct runs the proxy's own SQL on t's pool (no policy) and returns the rows.
func (r *tenantRun) direct(t *TenantState, sql string) ([][]any, error) {
	var rows [][]any
	_, err := r.s.SystemQuery(r.ctx, t, sql, func(row []any) error {
		rows = append(rows, slices.Clone(row))
		return nil
	})
	return rows, err
}

// directCount runs a SELECT count(*) of the proxy's own.
func (r *tenantRun) directCount(t *TenantState, sql string) (int64, error) {
	rows, err := r.direct(t, sql)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("count query returned %d rows", len(rows))
	}
	return asInt(rows[0][0]), nil
}

// asInt reads an integer result value (int64, json.Number or text).
func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case nil:
		return 0
	default:
		s := fmt.Sprint(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return int64(f)
		}
		return 0
	}
}

func asText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}
