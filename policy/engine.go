package policy

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Engine checks and rewrites statements. It is safe for concurrent use; build
// one in cmd and share it.
type Engine struct {
	cache *cache
	// preds holds parsed row-filter predicates by dialect and text.
	preds sync.Map // predKey -> *predTemplate
}

// NewEngine returns an engine whose rewrite cache holds about cacheEntries
// decisions (sharded clock eviction). cacheEntries <= 0 disables the cache.
func NewEngine(cacheEntries int) *Engine {
	return &Engine{cache: newCache(cacheEntries)}
}

// Check analyses sql (one or more statements) in dialect d for subject s and
// returns the decision, or an *sqlerr.Error saying which statement was
// refused and why. The returned Decision is the caller's to keep; its slices
// are shared with the cache and must not be modified.
//
// Repeated texts are answered from the cache. A text that differs from an
// earlier one only in plain numeric or '...' string literals is answered from
// the template cache when the earlier text was allowed unchanged and its
// analysis read no literal value (see fastpath.go).
func (e *Engine) Check(s Subject, d Dialect, sql string) (dec *Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			dec = nil
			err = sqlerr.Wrap(sqlerr.Internal, fmt.Errorf("policy: panic: %v\n%s", r, debug.Stack()),
				"internal error while checking the statement")
		}
	}()
	if s.Scope == nil || s.Role == nil {
		return nil, sqlerr.New(sqlerr.Internal, "policy: subject without scope or role")
	}
	if d != Postgres && d != MySQL && d != SQLite {
		return nil, sqlerr.New(sqlerr.Internal, "policy: unknown dialect %d", d)
	}
	if err := s.hazard(); err != nil {
		return nil, err
	}
	k := e.key(s, d, sql)
	if res, ok := e.cache.get(k); ok {
		return res.result(sql)
	}
	tk, lits, tmplOK := templateKey(d, sql, k)
	tmplOK = tmplOK && d != SQLite // its text is always the policy's rendering
	if tmplOK {
		if res, ok := e.cache.get(tk); ok {
			if res.out != nil {
				// A rewritten template: the literals go into its holes.
				dec := *res.dec
				dec.SQL = res.out.fill(lits)
				return &dec, nil
			}
			// The template's decision is "allowed, unchanged": the output is
			// the input text itself.
			return res.result(sql)
		}
	}
	res, tmplSafe := e.check(s, d, sql)
	if res.dec != nil {
		res.dec.Digest, _ = Fingerprint(d, sql)
	}
	e.cache.put(k, res)
	if tmplOK && tmplSafe && res.err == nil {
		switch {
		case res.dec.templateSafe():
			e.cache.put(tk, res)
		case res.dec.Rewritten && res.dec.rewriteTemplatable():
			if tr := e.rewrittenTemplate(s, d, tk.sql, lits, res.dec); tr != nil {
				tr.dec.Digest = res.dec.Digest
				e.cache.put(tk, tr)
			}
		}
	}
	return res.result(sql)
}

func (e *Engine) check(s Subject, d Dialect, sql string) (*result, bool) {
	switch d {
	case Postgres:
		return e.checkPG(s, sql)
	case SQLite:
		return e.checkSQLite(s, sql)
	}
	return e.checkMySQL(s, sql)
}

// rewrittenTemplate builds the template entry of a rewritten statement, or
// nil when its output cannot be mapped back to its literals with certainty.
func (e *Engine) rewrittenTemplate(s Subject, d Dialect, tmpl string, lits []string, dec *Decision) *result {
	text, sent := withSentinels(tmpl, lits)
	sres, safe := e.check(s, d, text)
	if !safe || sres.err != nil || !sameShape(sres.dec, dec) {
		return nil
	}
	out, ok := buildOutTemplate(sres.dec.SQL, sent)
	if !ok || out.fill(lits) != dec.SQL {
		return nil
	}
	return &result{dec: sres.dec, out: out}
}

// rewriteTemplatable reports whether a rewritten decision may be reused for
// texts that differ only in literals (given the analysis read none).
func (d *Decision) rewriteTemplatable() bool {
	for _, st := range d.Stmts {
		if st.Set != nil || st.TenantSwitch != "" || st.ShowVar != "" || st.Pins || st.Kind == "KILL" {
			return false
		}
		switch st.Class {
		case ClassRead, ClassWrite:
		default:
			return false
		}
	}
	return len(d.Stmts) > 0
}

// key builds the exact-text cache key. The user is part of it only when the
// role's row filters mention {{user}}.
func (e *Engine) key(s Subject, d Dialect, sql string) cacheKey {
	k := cacheKey{dialect: d, tenant: s.Scope.Tenant, role: s.Role.Name, version: s.Version, sql: sql}
	if roleUsesUser(s.Role) {
		k.user = s.User
	}
	if s.Tables != nil {
		k.tables = s.Tables.Gen
	}
	return k
}

func roleUsesUser(r *Role) bool {
	for _, p := range r.RowFilters {
		if strings.Contains(p, "{{user}}") {
			return true
		}
	}
	return false
}

// result is what the cache stores: a decision or a refusal.
type result struct {
	dec *Decision
	err *sqlerr.Error
	out *outTemplate // rewritten template entries: where the literals go
}

// result returns a copy of the stored outcome for text sql.
func (r *result) result(sql string) (*Decision, error) {
	if r.err != nil {
		cp := *r.err
		return nil, &cp
	}
	d := *r.dec
	if !d.Rewritten && !d.rendered {
		d.SQL = sql
	}
	return &d, nil
}

// templateSafe reports whether the decision leaves the text unchanged and
// carries nothing that depends on literal values, so that it may be reused for
// texts that differ only in literals.
func (d *Decision) templateSafe() bool {
	if d.Rewritten || d.Capped || len(d.Stmts) == 0 {
		return false
	}
	for _, st := range d.Stmts {
		if st.Set != nil || st.TenantSwitch != "" || st.ShowVar != "" || st.Pins || st.Kind == "KILL" {
			return false
		}
		switch st.Class {
		case ClassRead, ClassWrite:
		default:
			return false
		}
	}
	return true
}
