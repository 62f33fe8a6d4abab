package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// openAPIDoc is the part of an OpenAPI 3 document the check reads.
type openAPIDoc struct {
	OpenAPI    string                               `json:"openapi"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

// responseSchema returns the schema of path/method/status/content type.
func (d *openAPIDoc) responseSchema(path, method string, status int, ctype string) (map[string]any, error) {
	op, ok := d.Paths[path][strings.ToLower(method)]
	if !ok {
		return nil, fmt.Errorf("%s %s is not documented", method, path)
	}
	resps, _ := op["responses"].(map[string]any)
	r, ok := resps[fmt.Sprint(status)].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s: status %d is not documented", method, path, status)
	}
	content, _ := r["content"].(map[string]any)
	c, ok := content[ctype].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s %d: content type %q is not documented", method, path, status, ctype)
	}
	return c["schema"].(map[string]any), nil
}

// loadOpenAPIFile reads the description the binary embeds.
func loadOpenAPIFile(t testing.TB) *openAPIDoc {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "admin", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &doc
}

// checkAnswer validates a JSON answer already decoded into m (as httpCall
// returns it) against the description of path/method/status.
func (d *openAPIDoc) checkAnswer(t testing.TB, path, method string, status int, m map[string]any) {
	t.Helper()
	schema, err := d.responseSchema(path, method, status, "application/json")
	if err != nil {
		t.Errorf("%v (body %v)", err, m)
		return
	}
	raw, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, b := range d.validate(method+" "+path+" "+fmt.Sprint(status), schema, v) {
		t.Error(b)
	}
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT`)

