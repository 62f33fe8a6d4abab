package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainGolden runs every golden case through the dry-run: it gives
// the outcome the golden file records for the real check (allowed or the
// same error, the same rewritten text, cap and masks), and a reason in words
// for each cap, mask, row filter and refusal.
func TestExplainGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	cfgs := goldenConfigs()
	total := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".golden")
		cfg, ok := cfgs[name]
		if !ok {
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		e := NewEngine(1000)
		for i, c := range parseGolden(t, string(raw)) {
			total++
			x := e.Explain(cfg.s, cfg.d, c.in)
			var got string
			if x.Err != nil {
				got = describe(nil, x.Err)
			} else {
				got = describe(x.Decision, nil)
			}
			if got != c.out {
				t.Errorf("%s #%d: dry-run disagrees with the check:\n%s\nwant:\n%s\ngot:\n%s", name, i, c.in, c.out, got)
				continue
			}
			reasons := strings.Join(x.Reasons, "\n")
			need := func(what, part string) {
				if !strings.Contains(reasons, part) {
					t.Errorf("%s #%d: %s: no reason mentions %q:\n%s\nreasons:\n%s", name, i, c.in, what, part, reasons)
				}
			}
			if x.Err != nil {
				if x.Allowed || x.SQL != "" {
					t.Errorf("%s #%d: refused yet allowed", name, i)
				}
				need("refusal", x.Err.Message)
				continue
			}
			if x.SQL != x.Decision.SQL || x.Class != x.Decision.Class().String() {
				t.Errorf("%s #%d: explanation and decision differ", name, i)
			}
			if x.Capped {
				need("cap", "LIMIT ")
			}
			for _, m := range x.Masked {
				need("mask", "column "+m+" is masked")
			}
			for _, tb := range x.Tables {
				if cfg.s.Role.RowFilters[tb] != "" {
					need("row filter", "row filter of role "+cfg.s.Role.Name+" on table "+tb)
				}
				if cfg.s.Scope.Isolation == IsolationRow && containsFold(cfg.s.Scope.TenantTables, tb) {
					need("row isolation", "table "+tb+" is limited to rows with tenant_id")
				}
			}
			if !x.Rewritten && len(x.Kinds) > 0 {
				need("unchanged", "unchanged")
			}
		}
	}
	if total < 100 {
		t.Fatalf("only %d golden cases", total)
	}
	t.Logf("%d golden cases agree", total)
}
