package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestOpsResultCacheKeysOnUser: with a {{user}} row filter, a second user
// asking the same SQL or question gets its own rows, never the first
// user's cached answer, and cannot read the first user's stored result; a
// reload that changes the role's definition retires cached answers.
func TestOpsResultCacheKeysOnUser(t *testing.T) {
	requirePostgres(t)
	db := tempPGDatabase(t, "opscache")
	pgExec(t, db, "CREATE TABLE tickets (id int PRIMARY KEY, assignee text, title text)",
		"INSERT INTO tickets VALUES (1, 'ann', 'ann-private-1'), (2, 'ben', 'ben-private-2'), (3, 'ann', 'ann-private-3')")
	yaml := func(mask string) string {
		return fmt.Sprintf(`
tenants:
  - id: desk
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      support: {access: read, max_rows: 100, row_filters: {tickets: "assignee = {{user}}"}%s}
users:
  - {name: ann, password: ann-pw, tenants: {desk: support}}
  - {name: ben, password: ben-pw, tenants: {desk: support}}
`, db, mask)
	}
	a := startAPI(t, yaml(""))
	ann := a.login(t, "ann", "ann-pw", "desk")
	ben := a.login(t, "ben", "ben-pw", "desk")
	const q = "SELECT id, title FROM tickets ORDER BY id"
	sqlBody := map[string]any{"sql": q}

	r := a.call(t, "POST", "/api/v1/tenant/query", ann, sqlBody)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "ann-private-1") || strings.Contains(string(r.Body), "ben-private") {
		t.Fatalf("ann: HTTP %d %s", r.Status, r.Body)
	}
	annID := r.JSON(t)["query_id"].(string)
	// ann again: served from the cache (the cache works at all).
	if m := a.call(t, "POST", "/api/v1/tenant/query", ann, sqlBody).JSON(t); m["cached"] != true {
		t.Fatalf("ann's second ask not cached: %v", m)
	}
	r = a.call(t, "POST", "/api/v1/tenant/query", ben, sqlBody)
	m := r.JSON(t)
	if r.Status != http.StatusOK || m["cached"] == true || strings.Contains(string(r.Body), "ann-private") || !strings.Contains(string(r.Body), "ben-private-2") {
		t.Fatalf("ben got: HTTP %d %s", r.Status, r.Body)
	}
	// ann's stored result is not ben's to read.
	if r := a.call(t, "GET", "/api/v1/tenant/query/"+annID, ben, nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "ann-private") {
		t.Fatalf("ben reading ann's stored result: HTTP %d %s", r.Status, r.Body)
	}
	if r := a.call(t, "GET", "/api/v1/tenant/query/"+annID, ann, nil); r.Status != http.StatusOK {
		t.Fatalf("ann reading her stored result: HTTP %d %s", r.Status, r.Body)
	}

	// A question: the same holds for the translator's answers.
	qa := a.ask(t, ann, "show tickets")
	if qa.Status == http.StatusOK {
		qb := a.ask(t, ben, "show tickets")
		if qb.JSON(t)["cached"] == true || strings.Contains(string(qb.Body), "ann-private") {
			t.Fatalf("ben's question answered with ann's rows: %s", qb.Body)
		}
	}

	// The role now masks the title: ann's cached answer is not served.
	reloadYAML(t, a.Proxy, yaml(", masked_columns: [tickets.title]"))
	ann = a.login(t, "ann", "ann-pw", "desk")
	r = a.call(t, "POST", "/api/v1/tenant/query", ann, sqlBody)
	if m := r.JSON(t); m["cached"] == true || strings.Contains(string(r.Body), "ann-private") {
		t.Fatalf("after the role masked the title: %s", r.Body)
	}
	// And her old stored result, made under the old role, is gone for her.
	if r := a.call(t, "GET", "/api/v1/tenant/query/"+annID, ann, nil); r.Status != http.StatusNotFound {
		t.Fatalf("stored result made under the old role: HTTP %d %s", r.Status, r.Body)
	}
}
