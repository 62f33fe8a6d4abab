package test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNLLowConfidence: a question whose best reading is a guess (a value
// found in two columns: AC/DC is an artist and a composer) is declined with
// 422 and its confidence by default; allow_low_confidence: true returns the
// guess marked low_confidence; a cached guess is never served to a caller
// who did not allow it. A sure answer carries no mark.
func TestNLLowConfidence(t *testing.T) {
	shared := sharedDir()
	if shared == "" {
		t.Skip("../shared is absent")
	}
	ensureChinook(t, shared)
	a := startAPI(t, chinookYAML)
	for _, tenant := range []string{"chinook_pg", "chinook_my"} {
		tok := a.login(t, "eval", "eval-secret", tenant)
		const q = "List all tracks by AC/DC"
		r := a.ask(t, tok, q, "cache_enabled", false)
		if r.Status != 422 || r.ErrCode(t) != "unanswerable" {
			t.Fatalf("%s: default: HTTP %d %s", tenant, r.Status, r.Body)
		}
		e := r.JSON(t)["error"].(map[string]any)
		if c, _ := e["confidence"].(json.Number).Float64(); c <= 0 || c >= 0.8 || !strings.Contains(e["message"].(string), "allow_low_confidence") {
			t.Fatalf("%s: declined without its confidence: %s", tenant, r.Body)
		}
		g := a.ask(t, tok, q, "allow_low_confidence", true)
		m := g.JSON(t)
		if g.Status != 200 || m["low_confidence"] != true || len(m["rows"].([]any)) == 0 {
			t.Fatalf("%s: allowed: HTTP %d %s", tenant, g.Status, g.Body)
		}
		if c, _ := m["confidence"].(json.Number).Float64(); c >= 0.8 {
			t.Fatalf("%s: guess with confidence %v", tenant, c)
		}
		// The guess is cached now; a caller who did not allow guesses still
		// gets the refusal.
		if r := a.ask(t, tok, q); r.Status != 422 {
			t.Fatalf("%s: cached guess served: HTTP %d %s", tenant, r.Status, r.Body)
		}
		if r := a.ask(t, tok, q, "allow_low_confidence", true); r.JSON(t)["cached"] != true {
			t.Fatalf("%s: guess not cached for callers who allow it: %s", tenant, r.Body)
		}
		s := a.ask(t, tok, "How many customers are there?")
		if sm := s.JSON(t); s.Status != 200 || sm["low_confidence"] != nil || sm["confidence"].(json.Number).String() != "1" {
			t.Fatalf("%s: sure answer: HTTP %d %s", tenant, s.Status, s.Body)
		}
	}
}
