package test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMongoAdversarial attacks the isolation of MongoDB tenants through the
// admin API as a hostile tenant would: two row tenants share a database's
// collections, a viewer has masked fields and a row cap, an editor has
// masked fields too. Every attack asserts what the user must see, and a
// control (the same request by a role allowed to make it, or the server
// read directly) shows that the attack would otherwise reach the data.
func TestMongoAdversarial(t *testing.T) {
	m := startFerretDB(t)
	requireRedis(t)
	shop := dbName("advshop")
	for _, tn := range []string{"a", "b"} {
		m.insert(t, shop, "customers",
			fmt.Sprintf(`{"_id": "%[1]s1", "tenant": "%[1]s", "name": "Cust %[1]s1", "email": "c1@%[1]s.example", "items": [{"sku": "k1", "secret": "s1-%[1]s"}, {"sku": "k2", "secret": "s2-%[1]s"}]}`, tn),
			fmt.Sprintf(`{"_id": "%[1]s2", "tenant": "%[1]s", "name": "Cust %[1]s2", "email": "c2@%[1]s.example", "items": [{"sku": "k3", "secret": "s3-%[1]s"}]}`, tn))
		for i := 1; i <= 5; i++ {
			m.insert(t, shop, "orders", fmt.Sprintf(`{"tenant": "%[1]s", "customer_id": "%[1]s1", "n": %[2]d, "note": "from %[1]s"}`, tn, i))
		}
	}
	// b's order points at a's customer; a's at b's.
	m.insert(t, shop, "orders", `{"tenant": "b", "customer_id": "a1", "n": 9, "note": "from b"}`,
		`{"tenant": "a", "customer_id": "b1", "n": 9, "note": "from a"}`)
	// Collections outside the tenant's allow-list, one of them a case
	// variant of an allowed one.
	m.insert(t, shop, "Orders", `{"tenant": "a", "note": "case variant"}`)
	m.insert(t, shop, "secrets", `{"tenant": "a", "note": "not listed"}`)
	api := startAPI(t, fmt.Sprintf(`
redis: {addr: "127.0.0.1:6379"}
tenants:
  - id: shop_a
    engine: mongodb
    dsn: "mongodb://%[1]s/%[2]s"
    isolation: row
    tenant_field: tenant
    tenant_value: a
    collections: [customers, orders]
    roles:
      viewer: {max_rows: 3, masked_columns: [customers.email, customers.items.secret]}
      editor: {masked_columns: [customers.email, customers.items.secret]}
  - id: shop_b
    engine: mongodb
    dsn: "mongodb://%[1]s/%[2]s"
    isolation: row
    tenant_field: tenant
    tenant_value: b
    collections: [customers, orders]
users:
  - {name: va, password: va-pw, tenants: {shop_a: viewer}}
  - {name: aa, password: aa-pw, tenants: {shop_a: analyst}}
  - {name: ea, password: ea-pw, tenants: {shop_a: editor}}
  - {name: xa, password: xa-pw, tenants: {shop_a: admin}}
  - {name: bb, password: bb-pw, tenants: {shop_b: analyst}}
`, m.Addr, shop))
	va := api.login(t, "va", "va-pw", "shop_a")
	aa := api.login(t, "aa", "aa-pw", "shop_a")
	ea := api.login(t, "ea", "ea-pw", "shop_a")
	xa := api.login(t, "xa", "xa-pw", "shop_a")
	bb := api.login(t, "bb", "bb-pw", "shop_b")

	ok := func(t *testing.T, tok, req string) map[string]any {
		t.Helper()
		st, r := api.mongoCall(t, tok, req)
		if st != 200 {
			t.Fatalf("%s: HTTP %d %v", req, st, r)
		}
		return r
	}
	refused := func(t *testing.T, tok, req string, status int, msg string) {
		t.Helper()
		st, r := api.mongoCall(t, tok, req)
		if st != status || !strings.Contains(errMessage(r), msg) {
			t.Errorf("%s: HTTP %d %q, want %d %q", req, st, errMessage(r), status, msg)
		}
	}
	// Control: the server holds both tenants' documents.
	if a, b := m.count(t, shop, "orders", `{"tenant": "a"}`), m.count(t, shop, "orders", `{"tenant": "b"}`); a != 6 || b != 6 {
		t.Fatalf("control: a %d b %d", a, b)
	}

	t.Run("row filter: sub-pipelines, $or, $expr, $group", func(t *testing.T) {
		for _, req := range []string{
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "orders", "pipeline": [{"$match": {"tenant": "b"}}], "as": "x"}}, {"$unwind": "$x"}, {"$project": {"_id": 0, "t": "$x.tenant", "note": "$x.note"}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$unwind": "$c"}, {"$project": {"_id": 0, "t": "$c.tenant", "note": "$c.name"}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "orders", "let": {"r": "$$ROOT"}, "pipeline": [{"$match": {"$expr": {"$ne": ["$tenant", "$$r.tenant"]}}}], "as": "x"}}, {"$unwind": "$x"}, {"$project": {"_id": 0, "t": "$x.tenant"}}]}`,
			`{"collection": "orders", "pipeline": [{"$match": {"$or": [{"tenant": "b"}, {"tenant": {"$exists": true}}]}}, {"$project": {"_id": 0, "t": "$tenant", "note": 1}}]}`,
			`{"collection": "orders", "pipeline": [{"$match": {"$expr": {"$or": [{"$eq": ["$tenant", "b"]}, true]}}}, {"$project": {"_id": 0, "t": "$tenant", "note": 1}}]}`,
			`{"collection": "orders", "pipeline": [{"$group": {"_id": "$tenant", "n": {"$sum": 1}}}, {"$project": {"t": "$_id", "n": 1}}]}`,
			`{"collection": "orders", "pipeline": [{"$sort": {"tenant": -1, "n": -1}}, {"$limit": 1}, {"$project": {"_id": 0, "t": "$tenant"}}]}`,
			`{"collection": "orders", "find": {"filter": {"tenant": {"$in": ["a", "b"]}, "$comment": "x"}, "projection": {"_id": 0, "t": "$tenant", "note": 1}}}`,
			`{"collection": "orders", "find": {"filter": {"tenant": {"$regex": "^b"}}}}`,
			`{"collection": "orders", "find": {"filter": {"tenant": {"$ne": {"$oid": "000000000000000000000000"}}}}}`,
		} {
			st, r := api.mongoCall(t, aa, req)
			if st == 400 && strings.Contains(errMessage(r), "is not supported") {
				continue // refused (the evaluator has no let variables): nothing ran
			}
			if st != 200 {
				t.Fatalf("%s: HTTP %d %v", req, st, r)
			}
			body := fmt.Sprint(r["rows"])
			if strings.Contains(body, "from b") || strings.Contains(body, " b]") || strings.Contains(body, "[b ") || strings.Contains(body, "Cust b") {
				t.Errorf("a reads b's documents: %s -> %s", req, body)
			}
			// Control: tenant b's same request is answered with b's own
			// documents, so the test can see them when they leak.
			st, rb := api.mongoCall(t, bb, req)
			if st == 200 && r["row_count"] != json.Number("0") && strings.Contains(fmt.Sprint(rb["rows"]), "from a") {
				t.Errorf("b reads a's documents: %s -> %v", req, rb["rows"])
			}
		}
		// The join from a's order to b's customer finds nothing; b's
		// view of the same join sees b's own customers only.
		r := ok(t, aa, `{"collection": "orders", "pipeline": [{"$match": {"customer_id": "b1"}}, {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$project": {"_id": 0, "n": {"$size": "$c"}}}]}`)
		if fmt.Sprint(r["rows"]) != "[[0]]" {
			t.Errorf("a's join to b's customer: %v", r["rows"])
		}
		if n := m.count(t, shop, "customers", `{"_id": "b1"}`); n != 1 {
			t.Fatalf("control: b1 %d", n)
		}
		r = ok(t, aa, `{"collection": "orders", "pipeline": [{"$group": {"_id": "$tenant", "n": {"$sum": 1}}}]}`)
		if fmt.Sprint(r["rows"]) != "[[a 6]]" {
			t.Errorf("group by the tenant field: %v", r["rows"])
		}
	})

	t.Run("refused stages and case variants", func(t *testing.T) {
		for _, c := range []struct {
			req    string
			status int
			msg    string
		}{
			{`{"collection": "orders", "pipeline": [{"$collStats": {"count": {}}}]}`, 403, "stage $collStats is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$indexStats": {}}]}`, 403, "stage $indexStats is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$listSessions": {}}]}`, 403, "stage $listSessions is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$currentOp": {}}]}`, 403, "stage $currentOp is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$documents": [{"tenant": "b"}]}]}`, 400, "stage $documents is not supported"},
			{`{"collection": "orders", "pipeline": [{"$changeStream": {}}]}`, 400, "stage $changeStream is not supported"},
			{`{"collection": "orders", "pipeline": [{"$sample": {"size": 3}}]}`, 400, "stage $sample is not supported"},
			{`{"collection": "orders", "pipeline": [{"$facet": {"x": [{"$match": {}}]}}]}`, 400, "stage $facet is not supported"},
			{`{"collection": "orders", "pipeline": [{"$replaceRoot": {"newRoot": "$$ROOT"}}]}`, 400, "stage $replaceRoot is not supported"},
			{`{"collection": "orders", "pipeline": [{"$MATCH": {}}]}`, 400, "stage $MATCH is not supported"},
			{`{"collection": "orders", "pipeline": [{"$Out": "copy"}]}`, 400, "stage $Out is not supported"},
			{`{"collection": "orders", "pipeline": [{"$match": {"$WHERE": "1"}}]}`, 400, "query operator $WHERE is not supported"},
			{`{"collection": "orders", "pipeline": [{"$match": {"n": {"$GT": 1}}}]}`, 400, "query operator $GT is not supported"},
			{`{"collection": "orders", "pipeline": [{"$match": {"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}}}]}`, 403, "$function is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$project": {"x": {"$getField": "tenant"}}}]}`, 400, "expression operator $getField is not supported"},
			{`{"collection": "orders", "pipeline": [{"$match": {}, "$limit": 1}]}`, 400, "exactly one field"},
		} {
			refused(t, aa, c.req, c.status, c.msg)
		}
		// Control: an allowed stage of the same shape runs.
		if r := ok(t, aa, `{"collection": "orders", "pipeline": [{"$match": {}}, {"$count": "n"}]}`); fmt.Sprint(r["rows"]) != "[[6]]" {
			t.Errorf("control count: %v", r["rows"])
		}
	})

	t.Run("collections: system, case variants, other databases, allow-list", func(t *testing.T) {
		for _, c := range []struct {
			req    string
			status int
			msg    string
		}{
			{`{"collection": "system.views", "find": {}}`, 403, `collection "system.views" is not available`},
			{`{"collection": "secrets", "find": {}}`, 403, `collection "secrets"`},
			{`{"collection": "Orders", "find": {}}`, 403, `collection "Orders"`},
			{`{"collection": "ORDERS", "pipeline": []}`, 403, `collection "ORDERS"`},
			{`{"collection": "orders", "pipeline": [{"$lookup": {"from": "Orders", "pipeline": [], "as": "x"}}]}`, 403, `collection "Orders"`},
			{`{"collection": "orders", "pipeline": [{"$unionWith": "Orders"}]}`, 403, `collection "Orders"`},
			{`{"collection": "orders", "pipeline": [{"$lookup": {"from": {"db": "other", "coll": "orders"}, "pipeline": [], "as": "x"}}]}`, 400, "from must name a collection"},
			{`{"collection": "other.orders", "find": {}}`, 403, `collection "other.orders"`},
			{`{"collection": "../orders", "find": {}}`, 403, `collection "../orders"`},
			{`{"collection": "orders\u0000x", "find": {}}`, 403, "is not available"},
			{`{"collection": "$cmd", "find": {}}`, 403, "is not available"},
			{`{"collection": "orders", "pipeline": [{"$graphLookup": {"from": "Orders", "startWith": "$x", "connectFromField": "a", "connectToField": "b", "as": "g"}}]}`, 403, `collection "Orders"`},
		} {
			refused(t, aa, c.req, c.status, c.msg)
		}
		// Control: the case variant is a collection of its own on the server.
		if n := m.count(t, shop, "Orders", `{}`); n != 1 {
			t.Fatalf("control: Orders holds %d documents", n)
		}
		if r := ok(t, aa, `{"collection": "orders", "find": {"filter": {"note": "case variant"}}}`); r["row_count"] != json.Number("0") {
			t.Fatalf("control: orders %v", r["rows"])
		}
	})

	t.Run("masks: renamed, aggregated, compared, sorted, reached through arrays", func(t *testing.T) {
		for _, req := range []string{
			`{"collection": "customers", "pipeline": [{"$project": {"e": "$email"}}]}`,
			`{"collection": "customers", "pipeline": [{"$addFields": {"e": "$email"}}]}`,
			`{"collection": "customers", "pipeline": [{"$group": {"_id": "$_id", "e": {"$first": "$email"}}}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"e": {"$concat": ["x", "$email"]}}}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"e": {"$toString": "$email"}}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"email": {"$regex": "^c1"}}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"EMAIL": {"$regex": "^c1"}}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"email": {"$regex": "^c1", "$options": "i"}}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"email": {"$not": {"$regex": "^c1"}}}}]}`,
			`{"collection": "customers", "pipeline": [{"$sort": {"email": 1}}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"r": "$$ROOT"}}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"r": "$$CURRENT.email"}}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"r": "$items"}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"items": {"$elemMatch": {"secret": "s1-a"}}}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"items.secret": "s1-a"}}]}`,
			`{"collection": "customers", "pipeline": [{"$match": {"items.0.secret": "s1-a"}}]}`,
			`{"collection": "customers", "find": {"filter": {"items.0.secret": {"$regex": "^s1"}}}}`,
			`{"collection": "customers", "find": {"sort": {"items.0.secret": 1}}}`,
			`{"collection": "customers", "pipeline": [{"$match": {"$expr": {"$eq": [{"$arrayElemAt": ["$items.secret", 0]}, "s1-a"]}}}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"s": {"$map": {"input": "$items", "as": "i", "in": "$$i.secret"}}}}]}`,
			`{"collection": "customers", "pipeline": [{"$unwind": "$items"}, {"$group": {"_id": "$items.secret"}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$match": {"c.email": {"$regex": "^c1"}}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$project": {"x": "$c.items"}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "email", "as": "c"}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "items.0.secret", "as": "c"}}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "pipeline": [{"$match": {"email": {"$regex": "^c1"}}}], "as": "c"}}]}`,
			`{"collection": "orders", "pipeline": [{"$unionWith": {"coll": "customers", "pipeline": [{"$sort": {"email": 1}}]}}]}`,
			`{"collection": "orders", "pipeline": [{"$unionWith": "customers"}, {"$match": {"email": {"$regex": "^c1"}}}]}`,
		} {
			refused(t, va, req, 403, "masked")
			// Control: the analyst, who has no masks, may make the request.
			if st, r := api.mongoCall(t, aa, req); st != 200 && !strings.Contains(errMessage(r), "is not supported") {
				t.Errorf("control %s: HTTP %d %v", req, st, r)
			}
		}
		refused(t, va, `{"collection": "customers", "pipeline": [{"$project": {"x": {"$objectToArray": "$$ROOT"}}}]}`, 400, "$objectToArray is not supported")
		refused(t, va, `{"collection": "customers", "pipeline": [{"$project": {"x": {"$regexMatch": {"input": "$email", "regex": "^c"}}}}]}`, 400, "$regexMatch is not supported")
		// The control that the array-index path finds the secret.
		if r := ok(t, aa, `{"collection": "customers", "find": {"filter": {"items.0.secret": "s1-a"}, "projection": {"_id": 1}}}`); fmt.Sprint(r["rows"]) != "[[a1]]" {
			t.Errorf("control items.0.secret: %v", r["rows"])
		}
		// What the viewer may read shows the masked values masked,
		// through arrays of subdocuments, $unwind, a parent path and a join.
		for _, req := range []string{
			`{"collection": "customers", "find": {"sort": {"_id": 1}}}`,
			`{"collection": "customers", "find": {"projection": {"items": 1, "email": 1}}}`,
			`{"collection": "customers", "pipeline": [{"$unwind": "$items"}]}`,
			`{"collection": "customers", "pipeline": [{"$project": {"items": 1, "EMAIL": 1}}]}`,
			`{"collection": "orders", "pipeline": [{"$match": {"customer_id": "a1"}}, {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}]}`,
			`{"collection": "orders", "pipeline": [{"$match": {"customer_id": "a1"}}, {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$unwind": "$c"}, {"$unwind": "$c.items"}]}`,
		} {
			r := ok(t, va, req)
			body := fmt.Sprint(r["rows"])
			if strings.Contains(body, "@a.example") || strings.Contains(body, "s1-a") || strings.Contains(body, "s3-a") || r["row_count"] == json.Number("0") {
				t.Errorf("viewer sees masked values: %s -> %s", req, body)
			}
			// Control: the analyst sees them in clear.
			if r := ok(t, aa, req); !strings.Contains(fmt.Sprint(r["rows"]), "-a") {
				t.Errorf("control %s: %v", req, r["rows"])
			}
		}
	})

	t.Run("row cap", func(t *testing.T) {
		for _, req := range []string{
			`{"collection": "orders", "pipeline": [{"$limit": 1000}]}`,
			`{"collection": "orders", "find": {"limit": 1000}}`,
			`{"collection": "orders", "pipeline": [{"$skip": 1}, {"$limit": 100}]}`,
			`{"collection": "orders", "pipeline": [{"$limit": 3}, {"$lookup": {"from": "orders", "pipeline": [], "as": "all"}}, {"$unwind": "$all"}]}`,
			`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "pipeline": [], "as": "c"}}, {"$unwind": "$c"}, {"$unwind": "$c.items"}]}`,
		} {
			r := ok(t, va, req)
			if rows := r["rows"].([]any); len(rows) > 3 || r["row_count"] != json.Number(fmt.Sprint(len(rows))) {
				t.Errorf("%s: %d rows (row_count %v), cap 3", req, len(rows), r["row_count"])
			}
			// Control: the analyst has no cap and gets more.
			if r := ok(t, aa, req); len(r["rows"].([]any)) <= 3 {
				t.Errorf("control %s: %d rows", req, len(r["rows"].([]any)))
			}
		}
		r := ok(t, va, `{"collection": "orders", "pipeline": [{"$limit": 1000}]}`)
		if r["truncated"] != true {
			t.Errorf("capped answer not marked truncated: %v", r)
		}
	})

	t.Run("cache: another role's or tenant's entry is never answered", func(t *testing.T) {
		req := json.RawMessage(`{"collection": "customers", "find": {"filter": {"_id": {"$in": ["a1", "b1"]}}}}`)
		call := func(tok string) map[string]any {
			r := api.call(t, "POST", "/api/v1/tenant/query", tok, map[string]any{"mongo": req, "cache_enabled": true})
			if r.Status != 200 {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
			return r.JSON(t)
		}
		clear := call(aa)
		if again := call(aa); again["cached"] != true {
			t.Fatalf("control: the analyst's second answer is not cached: %v", again)
		}
		if !strings.Contains(fmt.Sprint(clear["rows"]), "@a.example") {
			t.Fatalf("control: analyst %v", clear["rows"])
		}
		for i := 0; i < 2; i++ {
			v := call(va)
			if strings.Contains(fmt.Sprint(v["rows"]), "@a.example") || (i == 0 && v["cached"] == true) {
				t.Fatalf("viewer answered from the analyst's entry: %v", v)
			}
		}
		b := call(bb)
		if b["cached"] == true || strings.Contains(fmt.Sprint(b["rows"]), "a1") || !strings.Contains(fmt.Sprint(b["rows"]), "b1") {
			t.Fatalf("tenant b answered from a's entry: %v", b)
		}
	})

	t.Run("malformed and huge requests", func(t *testing.T) {
		deep := strings.Repeat(`{"$and": [`, 40) + `{}` + strings.Repeat(`]}`, 40)
		deepExpr := strings.Repeat(`{"$add": [`, 40) + `1` + strings.Repeat(`]}`, 40)
		tooDeep := strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300)
		for _, c := range []struct {
			req    string
			status int
			msg    string
		}{
			{`{"collection": "orders", "pipeline": [{"$match": {"n": }}]}`, 400, "invalid JSON"},
			{`{"collection": "orders", "pipeline": [{"$match": {"n": {"$numberLong": "x"}}}]}`, 400, "not Extended JSON"},
			{`{"collection": "orders", "pipeline": [{"$match": {"n": {"$oid": "zz"}}}]}`, 400, "not Extended JSON"},
			{`{"collection": "orders", "pipeline": {"$match": {}}}`, 400, "list of stages"},
			{`{"collection": "orders", "pipeline": [1]}`, 400, "stage documents"},
			{`{"collection": "orders", "pipeline": [{"$match": 1}]}`, 400, "takes a document"},
			{`{"collection": "orders", "pipeline": [{"$match": {"$and": 1}}]}`, 400, "non-empty list"},
			{`{"collection": "orders", "pipeline": [{"$lookup": 1}]}`, 400, "takes a document"},
			{`{"collection": "orders", "pipeline": [{"$lookup": {"from": "orders", "pipeline": 1, "as": "x"}}]}`, 400, "list of stages"},
			{`{"collection": "orders", "pipeline": [{"$group": {"n": 1}}]}`, 400, "accumulator"},
			{`{"collection": "orders", "pipeline": [{"$unwind": 1}]}`, 400, "field path"},
			{`{"collection": "orders", "pipeline": [{"$sort": {"n": "x"}}]}`, 400, "1 or -1"},
			{`{"collection": "orders", "find": {"skip": -1}}`, 400, "at least 0"},
			{`{"collection": 1, "find": {}}`, 400, "must be a string"},
			{`{"collection": "orders"}`, 400, "exactly one of"},
			{`{"collection": "orders", "find": {}, "pipeline": []}`, 400, "exactly one of"},
			{`{"collection": "orders", "pipeline": [{"$match": {"n\u0000x": 1}}]}`, 400, ""},
			{`{"collection": "orders", "pipeline": [{"$match": ` + deep + `}]}`, 400, "nests too deeply"},
			{`{"collection": "orders", "pipeline": [{"$project": {"x": ` + deepExpr + `}}]}`, 400, "nests too deeply"},
		} {
			refused(t, aa, c.req, c.status, c.msg)
		}
		// A literal nested 300 deep is the server's to judge: an answer or
		// a refusal, not a failure of the proxy.
		if st, r := api.mongoCall(t, aa, `{"collection": "orders", "pipeline": [{"$match": {"n": `+tooDeep+`}}]}`); st != 200 && st != 400 {
			t.Errorf("deep literal: HTTP %d %v", st, r)
		}
		// A large filter ($in of 20000 values) is answered, not a hang.
		vals := make([]string, 20000)
		for i := range vals {
			vals[i] = fmt.Sprint(i)
		}
		r := ok(t, aa, `{"collection": "orders", "find": {"filter": {"n": {"$in": [`+strings.Join(vals, ",")+`]}}}}`)
		if r["row_count"] != json.Number("6") {
			t.Errorf("large $in: %v", r["row_count"])
		}
		// A server error on the tenant's own documents does not echo
		// another tenant's.
		st, r := api.mongoCall(t, aa, `{"collection": "orders", "pipeline": [{"$project": {"x": {"$divide": ["$n", 0]}}}]}`)
		if st == 200 || strings.Contains(errMessage(r), "from b") {
			t.Errorf("division by zero: HTTP %d %v", st, r)
		}
	})
	t.Run("writes", func(t *testing.T) {
		for _, req := range []string{
			`{"collection": "orders", "insert_one": {"n": 1}}`,
			`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"n": 0}}}}`,
			`{"collection": "orders", "delete_many": {"filter": {}}}`,
		} {
			refused(t, va, req, 403, "may only read")
			refused(t, aa, req, 403, "may only read")
		}
		for _, c := range []struct {
			req    string
			status int
			msg    string
		}{
			{`{"collection": "orders", "insert_one": {"tenant": "b", "n": 1}}`, 403, "must be this tenant's"},
			{`{"collection": "orders", "insert_one": {"Tenant": "b", "n": 1}}`, 403, "is the tenant field"},
			{`{"collection": "orders", "insert_one": {"tenant": "a", "tenant": "b"}}`, 403, "must be this tenant's"},
			{`{"collection": "orders", "insert_one": {"tenant": ["a", "b"]}}`, 403, "must be this tenant's"},
			{`{"collection": "orders", "insert_one": {"tenant": {"$regex": "b"}}}`, 403, "must be this tenant's"},
			{`{"collection": "orders", "insert_one": {"tenant.x": "b"}}`, 403, "is the tenant field"},
			{`{"collection": "orders", "insert_one": {"$set": {"tenant": "b"}}}`, 400, "is not a field name"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"tenant.0": "b"}}}}`, 403, "tenant field"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"TENANT": "b"}}}}`, 403, "tenant field"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$rename": {"note": "tenant"}}}}`, 403, "tenant field"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$unset": {"tenant": ""}}}}`, 403, "tenant field"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$push": {"tenant": "b"}}}}`, 403, "tenant field"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$currentDate": {"tenant": true}}}}`, 403, "tenant field"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$setOnInsert": {"tenant": "b"}}}}`, 400, "$setOnInsert is not supported"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": [{"$set": {"tenant": "b"}}]}}`, 400, "update pipeline is not supported"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"n": 1}}, "upsert": true}}`, 400, `unknown key "upsert"`},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"x.$[e]": 1}}, "arrayFilters": [{"e": 1}]}}`, 400, `unknown key "arrayFilters"`},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"n": 1}}}`, 400, "replacing whole documents is not supported"},
			{`{"collection": "orders", "update_many": {"filter": {"$where": "1"}, "update": {"$set": {"n": 1}}}}`, 403, "$where is not allowed"},
			{`{"collection": "customers", "update_many": {"filter": {"email": {"$regex": "^c1"}}, "update": {"$set": {"name": "x"}}}}`, 403, "is masked"},
			{`{"collection": "customers", "delete_many": {"filter": {"items.secret": "s1-a"}}}`, 403, "is masked"},
			{`{"collection": "customers", "delete_many": {"filter": {"items.0.secret": "s1-a"}}}`, 403, "is masked"},
			{`{"collection": "customers", "update_many": {"filter": {}, "update": {"$rename": {"email": "leak"}}}}`, 403, "is masked"},
			{`{"collection": "customers", "update_many": {"filter": {}, "update": {"$rename": {"items": "leak"}}}}`, 403, "is masked"},
			{`{"collection": "customers", "update_many": {"filter": {}, "update": {"$max": {"email": "m"}}}}`, 403, "is masked"},
			{`{"collection": "customers", "update_many": {"filter": {}, "update": {"$pull": {"items": {"secret": "s1-a"}}}}}`, 403, "is masked"},
			{`{"collection": "customers", "update_many": {"filter": {}, "update": {"$set": {"email.x": 1}}}}`, 403, "is masked"},
			{`{"collection": "customers", "update_many": {"filter": {}, "update": {"$set": {"items.0.secret.x": 1}}}}`, 403, "is masked"},
		} {
			refused(t, ea, c.req, c.status, c.msg)
		}
		// A server error quoting the document at the failing path: the
		// masked writer is told its code only; the control (the admin, no
		// masks) shows the server's message quotes the masked values.
		echo := `{"collection": "customers", "update_many": {"filter": {"_id": "a1"}, "update": {"$set": {"items.zz": 1}}}}`
		if st, r := api.mongoCall(t, ea, echo); st != 400 || strings.Contains(errMessage(r), "s1-a") || !strings.Contains(errMessage(r), "withheld") {
			t.Errorf("masked writer's server error: HTTP %d %q", st, errMessage(r))
		}
		if st, r := api.mongoCall(t, xa, echo); st != 400 || !strings.Contains(errMessage(r), "s1-a") {
			t.Errorf("control: the admin's server error: HTTP %d %q", st, errMessage(r))
		}
		// Control: an unmasked writer's $rename of the same field runs, and
		// the renamed value is then readable in clear; the editor's masks
		// are what refused it.
		st, r := api.mongoCall(t, xa, `{"collection": "customers", "update_many": {"filter": {"_id": "a2"}, "update": {"$rename": {"email": "mail2"}}}}`)
		if st != 200 || r["rows_affected"] != json.Number("1") {
			t.Fatalf("control rename: HTTP %d %v", st, r)
		}
		if r := ok(t, va, `{"collection": "customers", "find": {"filter": {"_id": "a2"}, "projection": {"mail2": 1}}}`); !strings.Contains(fmt.Sprint(r["rows"]), "c2@a.example") {
			t.Fatalf("control read: %v", r["rows"])
		}
		// rows_affected counts the documents the filter matched: an
		// unchanged value (a guess of a masked one) counts as a changed one.
		for _, guess := range []string{"c1@a.example", "wrong@a.example"} {
			st, r := api.mongoCall(t, ea, fmt.Sprintf(`{"collection": "customers", "update_many": {"filter": {"_id": "a1"}, "update": {"$set": {"email": %q}}}}`, guess))
			if st != 200 || r["rows_affected"] != json.Number("1") {
				t.Errorf("$set of a masked field to %q: HTTP %d %v, want 1 document", guess, st, r)
			}
		}
		// A write of a masked field is an overwrite and runs.
		if n := m.count(t, shop, "customers", `{"_id": "a1", "email": "wrong@a.example"}`); n != 1 {
			t.Errorf("control: the overwrite did not land: %d", n)
		}
		// The editor's writes stay in a's documents.
		st, r = api.mongoCall(t, ea, `{"collection": "orders", "update_many": {"filter": {"$or": [{"tenant": "b"}, {}]}, "update": {"$set": {"note": "touched"}}}}`)
		if st != 200 || r["rows_affected"] != json.Number("6") {
			t.Fatalf("update: HTTP %d %v", st, r)
		}
		st, r = api.mongoCall(t, ea, `{"collection": "orders", "insert_one": {"_id": "forged", "n": 1}}`)
		if st != 200 || m.count(t, shop, "orders", `{"_id": "forged", "tenant": "a"}`) != 1 {
			t.Fatalf("insert: HTTP %d %v", st, r)
		}
		if n := m.count(t, shop, "orders", `{"tenant": "b", "note": "from b"}`); n != 6 {
			t.Fatalf("b's orders after a's writes: %d", n)
		}
	})

	t.Run("errors, export and dry run", func(t *testing.T) {
		// A duplicate key of another tenant's document is refused; the
		// message names the key the request gave, none of b's fields.
		st, r := api.mongoCall(t, ea, `{"collection": "customers", "insert_one": {"_id": "b1", "name": "mine"}}`)
		if st != 400 || strings.Contains(errMessage(r), "Cust b") || strings.Contains(errMessage(r), "@b.example") {
			t.Errorf("duplicate of b's _id: HTTP %d %v", st, r)
		}
		if n := m.count(t, shop, "customers", `{"_id": "b1", "tenant": "b", "name": "Cust b1"}`); n != 1 {
			t.Fatalf("control: b1 changed: %d", n)
		}
		export := func(tok, req string) (int, string) {
			resp := api.call(t, "POST", "/api/v1/tenant/query/export?format=json", tok, map[string]any{"mongo": json.RawMessage(req)})
			return resp.Status, string(resp.Body)
		}
		if st, body := export(va, `{"collection": "customers", "find": {"filter": {"items.0.secret": "s1-a"}}}`); st != 403 || !strings.Contains(body, "is masked") {
			t.Errorf("export by array index: HTTP %d %s", st, body)
		}
		st, body := export(va, `{"collection": "orders", "pipeline": [{"$limit": 1000}, {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}]}`)
		var j map[string]any
		if st != 200 || json.Unmarshal([]byte(body), &j) != nil || j["row_count"] != float64(3) || strings.Contains(body, "@a.example") || strings.Contains(body, "from b") {
			t.Errorf("export: HTTP %d %s", st, body)
		}
		// Control: the analyst has no cap: every one of a's seven orders (one inserted above).
		if st, body := export(aa, `{"collection": "orders", "pipeline": [{"$limit": 1000}]}`); st != 200 || !strings.Contains(body, `"row_count":7`) || strings.Contains(body, "from b") {
			t.Errorf("control export: HTTP %d %s", st, body)
		}
		x := api.call(t, "POST", "/api/v1/tenant/policy/explain", va, map[string]any{"mongo": json.RawMessage(`{"collection": "customers", "find": {"sort": {"items.0.secret": 1}}}`)})
		if e := x.JSON(t); x.Status != 200 || e["allowed"] != false || !strings.Contains(string(x.Body), "is masked") {
			t.Errorf("explain: HTTP %d %s", x.Status, x.Body)
		}
		x = api.call(t, "POST", "/api/v1/tenant/policy/explain", aa, map[string]any{"mongo": json.RawMessage(`{"collection": "customers", "find": {"sort": {"items.0.secret": 1}}}`)})
		if e := x.JSON(t); x.Status != 200 || e["allowed"] != true {
			t.Errorf("control explain: HTTP %d %s", x.Status, x.Body)
		}
	})
}

// TestMongoAdversarialQuestions asks questions whose words are values of a
// masked field: the answer must not tell a value of the field from a word
// the tenant's data does not hold.
func TestMongoAdversarialQuestions(t *testing.T) {
	m := startFerretDB(t)
	docs := dbName("advnl")
	seedMongo(t, m, docs)
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - id: docs
    engine: mongodb
    dsn: "mongodb://%[1]s/%[2]s"
    roles: {viewer: {masked_columns: [customers.address, customers.email]}}
users:
  - {name: vera, password: vera-pw, tenants: {docs: viewer}}
  - {name: ann, password: ann-pw, tenants: {docs: analyst}}
`, m.Addr, docs))
	vera := api.login(t, "vera", "vera-pw", "docs")
	ann := api.login(t, "ann", "ann-pw", "docs")
	for _, pair := range [][2]string{{"customers in Lima", "customers in Atlantis"}, {"how many customers in Quito", "how many customers in Paris"}} {
		held, absent := api.ask(t, vera, pair[0], "cache_enabled", false), api.ask(t, vera, pair[1], "cache_enabled", false)
		if held.Status != absent.Status || held.Status == 200 || strings.Contains(string(held.Body), "masked") {
			t.Errorf("%q: HTTP %d %s; %q: HTTP %d %s: a value of the masked address is told from an absent word",
				pair[0], held.Status, held.Body, pair[1], absent.Status, absent.Body)
		}
		// Control: the analyst's question is linked to address.city and
		// answered, so the value is in the index the viewer's was not.
		if r := api.ask(t, ann, pair[0], "cache_enabled", false); r.Status != 200 || !strings.Contains(string(r.Body), "address.city") {
			t.Errorf("control %q: HTTP %d %s", pair[0], r.Status, r.Body)
		}
	}
}

