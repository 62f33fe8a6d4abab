package policy

import (
	"strings"
	"testing"
)

// TestMaskOutput: a Postgres statement that reads a table with masked
// columns needs the front end's origin lookup only when its result may
// carry one; every other use of a masked column is refused, so a result
// without one has nothing to mask. Texts of one template (the fast path)
// keep the answer.
func TestMaskOutput(t *testing.T) {
	viewer := &Role{Name: "maskviewer", Access: AccessRead, MaskedColumns: []string{"items.email"}}
	scope := &Scope{Tenant: "alpha", Isolation: IsolationDatabase, Database: "alpha_db"}
	s := Subject{User: "u", Scope: scope, Role: viewer, Version: 1}
	e := NewEngine(100)
	cases := []struct {
		sql     string
		refused bool
		out     bool
	}{
		{sql: "SELECT email FROM items", out: true},
		{sql: "SELECT id, email AS e FROM items", out: true},
		{sql: "SELECT * FROM items", out: true},
		{sql: "SELECT i.* FROM items i", out: true},
		{sql: "TABLE items", out: true},
		{sql: "SELECT x.email FROM (SELECT * FROM items) x", out: true},
		{sql: "WITH c AS (SELECT * FROM items) SELECT * FROM c", out: true},
		{sql: "SELECT id FROM items; SELECT email FROM items", out: true},
		{sql: `SELECT "EMAIL" FROM items`, out: true}, // another column, but the name folds to the masked one
		{sql: "SELECT id, name FROM items WHERE id = 1", out: false},
		{sql: "SELECT id, name FROM items WHERE id = 2", out: false},
		{sql: "SELECT email FROM items WHERE id = 1", out: true},
		{sql: "SELECT email FROM items WHERE id = 2", out: true},
		{sql: "SELECT count(*) FROM items", out: false},
		{sql: "SELECT name AS email FROM items", out: false},
		{sql: "SELECT x.id FROM (SELECT * FROM items) x", out: false},
		{sql: "WITH c AS (SELECT * FROM items) SELECT id FROM c", out: false},
		{sql: "SELECT id FROM items WHERE EXISTS (SELECT * FROM items)", out: false},
		// What could carry a masked value other than as a plain column.
		{sql: "SELECT upper(email) FROM items", refused: true},
		{sql: "SELECT (SELECT email FROM items LIMIT 1)", refused: true},
		{sql: "SELECT i FROM items i", refused: true},
		{sql: "SELECT row_to_json(i) FROM items i", refused: true},
		{sql: "SELECT id FROM items UNION SELECT email FROM items", refused: true},
		{sql: "SELECT x.e FROM (SELECT email AS e FROM items) x", refused: true},
		{sql: "SELECT x.b FROM (SELECT * FROM items) x(a, b)", refused: true},
		{sql: "WITH c (a, b) AS (SELECT * FROM items) SELECT b FROM c", refused: true},
		{sql: "SELECT DISTINCT email FROM items", refused: true},
		{sql: "SELECT id FROM items ORDER BY email", refused: true},
		{sql: "SELECT id FROM items WHERE email LIKE 'a%'", refused: true},
		// A LATERAL sub-select's star over an outer range carries the
		// masked columns: its alias is a masked range.
		{sql: "SELECT f FROM items i, LATERAL (SELECT i.*) f", refused: true},
		{sql: "SELECT f FROM items i JOIN LATERAL (SELECT i.*) f ON true", refused: true},
		{sql: "SELECT f FROM items i, LATERAL (SELECT * FROM (SELECT i.*) y) f", refused: true},
		{sql: "SELECT f FROM public.items, LATERAL (SELECT public.items.*) f", refused: true},
		{sql: "SELECT f.c FROM items i, LATERAL (SELECT i.*) f(a, b, c)", refused: true},
		{sql: "SELECT to_jsonb(f) FROM items i, LATERAL (SELECT i.*) f", refused: true},
		{sql: "SELECT f.* FROM items i, LATERAL (SELECT i.*) f", out: true},
		{sql: "SELECT f.email FROM items i, LATERAL (SELECT i.*) f", out: true},
		{sql: "SELECT f.id FROM items i, LATERAL (SELECT i.*) f", out: false},
		{sql: "SELECT id FROM items i WHERE EXISTS (SELECT i.*)", out: false},
		{sql: "SELECT f FROM items i, LATERAL (SELECT i.email) f", refused: true},
		{sql: "SELECT f FROM items i, LATERAL (VALUES (i.email)) f", refused: true},
		{sql: "SELECT f FROM items i, LATERAL ROWS FROM (upper(i.email)) f", refused: true},
		{sql: "SELECT w FROM (VALUES (1)) v, LATERAL (SELECT * FROM items) w", refused: true},
		{sql: "SELECT v FROM (VALUES (1)) v, LATERAL (SELECT * FROM items) w", out: false},
		// Whole rows of sub-selects, joins and CTEs reading the table.
		{sql: "SELECT j FROM (items i JOIN items k ON true) j", refused: true},
		{sql: "SELECT x FROM (SELECT * FROM items) x", refused: true},
		{sql: "SELECT email(x) FROM (SELECT * FROM items) x", refused: true},
		{sql: "WITH c AS (SELECT * FROM items) SELECT c FROM c", refused: true},
		// r.f, when f is no column of r, is the call f(r) on the whole row.
		{sql: "SELECT i.to_jsonb FROM items i", refused: true},
		{sql: "SELECT items.row_to_json FROM items", refused: true},
		{sql: "SELECT public.items.to_json FROM public.items", refused: true},
		{sql: "SELECT x.to_json FROM (SELECT * FROM items) x", refused: true},
		{sql: "SELECT id FROM items i WHERE i.to_jsonb IS NOT NULL", refused: true},
		{sql: "SELECT i.jsonb_agg FROM items i", refused: true},
		{sql: "SELECT i.Quote_Literal FROM items i", refused: true},
		{sql: "SELECT f.record_out FROM items i, LATERAL (SELECT i.*) f", refused: true},
		{sql: "SELECT i.name FROM items i", out: false},
		{sql: "SELECT public.items.id FROM public.items", out: false},
		{sql: "SELECT public.items.email FROM public.items", out: true},
		{sql: "SELECT public.items.* FROM public.items", out: true},
		{sql: "WITH c AS (SELECT * FROM items) SELECT c.to_json FROM c", refused: true},
		{sql: "SELECT j.to_json FROM (items i JOIN items k USING (id)) j", refused: true},
		{sql: "SELECT alpha_db.public.items.to_json FROM public.items", refused: true},
		{sql: "SELECT id FROM items i ORDER BY i.to_jsonb", refused: true},
		{sql: `SELECT "i"."to_jsonb" FROM items i`, refused: true},
		{sql: "SELECT I.TO_JSONB FROM items i", refused: true},
		{sql: "EXPLAIN ANALYZE SELECT i.to_jsonb FROM items i", refused: true},
		{sql: "WITH RECURSIVE r AS (SELECT * FROM items UNION ALL SELECT * FROM r) SELECT id FROM r", refused: true},
		{sql: "SELECT id FROM items i WINDOW w AS (ORDER BY email)", refused: true},
		{sql: "SELECT count(*) FILTER (WHERE email IS NULL) FROM items", refused: true},
		{sql: "SELECT CASE WHEN id > 0 THEN email END FROM items", refused: true},
		{sql: "SELECT COALESCE(email, '') FROM items", refused: true},
		{sql: "SELECT email::text FROM items", refused: true},
		{sql: "SELECT ARRAY[email] FROM items", refused: true},
		{sql: "SELECT DISTINCT ON (email) id FROM items", refused: true},
		{sql: "SELECT id FROM items GROUP BY ROLLUP (email)", refused: true},
		{sql: "SELECT string_agg(email, ',') FROM items", refused: true},
		{sql: "SELECT * FROM unnest(ARRAY(SELECT email FROM items))", refused: true},
		{sql: "VALUES ((SELECT email FROM items LIMIT 1))", refused: true},
		{sql: "SELECT id FROM items i NATURAL JOIN items k", refused: true},
		{sql: "SELECT id, ROW(i.id, i.email) FROM items i", refused: true},
		{sql: "SELECT x.id FROM (SELECT * FROM items) x ORDER BY x.email", refused: true},
		{sql: "SELECT id FROM items LIMIT (SELECT length(email) FROM items LIMIT 1)", refused: true},
		{sql: "SELECT table_to_xml('items', true, false, '')", refused: true},
		{sql: "SELECT query_to_xml('select email from items', true, false, '')", refused: true},
		// Identifier spellings and other statement kinds.
		{sql: `SELECT U&"\0065mail" FROM items`, out: true},
		{sql: "SELECT * FROM ROWS FROM (unnest(ARRAY[1])), items", out: true},
		{sql: "SELECT id FROM items GROUP BY GROUPING SETS ((id), (name))", out: false},
		{sql: "EXPLAIN ANALYZE VERBOSE SELECT id FROM items", out: false},
		{sql: "DECLARE c CURSOR FOR SELECT id FROM items", out: false},
		{sql: "PREPARE p AS SELECT id FROM items", out: false},
	}
	for _, c := range cases {
		dec, err := e.Check(s, Postgres, c.sql)
		if c.refused {
			if err == nil {
				t.Errorf("%q allowed (MaskOutput %v), want refused", c.sql, dec.MaskOutput)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q refused: %v", c.sql, err)
			continue
		}
		if len(dec.Masked) == 0 {
			t.Errorf("%q: no masks listed for a statement reading items", c.sql)
		}
		if dec.MaskOutput != c.out {
			t.Errorf("%q: MaskOutput %v, want %v", c.sql, dec.MaskOutput, c.out)
		}
	}
}

// TestMaskOutputOwnRowFunc: on a row tenant, r.f where f is a function of
// the database's own schemas may be f(r) over a row with masked columns.
func TestMaskOutputOwnRowFunc(t *testing.T) {
	viewer := &Role{Name: "maskviewer", Access: AccessRead, MaskedColumns: []string{"items.email"}}
	scope := &Scope{Tenant: "alpha", Isolation: IsolationRow, Database: "shared_db", TenantColumn: "tenant_id", TenantValue: "alpha", TenantTables: []string{"items"}}
	tables := &Tables{Gen: 1, Tenant: map[string]bool{"items": true}, Known: map[string]bool{"items": true}, Funcs: map[string]bool{"items_dump": true}}
	s := Subject{User: "u", Scope: scope, Role: viewer, Version: 1, Tables: tables}
	e := NewEngine(100)
	if _, err := e.Check(s, Postgres, "SELECT i.items_dump FROM items i"); err == nil || !strings.Contains(err.Error(), "whole row") {
		t.Fatalf("i.items_dump over a row with masked columns: %v, want refused", err)
	}
	dec, err := e.Check(s, Postgres, "SELECT i.name FROM items i")
	if err != nil {
		t.Fatalf("i.name refused: %v", err)
	}
	if dec.MaskOutput {
		t.Fatal("i.name: MaskOutput set")
	}
}