// validate checks v against schema (the subset of JSON Schema the
// description uses: $ref, type, nullable, enum, properties, required,
// items, format date-time) and returns what does not hold.
func (d *openAPIDoc) validate(at string, schema map[string]any, v any) []string {
	if ref, ok := schema["$ref"].(string); ok {
		s, ok := d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		if !ok {
			return []string{at + ": unknown $ref " + ref}
		}
		return d.validate(at, s, v)
	}
	if v == nil {
		if _, typed := schema["type"]; typed && schema["nullable"] != true {
			return []string{at + ": null, want " + fmt.Sprint(schema["type"])}
		}
		return nil
	}
	var bad []string
	switch schema["type"] {
	case nil:
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an object", at, v)}
		}
		req, _ := schema["required"].([]any)
		for _, k := range req {
			if _, ok := m[k.(string)]; !ok {
				bad = append(bad, at+": missing required "+k.(string))
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, val := range m {
			if ps, ok := props[k].(map[string]any); ok {
				bad = append(bad, d.validate(at+"."+k, ps, val)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want an array", at, v)}
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				bad = append(bad, d.validate(fmt.Sprintf("%s[%d]", at, i), items, e)...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: %T, want a string", at, v)}
		}
		if schema["format"] == "date-time" && !rfc3339.MatchString(s) {
			bad = append(bad, at+": not a date-time: "+s)
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return []string{fmt.Sprintf("%s: %v, want an integer", at, v)}
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return []string{fmt.Sprintf("%s: %T, want a number", at, v)}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: %T, want a boolean", at, v)}
		}
	default:
		return []string{fmt.Sprintf("%s: unknown type %v", at, schema["type"])}
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			bad = append(bad, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
		}
	}
	return bad
}

// TestAdminOpenAPI fetches GET /api/v1/openapi.json and checks real
// answers of every endpoint (successes and errors) against it.
func TestAdminOpenAPI(t *testing.T) {
	requirePostgres(t)
	requireMySQL(t)
	pgDB := tempPGDatabase(t, "openapi")
	pgExec(t, pgDB, "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, country text NOT NULL)",
		"INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', (ARRAY['Kenya','Japan'])[1 + g % 2] FROM generate_series(1, 30) g")
	myDB := tempMyDatabase(t, "openapi")
	myExec(t, myDB, "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, country VARCHAR(20) NOT NULL)",
		"INSERT INTO customers VALUES (1, 'a', 'Kenya'), (2, 'b', 'Japan')")
	a := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable",
     roles: {viewer: {max_rows: 5, masked_columns: [customers.email]}}}
  - {id: gamma, engine: mysql, dsn: "root@tcp(127.0.0.1:3306)/%s"}
users:
  - {name: alice, password: alice-pw, tenants: {alpha: admin, gamma: analyst}}
  - {name: vera, password: vera-pw, tenants: {alpha: viewer}}
  - {name: ops, password: ops-pw, tenants: {alpha: analyst}, operator: true}
`, pgDB, myDB))

	r := a.call(t, "GET", "/api/v1/openapi.json", "", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: HTTP %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) < 10 {
		t.Fatalf("not an OpenAPI 3 document: %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}

	// check validates one real answer against the description.
	checked := map[string]bool{}
	check := func(path, method string, r apiResp) {
		t.Helper()
		ctype, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		schema, err := doc.responseSchema(path, method, r.Status, ctype)
		if err != nil {
			t.Errorf("%v (body %.300s)", err, r.Body)
			return
		}
		checked[strings.ToLower(method)+" "+path] = true
		if ctype != "application/json" {
			return
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s %s: body is not JSON: %v", method, path, err)
			return
		}
		for _, b := range doc.validate(method+" "+path+" "+fmt.Sprint(r.Status), schema, v) {
			t.Error(b)
		}
	}
	login := func(user, pw, tenant string) (apiResp, string) {
		r := a.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw, "tenant_id": tenant})
		check("/api/v1/auth/login", "POST", r)
		tok, _ := r.JSON(t)["access_token"].(string)
		return r, tok
	}
	_, tok := login("alice", "alice-pw", "alpha")
	_, vtok := login("vera", "vera-pw", "alpha")
	if r, _ := login("alice", "nope", "alpha"); r.Status != http.StatusUnauthorized {
		t.Errorf("wrong password: HTTP %d", r.Status)
	}
	if r, _ := login("alice", "alice-pw", ""); r.Status != http.StatusBadRequest {
		t.Errorf("no tenant for a user of several: HTTP %d", r.Status)
	}
	call := func(method, path, token string, body any) apiResp {
		t.Helper()
		r := a.call(t, method, path, token, body)
		check(strings.SplitN(path, "?", 2)[0], method, r)
		return r
	}
	call("GET", "/api/v1/tenant/current", tok, nil)
	call("GET", "/api/v1/tenant/current", "", nil)
	call("GET", "/api/v1/tenant/accessible", tok, nil)
	q := call("POST", "/api/v1/tenant/query", tok, map[string]any{"query": "how many customers per country", "include_analysis": true})
	call("POST", "/api/v1/tenant/query", vtok, map[string]any{"sql": "SELECT id, email FROM customers ORDER BY id", "include_analysis": true})
	call("POST", "/api/v1/tenant/query", vtok, map[string]any{"sql": "DELETE FROM customers"})
	call("POST", "/api/v1/tenant/query", tok, map[string]any{"query": "how many unicorns fly"})
	call("POST", "/api/v1/tenant/query", tok, map[string]any{"sql": "SELECT * FROM no_such_table"})
	call("POST", "/api/v1/tenant/query", tok, map[string]any{"bogus": 1})
	if id, ok := q.JSON(t)["query_id"].(string); ok {
		// The stored result is read back under the templated path.
		r := a.call(t, "GET", "/api/v1/tenant/query/"+id, tok, nil)
		check("/api/v1/tenant/query/{id}", "GET", r)
		r = a.call(t, "GET", "/api/v1/tenant/query/nosuchid", tok, nil)
		check("/api/v1/tenant/query/{id}", "GET", r)
	}
	call("POST", "/api/v1/tenant/query/export?format=json", tok, map[string]any{"sql": "SELECT id, name FROM customers ORDER BY id"})
	if r := call("POST", "/api/v1/tenant/query/export?format=csv", tok, map[string]any{"sql": "SELECT id, name FROM customers ORDER BY id"}); !strings.HasPrefix(string(r.Body), "id,name\n1,customer 1\n") {
		t.Errorf("csv export: %.100q", r.Body)
	}
	call("GET", "/api/v1/tenant/schema", tok, nil)
	call("POST", "/api/v1/tenant/schema/refresh", tok, nil)
	call("GET", "/api/v1/tenant/health", tok, nil)
	call("GET", "/api/v1/tenant/metrics", tok, nil)
	call("GET", "/api/v1/tenant/system/status", tok, nil)
	call("POST", "/api/v1/admin/reload", tok, nil)
	sw := call("POST", "/api/v1/tenant/switch", tok, map[string]any{"tenant_id": "gamma"})
	gtok, _ := sw.JSON(t)["access_token"].(string)
	call("POST", "/api/v1/tenant/query", gtok, map[string]any{"sql": "SELECT country, COUNT(*) AS n FROM customers GROUP BY country ORDER BY country"})
	call("POST", "/api/v1/tenant/query", gtok, map[string]any{"sql": "SELECT * FROM no_such_table"})
	call("GET", "/api/v1/tenant/schema", gtok, nil)
	call("POST", "/api/v1/tenant/switch", vtok, map[string]any{"tenant_id": "gamma"})
	call("GET", "/api/v1/openapi.json", "", nil)
	call("GET", "/healthz", "", nil)

	// Statement digests, the policy's dry run, and the operators' endpoints.
	_, otok := login("ops", "ops-pw", "alpha")
	if r := call("GET", "/api/v1/tenant/statements?sort=calls&limit=5", tok, nil); r.Status != http.StatusOK || len(r.JSON(t)["statements"].([]any)) == 0 {
		t.Errorf("tenant statements: HTTP %d %.300s", r.Status, r.Body)
	}
	if r := call("GET", "/api/v1/tenant/statements?sort=bogus", tok, nil); r.Status != http.StatusBadRequest {
		t.Errorf("statements with a bad sort: HTTP %d", r.Status)
	}
	if r := call("POST", "/api/v1/tenant/statements/reset", vtok, nil); r.Status != http.StatusForbidden {
		t.Errorf("a viewer resets digests: HTTP %d", r.Status)
	}
	call("POST", "/api/v1/tenant/statements/reset", tok, nil)
	call("GET", "/api/v1/admin/statements", otok, nil)
	if r := call("GET", "/api/v1/admin/statements", tok, nil); r.Status != http.StatusForbidden {
		t.Errorf("a tenant admin reads every tenant's digests: HTTP %d", r.Status)
	}
	call("POST", "/api/v1/admin/statements/reset?tenant=alpha", otok, nil)
	if r := call("POST", "/api/v1/tenant/policy/explain", vtok, map[string]any{"sql": "SELECT id, email FROM customers"}); r.JSON(t)["allowed"] != true || r.JSON(t)["capped"] != true {
		t.Errorf("explain of a viewer's select: %.300s", r.Body)
	}
	if r := call("POST", "/api/v1/tenant/policy/explain", vtok, map[string]any{"sql": "DELETE FROM customers"}); r.JSON(t)["allowed"] != false {
		t.Errorf("explain of a viewer's delete: %.300s", r.Body)
	}
	call("POST", "/api/v1/tenant/policy/explain", tok, map[string]any{"sql": "SELECT 1", "user": "vera"})
	call("POST", "/api/v1/tenant/policy/explain", tok, map[string]any{"sql": " "})
	call("POST", "/api/v1/tenant/policy/explain", tok, map[string]any{"sql": "SELECT 1", "role": "nosuchrole"})
	call("GET", "/api/v1/admin/status", otok, nil)
	call("GET", "/api/v1/admin/status", tok, nil)
	call("GET", "/api/v1/admin/fleet", otok, nil)
	if r := call("GET", "/api/v1/admin/isolation?tenant=alpha", otok, nil); r.Status != http.StatusOK || r.JSON(t)["passed"] != true {
		t.Errorf("isolation of alpha: HTTP %d %.300s", r.Status, r.Body)
	}
	if r := call("GET", "/api/v1/admin/isolation?tenant=nosuch", otok, nil); r.Status != http.StatusNotFound {
		t.Errorf("isolation of an unknown tenant: HTTP %d", r.Status)
	}
	if r := call("GET", "/api/v1/admin/tenants", otok, nil); r.Status != http.StatusOK || len(r.JSON(t)["tenants"].([]any)) != 2 {
		t.Errorf("tenant list: HTTP %d %.300s", r.Status, r.Body)
	}
	// Without provisioning configured (TestProvisionTenantEndToEnd checks
	// the answers of a configured one against this description too).
	call("POST", "/api/v1/admin/tenants", otok, map[string]any{"id": "x", "engine": "postgres", "template": pgDB})
	check("/api/v1/admin/tenants/{id}", "PATCH", a.call(t, "PATCH", "/api/v1/admin/tenants/x", otok, map[string]any{"pool": map[string]any{"size": 2}}))
	check("/api/v1/admin/tenants/{id}", "DELETE", a.call(t, "DELETE", "/api/v1/admin/tenants/x", otok, nil))

	// Every documented endpoint was exercised, and exists: a wrong method
	// is refused (405), not unknown (404).
	var missing []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if !checked[m+" "+path] && path != "/metrics" {
				missing = append(missing, m+" "+path)
			}
		}
		if strings.HasPrefix(path, "/api/v1/tenant/") || path == "/api/v1/auth/login" || path == "/api/v1/admin/reload" ||
			path == "/api/v1/admin/status" || path == "/api/v1/admin/statements" {
			p := strings.ReplaceAll(path, "{id}", "x")
			if r := a.call(t, "DELETE", p, tok, nil); r.Status != http.StatusMethodNotAllowed {
				t.Errorf("DELETE %s: HTTP %d, want 405 (is the endpoint real?)", p, r.Status)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented but not checked against a real answer: %v", missing)
	}
}