// TestMongoAdversarialAmplification builds values that double with every
// stage the proxy completes itself ($concat of a field with itself, a
// document copied into itself): refused at the server's BSON size limit,
// quickly, instead of growing in the proxy's memory.
func TestMongoAdversarialAmplification(t *testing.T) {
	m := startFerretDB(t)
	docs := dbName("advamp")
	seedMongo(t, m, docs)
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: docs, engine: mongodb, dsn: "mongodb://%[1]s/%[2]s"}
users:
  - {name: ann, password: ann-pw, tenants: {docs: analyst}}
`, m.Addr, docs))
	ann := api.login(t, "ann", "ann-pw", "docs")
	pipeline := func(n int, first, step, last string) string {
		st := []string{`{"$match": {"_id": 1}}`, first}
		for i := 0; i < n; i++ {
			st = append(st, step)
		}
		return `{"collection": "customers", "pipeline": [` + strings.Join(append(st, last), ",") + `]}`
	}
	for _, c := range []struct{ name, first, step, last, want string }{
		{"string", `{"$project": {"s": "$name"}}`, `{"$set": {"s": {"$concat": ["$s", "$s"]}}}`, `{"$project": {"p": {"$substrCP": ["$s", 0, 5]}}}`, "[[1 AnnAn]]"},
		{"document", `{"$project": {"name": 1}}`, `{"$set": {"x": "$$ROOT", "y": "$$ROOT"}}`, `{"$project": {"name": 1}}`, "[[1 Ann]]"},
	} {
		// Control: a few doublings are answered.
		if st, r := api.mongoCall(t, ann, pipeline(8, c.first, c.step, c.last)); st != 200 || fmt.Sprint(r["rows"]) != c.want {
			t.Errorf("%s, 8 doublings: HTTP %d %v", c.name, st, r)
		}
		start := time.Now()
		st, r := api.mongoCall(t, ann, pipeline(40, c.first, c.step, c.last))
		if st != 400 || !strings.Contains(errMessage(r), "maximum BSON size") {
			t.Errorf("%s, 40 doublings: HTTP %d %v", c.name, st, r)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s, 40 doublings took %s", c.name, d)
		}
	}
}
