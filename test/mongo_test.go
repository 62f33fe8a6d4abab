package test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/tenantproxy/tenantproxy/proxy"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// mongoCall sends a MongoDB request (Extended JSON) to the query endpoint.
func (a *apiServer) mongoCall(t *testing.T, tok, req string, extra ...any) (int, map[string]any) {
	t.Helper()
	body := map[string]any{"mongo": json.RawMessage(req), "cache_enabled": false}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	r := a.call(t, "POST", "/api/v1/tenant/query", tok, body)
	return r.Status, r.JSON(t)
}

func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// column returns the values of column name in an answer.
func column(t *testing.T, m map[string]any, name string) []any {
	t.Helper()
	cols, _ := m["columns"].([]any)
	idx := -1
	for i, c := range cols {
		if c == name {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("no column %q in %v", name, cols)
	}
	var out []any
	for _, r := range m["rows"].([]any) {
		out = append(out, r.([]any)[idx])
	}
	return out
}

// seedMongo fills a tenant database of customers (nested addresses) and
// orders.
func seedMongo(t *testing.T, m *mongoServer, db string) {
	m.insert(t, db, "customers",
		`{"_id": 1, "name": "Ann", "email": "ann@docs.example", "age": 31, "address": {"city": "Lima", "street": "Main 1"}, "tags": ["vip", "eu"]}`,
		`{"_id": 2, "name": "Bob", "email": "bob@docs.example", "age": 45, "address": {"city": "Quito", "street": "Oak 2"}}`,
		`{"_id": 3, "name": "Cid", "email": "cid@docs.example", "age": 28, "address": {"city": "Lima", "street": "Elm 3"}}`,
		`{"_id": 4, "name": "Dee", "email": "dee@docs.example", "age": 52, "address": {"city": "Cusco", "street": "Ash 4"}}`,
		`{"_id": 5, "name": "Eve", "age": 39}`)
	m.insert(t, db, "orders",
		`{"_id": 10, "customer_id": 1, "amount": 10.5, "status": "open"}`,
		`{"_id": 11, "customer_id": 1, "amount": 20, "status": "closed"}`,
		`{"_id": 12, "customer_id": 2, "amount": 7.25, "status": "open"}`,
		`{"_id": 13, "customer_id": 3, "amount": 100, "status": "open"}`)
	m.insert(t, db, "secrets", `{"_id": 1, "key": "do-not-read"}`)
}

// TestMongoTenant serves MongoDB tenants (FerretDB) through the admin API
// under the same policy as the SQL engines.
func TestMongoTenant(t *testing.T) {
	m := startFerretDB(t)
	requireRedis(t)
	docs, shop := dbName("docs"), dbName("shop")
	seedMongo(t, m, docs)
	// Two row tenants share the shop's collections.
	for _, tn := range []string{"a", "b"} {
		m.insert(t, shop, "customers",
			fmt.Sprintf(`{"_id": "%[1]s1", "tenant": "%[1]s", "name": "Cust %[1]s1", "email": "c1@%[1]s.example"}`, tn),
			fmt.Sprintf(`{"_id": "%[1]s2", "tenant": "%[1]s", "name": "Cust %[1]s2", "email": "c2@%[1]s.example"}`, tn))
		m.insert(t, shop, "orders",
			fmt.Sprintf(`{"tenant": "%[1]s", "customer_id": "%[1]s1", "amount": 1, "note": "from %[1]s"}`, tn),
			fmt.Sprintf(`{"tenant": "%[1]s", "customer_id": "%[1]s2", "amount": 2, "note": "from %[1]s"}`, tn),
			fmt.Sprintf(`{"tenant": "%[1]s", "customer_id": "%[1]s1", "amount": 3, "note": "from %[1]s"}`, tn))
	}
	// b's orders also point at a's customer: a join must not reach it.
	m.insert(t, shop, "orders", `{"tenant": "b", "customer_id": "a1", "amount": 9, "note": "from b"}`)
	lite := sqliteFile(t, "lite_sql")
	cfg := fmt.Sprintf(`
redis: {addr: "127.0.0.1:6379"}
tenants:
  - id: docs
    engine: mongodb
    dsn: "mongodb://%[1]s/%[2]s"
    collections: [customers, orders]
    roles: {viewer: {max_rows: 3, masked_columns: [customers.email, customers.address.street]}}
  - id: shop_a
    engine: mongodb
    dsn: "mongodb://%[1]s/%[3]s"
    isolation: row
    tenant_field: tenant
    tenant_value: a
    roles: {viewer: {masked_columns: [customers.email]}}
  - id: shop_b
    engine: mongodb
    dsn: "mongodb://%[1]s/%[3]s"
    isolation: row
    tenant_field: tenant
    tenant_value: b
  - id: lite
    engine: sqlite
    dsn: "file:%[4]s"
users:
  - {name: vera, password: vera-pw, tenants: {docs: viewer, shop_a: viewer}}
  - {name: ann, password: ann-pw, tenants: {docs: analyst, lite: analyst}}
  - {name: ed, password: ed-pw, tenants: {docs: editor, shop_a: editor}}
  - {name: bo, password: bo-pw, tenants: {shop_b: editor}}
`, m.Addr, docs, shop, lite)
	api := startAPI(t, cfg)
	vera := api.login(t, "vera", "vera-pw", "docs")
	ann := api.login(t, "ann", "ann-pw", "docs")
	ed := api.login(t, "ed", "ed-pw", "docs")
	veraA := api.login(t, "vera", "vera-pw", "shop_a")
	edA := api.login(t, "ed", "ed-pw", "shop_a")
	boB := api.login(t, "bo", "bo-pw", "shop_b")

	t.Run("viewer: cap, masks, nested fields", func(t *testing.T) {
		st, r := api.mongoCall(t, vera, `{"collection": "customers", "find": {"sort": {"_id": 1}}}`)
		if st != 200 {
			t.Fatalf("HTTP %d %v", st, r)
		}
		if r["row_count"] != json.Number("3") || r["truncated"] != true || r["security_filtered"] != true {
			t.Fatalf("row_count %v truncated %v, want 3 of 5 and truncated", r["row_count"], r["truncated"])
		}
		if got := fmt.Sprint(column(t, r, "email")); got != "[**** **** ****]" {
			t.Errorf("email %s, want masked", got)
		}
		if got := fmt.Sprint(column(t, r, "address.street")); got != "[**** **** ****]" {
			t.Errorf("address.street %s, want masked", got)
		}
		if got := fmt.Sprint(column(t, r, "address.city")); got != "[Lima Quito Lima]" {
			t.Errorf("address.city %s", got)
		}
		if got := fmt.Sprint(column(t, r, "name")); got != "[Ann Bob Cid]" {
			t.Errorf("name %s", got)
		}
		if !strings.Contains(fmt.Sprint(r["generated_sql"]), `{"$limit":4}`) || r["explanation"] == "" {
			t.Errorf("generated %v explanation %v", r["generated_sql"], r["explanation"])
		}
		// Control: the server holds the clear values the proxy masked.
		var doc bson.M
		if err := m.Client.Database(docs).Collection("customers").FindOne(context.Background(), bson.D{{Key: "_id", Value: 1}}).Decode(&doc); err != nil || doc["email"] != "ann@docs.example" {
			t.Fatalf("control: %v %v", doc, err)
		}
		// An aggregation over unmasked fields: grouped on the server.
		st, r = api.mongoCall(t, vera, `{"collection": "customers", "pipeline": [{"$match": {"address.city": "Lima"}}, {"$group": {"_id": "$address.city", "n": {"$count": {}}}}]}`)
		if st != 200 || fmt.Sprint(r["rows"]) != "[[Lima 2]]" || r["truncated"] != false {
			t.Fatalf("group: HTTP %d %v", st, r)
		}
		// $avg is completed by the proxy (FerretDB 1.24 has $sum and $count only).
		st, r = api.mongoCall(t, vera, `{"collection": "orders", "pipeline": [{"$group": {"_id": "$status", "avg": {"$avg": "$amount"}}}, {"$sort": {"_id": 1}}]}`)
		if st != 200 || fmt.Sprint(r["rows"]) != "[[closed 20] [open 39.25]]" {
			t.Fatalf("avg: HTTP %d %v", st, r)
		}
		// The analyst reads the fields in clear.
		st, r = api.mongoCall(t, ann, `{"collection": "customers", "find": {"filter": {"email": {"$regex": "^ann"}}}}`)
		if st != 200 || fmt.Sprint(column(t, r, "email")) != "[ann@docs.example]" || r["truncated"] != false {
			t.Fatalf("analyst: HTTP %d %v", st, r)
		}
	})

	t.Run("refused stages, operators and masked inputs", func(t *testing.T) {
		cases := []struct{ req, status, msg string }{
			{`{"collection": "orders", "pipeline": [{"$out": "copy"}]}`, "403", "stage $out is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$merge": {"into": "copy"}}]}`, "403", "stage $merge is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$addFields": {"x": {"$function": {"body": "function() {return 1}", "args": [], "lang": "js"}}}}]}`, "403", "$function is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$group": {"_id": null, "x": {"$accumulator": {"init": "function() {}"}}}}]}`, "403", "$accumulator is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$match": {"$where": "this.amount > 1"}}]}`, "403", "$where is not allowed"},
			{`{"collection": "orders", "pipeline": [{"$lookup": {"from": "secrets", "localField": "x", "foreignField": "_id", "as": "s"}}]}`, "403", `$lookup reads collection "secrets"`},
			{`{"collection": "orders", "pipeline": [{"$unionWith": "secrets"}]}`, "403", `$unionWith reads collection "secrets"`},
			{`{"collection": "orders", "pipeline": [{"$graphLookup": {"from": "secrets", "startWith": "$x", "connectFromField": "a", "connectToField": "b", "as": "g"}}]}`, "403", `$graphLookup reads collection "secrets"`},
			{`{"collection": "secrets", "find": {}}`, "403", `collection "secrets"`},
			{`{"collection": "orders", "pipeline": [{"$facet": {"a": []}}]}`, "400", "stage $facet is not supported"},
			{`{"collection": "orders", "pipeline": [{"$match": {"amount": {"$near": 1}}}]}`, "400", "query operator $near is not supported"},
			{`{"collection": "customers", "pipeline": [{"$match": {"email": "ann@docs.example"}}]}`, "403", `field "email" is masked`},
			{`{"collection": "customers", "pipeline": [{"$sort": {"email": 1}}]}`, "403", "not as an input to $sort"},
			{`{"collection": "customers", "pipeline": [{"$group": {"_id": "$email"}}]}`, "403", "not as an input to $group"},
			{`{"collection": "customers", "pipeline": [{"$project": {"e": "$address"}}]}`, "403", "not as an input to $project"},
			{`{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$match": {"c.email": "x"}}]}`, "403", `field "c.email" is masked`},
			{`{"collection": "orders", "insert_one": {"amount": 1}}`, "403", "may only read"},
			{`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"amount": 0}}}}`, "403", "may only read"},
			{`{"collection": "orders", "delete_many": {"filter": {}}}`, "403", "may only read"},
		}
		for _, c := range cases {
			st, r := api.mongoCall(t, vera, c.req)
			if fmt.Sprint(st) != c.status || !strings.Contains(errMessage(r), c.msg) {
				t.Errorf("%s: HTTP %d %q, want %s %q", c.req, st, errMessage(r), c.status, c.msg)
			}
		}
		// Nothing was written: the server still holds the four orders and no copy.
		if n := m.count(t, docs, "orders", `{}`); n != 4 {
			t.Fatalf("orders after refused writes: %d", n)
		}
		if names, _ := m.Client.Database(docs).ListCollectionNames(context.Background(), bson.D{{Key: "name", Value: "copy"}}); len(names) != 0 {
			t.Fatalf("$out wrote a collection: %v", names)
		}
		// SQL on a MongoDB tenant, and a MongoDB request on an SQL tenant.
		if st, r := api.sqlQuery(t, ann, "SELECT 1"); st != 400 || !strings.Contains(errMessage(r), "MongoDB tenant") {
			t.Errorf("SQL on docs: HTTP %d %v", st, r)
		}
		annLite := api.login(t, "ann", "ann-pw", "lite")
		if st, r := api.mongoCall(t, annLite, `{"collection": "customers", "find": {}}`); st != 400 || !strings.Contains(errMessage(r), "sqlite tenant") {
			t.Errorf("mongo on lite: HTTP %d %v", st, r)
		}
	})

	t.Run("editor writes, a join completed by the proxy", func(t *testing.T) {
		st, r := api.mongoCall(t, ed, `{"collection": "orders", "insert_one": {"_id": 14, "customer_id": 4, "amount": 5, "status": "open"}}`)
		if st != 200 || r["rows_affected"] != json.Number("1") {
			t.Fatalf("insert: HTTP %d %v", st, r)
		}
		st, r = api.mongoCall(t, ed, `{"collection": "orders", "update_many": {"filter": {"status": "open"}, "update": {"$inc": {"amount": 1}}}}`)
		if st != 200 || r["rows_affected"] != json.Number("4") {
			t.Fatalf("update: HTTP %d %v", st, r)
		}
		st, r = api.mongoCall(t, ed, `{"collection": "orders", "delete_many": {"filter": {"_id": 14}}}`)
		if st != 200 || r["rows_affected"] != json.Number("1") {
			t.Fatalf("delete: HTTP %d %v", st, r)
		}
		if n := m.count(t, docs, "orders", `{"status": "open", "amount": {"$in": [11.5, 8.25, 101]}}`); n != 3 {
			t.Fatalf("control after update: %d", n)
		}
		// $lookup: FerretDB 1.24 has none; the proxy completes it, and the
		// joined customers' masked fields are masked.
		st, r = api.mongoCall(t, vera, `{"collection": "orders", "pipeline": [{"$match": {"_id": 13}}, {"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "customer"}}]}`)
		if st != 200 || r["row_count"] != json.Number("1") {
			t.Fatalf("lookup: HTTP %d %v", st, r)
		}
		c := fmt.Sprint(column(t, r, "customer"))
		if !strings.Contains(c, "Cid") || strings.Contains(c, "cid@docs") || strings.Contains(c, "Elm 3") || !strings.Contains(c, "****") {
			t.Fatalf("joined customer %s: want Cid with masked email and street", c)
		}
	})

	t.Run("row tenants share collections: no leak", func(t *testing.T) {
		for _, tc := range []struct {
			tok, own, other string
		}{{veraA, "a", "b"}, {edA, "a", "b"}, {boB, "b", "a"}} {
			st, r := api.mongoCall(t, tc.tok, `{"collection": "orders", "find": {"sort": {"amount": 1}}}`)
			if st != 200 {
				t.Fatalf("HTTP %d %v", st, r)
			}
			body := fmt.Sprint(r["rows"])
			want := 3
			if tc.own == "b" {
				want = 4
			}
			if r["row_count"] != json.Number(fmt.Sprint(want)) || strings.Contains(body, "from "+tc.other) {
				t.Fatalf("tenant %s: %v", tc.own, r["rows"])
			}
			// A filter naming the other tenant finds nothing.
			st, r = api.mongoCall(t, tc.tok, fmt.Sprintf(`{"collection": "orders", "pipeline": [{"$match": {"tenant": %q}}, {"$count": "n"}]}`, tc.other))
			if st != 200 || r["row_count"] != json.Number("0") {
				t.Fatalf("tenant %s reading %s: HTTP %d %v", tc.own, tc.other, st, r)
			}
			// A join: b's order of a's customer joins nothing.
			st, r = api.mongoCall(t, tc.tok, `{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}, {"$unwind": "$c"}, {"$project": {"_id": 0, "owner": "$tenant", "cust": "$c.name", "ct": "$c.tenant"}}]}`)
			if st != 200 {
				t.Fatalf("lookup: HTTP %d %v", st, r)
			}
			body = fmt.Sprint(r["rows"])
			if r["row_count"] != json.Number("3") || strings.Contains(body, " "+tc.other+"]") || strings.Contains(body, "Cust "+tc.other) {
				t.Fatalf("tenant %s join: %v", tc.own, body)
			}
			// $unionWith: the server has none and neither has the proxy's
			// evaluator; it is refused, never run without the filter.
			st, r = api.mongoCall(t, tc.tok, `{"collection": "orders", "pipeline": [{"$unionWith": "customers"}]}`)
			if st == 200 && strings.Contains(fmt.Sprint(r["rows"]), "from "+tc.other) || st == 200 && strings.Contains(fmt.Sprint(r["rows"]), "@"+tc.other) {
				t.Fatalf("tenant %s unionWith leaked: %v", tc.own, r["rows"])
			}
		}
		// Control: the server holds both tenants' documents in one collection.
		if a, b := m.count(t, shop, "orders", `{"tenant": "a"}`), m.count(t, shop, "orders", `{"tenant": "b"}`); a != 3 || b != 4 {
			t.Fatalf("control: a %d b %d", a, b)
		}
		// Masks apply inside joined documents of a row tenant too.
		st, r := api.mongoCall(t, veraA, `{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id", "as": "c"}}]}`)
		if st != 200 || strings.Contains(fmt.Sprint(r["rows"]), "@a.example") {
			t.Fatalf("masked join: HTTP %d %v", st, r["rows"])
		}
		// Writes are confined to the tenant's documents.
		st, r = api.mongoCall(t, edA, `{"collection": "orders", "insert_one": {"amount": 50, "note": "new a"}}`)
		if st != 200 || m.count(t, shop, "orders", `{"note": "new a", "tenant": "a"}`) != 1 {
			t.Fatalf("insert: HTTP %d %v", st, r)
		}
		for _, req := range []string{
			`{"collection": "orders", "insert_one": {"tenant": "b", "amount": 1}}`,
			`{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"tenant": "b"}}}}`,
			`{"collection": "orders", "update_many": {"filter": {}, "update": {"$rename": {"note": "tenant"}}}}`,
		} {
			if st, r := api.mongoCall(t, edA, req); st != 403 {
				t.Errorf("%s: HTTP %d %v, want 403", req, st, r)
			}
		}
		st, r = api.mongoCall(t, edA, `{"collection": "orders", "update_many": {"filter": {}, "update": {"$set": {"note": "touched"}}}}`)
		if st != 200 || r["rows_affected"] != json.Number("4") {
			t.Fatalf("update: HTTP %d %v", st, r)
		}
		st, r = api.mongoCall(t, edA, `{"collection": "orders", "delete_many": {"filter": {"tenant": "b"}}}`)
		if st != 200 || r["rows_affected"] != json.Number("0") {
			t.Fatalf("delete of b's: HTTP %d %v", st, r)
		}
		st, r = api.mongoCall(t, edA, `{"collection": "orders", "delete_many": {}}`)
		if st != 200 || r["rows_affected"] != json.Number("4") {
			t.Fatalf("delete all: HTTP %d %v", st, r)
		}
		// Control: b's four orders are as they were.
		if n := m.count(t, shop, "orders", `{"tenant": "b", "note": "from b"}`); n != 4 {
			t.Fatalf("b's orders after a's writes: %d", n)
		}
		if n := m.count(t, shop, "orders", `{"tenant": "a"}`); n != 0 {
			t.Fatalf("a's orders after delete: %d", n)
		}
		// The schema of a row tenant would sample the others' documents.
		if r := api.call(t, "GET", "/api/v1/tenant/schema", veraA, nil); r.Status == 200 {
			t.Fatalf("row tenant schema: %s", r.Body)
		}
	})

	t.Run("export CSV and JSON of flattened documents", func(t *testing.T) {
		export := func(format string) (int, string) {
			req, _ := http.NewRequest("POST", api.URL+"/api/v1/tenant/query/export?format="+format,
				strings.NewReader(`{"mongo": {"collection": "customers", "find": {"sort": {"_id": 1}}}}`))
			req.Header.Set("Authorization", "Bearer "+vera)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		st, body := export("csv")
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if st != 200 || err != nil || len(recs) != 4 {
			t.Fatalf("csv: HTTP %d %v %q", st, err, body)
		}
		if h := strings.Join(recs[0], ","); h != "_id,name,email,age,address.city,address.street,tags" {
			t.Errorf("csv header %s", h)
		}
		if strings.Contains(body, "@docs") || strings.Contains(body, "Main 1") || recs[1][6] != `["vip","eu"]` {
			t.Errorf("csv body %q", body)
		}
		st, body = export("json")
		var j map[string]any
		if st != 200 || json.Unmarshal([]byte(body), &j) != nil || j["row_count"] != float64(3) || j["truncated"] != true || strings.Contains(body, "@docs") {
			t.Fatalf("json: HTTP %d %s", st, body)
		}
	})

	t.Run("schema, health, metrics, stored results", func(t *testing.T) {
		r := api.call(t, "GET", "/api/v1/tenant/schema", ann, nil)
		s := string(r.Body)
		if r.Status != 200 || !strings.Contains(s, `"mongodb"`) || !strings.Contains(s, `"address.city"`) || !strings.Contains(s, `"orders"`) || strings.Contains(s, `"secrets"`) || !strings.Contains(s, `"indexes"`) {
			t.Fatalf("schema: HTTP %d %s", r.Status, s)
		}
		if r = api.call(t, "GET", "/api/v1/tenant/health", ann, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"healthy"`) {
			t.Fatalf("health: HTTP %d %s", r.Status, r.Body)
		}
		r = api.call(t, "GET", "/api/v1/tenant/metrics", ann, nil)
		mm := r.JSON(t)
		if r.Status != 200 || mm["engine"] != "mongodb" || mm["total_queries"] == json.Number("0") {
			t.Fatalf("metrics: HTTP %d %s", r.Status, r.Body)
		}
		resp, err := http.Get(api.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		prom, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(prom), `tenantproxy_statements_total{class="read",tenant="docs"}`) && !strings.Contains(string(prom), `tenantproxy_statements_total{tenant="docs"`) {
			t.Errorf("no statements of docs in /metrics")
		}
		// A question becomes a pipeline that runs under the same policy.
		qr := api.ask(t, ann, "how many customers")
		if qm := qr.JSON(t); qr.Status != 200 || fmt.Sprint(qm["rows"]) != "[[5]]" || !strings.Contains(fmt.Sprint(qm["generated_sql"]), "db.customers.aggregate") {
			t.Fatalf("question: HTTP %d %s", qr.Status, qr.Body)
		}
		if n := m.count(t, docs, "customers", `{}`); n != 5 {
			t.Fatalf("control: %d customers", n)
		}
		qr = api.ask(t, vera, "how many orders")
		if qm := qr.JSON(t); qr.Status != 200 || fmt.Sprint(qm["rows"]) != "[[4]]" {
			t.Fatalf("viewer question: HTTP %d %s", qr.Status, qr.Body)
		}
		// The policy's dry run explains what it would run, or why not.
		r = api.call(t, "POST", "/api/v1/tenant/policy/explain", vera, map[string]any{"mongo": json.RawMessage(`{"collection": "customers", "find": {}}`)})
		if x := r.JSON(t); r.Status != 200 || x["allowed"] != true || x["capped"] != true || !strings.Contains(fmt.Sprint(x["masked_columns"]), "customers.email") || !strings.Contains(fmt.Sprint(x["sql"]), `{"$limit":4}`) {
			t.Fatalf("explain: HTTP %d %s", r.Status, r.Body)
		}
		r = api.call(t, "POST", "/api/v1/tenant/policy/explain", vera, map[string]any{"mongo": json.RawMessage(`{"collection": "orders", "pipeline": [{"$out": "x"}]}`)})
		if x := r.JSON(t); r.Status != 200 || x["allowed"] != false || !strings.Contains(string(r.Body), "stage $out is not allowed") {
			t.Fatalf("explain $out: HTTP %d %s", r.Status, r.Body)
		}
		st, q := api.mongoCall(t, ann, `{"collection": "orders", "find": {"filter": {"_id": 10}}}`)
		if st != 200 {
			t.Fatalf("HTTP %d %v", st, q)
		}
		id := q["query_id"].(string)
		if r = api.call(t, "GET", "/api/v1/tenant/query/"+id, ann, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"customer_id"`) {
			t.Fatalf("stored: HTTP %d %s", r.Status, r.Body)
		}
		if r = api.call(t, "GET", "/api/v1/tenant/query/"+id, vera, nil); r.Status != 404 {
			t.Fatalf("another user's stored result: HTTP %d", r.Status)
		}
	})

	t.Run("isolation verification of MongoDB tenants", func(t *testing.T) {
		for _, id := range []string{"docs", "shop_a", "shop_b"} {
			rep, err := api.Proxy.Verify(context.Background(), proxy.VerifyOptions{Tenant: id})
			if err != nil {
				t.Fatal(err)
			}
			tr := rep.Tenants[0]
			kinds := map[string]int64{}
			for _, c := range tr.Checks {
				if !c.Passed {
					t.Errorf("%s: check %s %q (%s) failed: %s", id, c.Kind, c.Name, c.Role, c.Reason)
				}
				kinds[c.Kind] += c.Records
			}
			if !rep.Passed || tr.ForeignRecords != 0 {
				t.Errorf("%s: passed %v foreign %d", id, rep.Passed, tr.ForeignRecords)
			}
			switch id {
			case "docs":
				if kinds[proxy.CheckMask] == 0 || kinds[proxy.CheckCap] == 0 {
					t.Errorf("docs: checks %v, want masks and caps probed", kinds)
				}
			default:
				if kinds[proxy.CheckCrossReference] == 0 {
					t.Errorf("%s: checks %v, want its documents counted", id, kinds)
				}
			}
		}
	})

	t.Run("cache: tenant-isolated keys in Redis", func(t *testing.T) {
		rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
		defer rc.Close()
		annLite := api.login(t, "ann", "ann-pw", "lite")
		req := json.RawMessage(`{"collection": "customers", "find": {"filter": {"_id": 2}, "projection": {"name": 1}}}`)
		call := func(tok string, body map[string]any) map[string]any {
			body["cache_enabled"] = true
			r := api.call(t, "POST", "/api/v1/tenant/query", tok, body)
			if r.Status != 200 {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
			return r.JSON(t)
		}
		first := call(ann, map[string]any{"mongo": req})
		again := call(ann, map[string]any{"mongo": req})
		if first["cached"] != false || again["cached"] != true || fmt.Sprint(again["rows"]) != "[[2 Bob]]" {
			t.Fatalf("mongo cache: %v / %v", first, again)
		}
		sq := call(annLite, map[string]any{"sql": "SELECT id, name FROM customers WHERE id = 2"})
		sq2 := call(annLite, map[string]any{"sql": "SELECT id, name FROM customers WHERE id = 2"})
		if sq["cached"] != false || sq2["cached"] != true || fmt.Sprint(sq2["rows"]) != "[[2 Bob lite_sql]]" {
			t.Fatalf("sql cache: %v / %v", sq, sq2)
		}
		// The same request on the other row tenant is its own entry.
		ra := call(edA, map[string]any{"mongo": json.RawMessage(`{"collection": "customers", "find": {"projection": {"name": 1}}}`)})
		rb := call(boB, map[string]any{"mongo": json.RawMessage(`{"collection": "customers", "find": {"projection": {"name": 1}}}`)})
		if rb["cached"] != false || strings.Contains(fmt.Sprint(rb["rows"]), "Cust a") || strings.Contains(fmt.Sprint(ra["rows"]), "Cust b") {
			t.Fatalf("row tenants' cache: a %v b %v", ra, rb)
		}
		// A write through the API retires the cached reads of its collection.
		cnt := json.RawMessage(`{"collection": "orders", "pipeline": [{"$count": "n"}]}`)
		call(ed, map[string]any{"mongo": cnt})
		if c := call(ed, map[string]any{"mongo": cnt}); c["cached"] != true || fmt.Sprint(c["rows"]) != "[[4]]" {
			t.Fatalf("cached count: %v", c)
		}
		if st, r := api.mongoCall(t, ed, `{"collection": "orders", "insert_one": {"_id": 15, "amount": 1}}`); st != 200 {
			t.Fatalf("insert: HTTP %d %v", st, r)
		}
		if c := call(ed, map[string]any{"mongo": cnt}); c["cached"] != false || fmt.Sprint(c["rows"]) != "[[5]]" {
			t.Fatalf("count after the write: %v", c)
		}
		keys, err := rc.Keys(context.Background(), "tp:q:*").Result()
		if err != nil || len(keys) < 4 {
			t.Fatalf("redis keys: %d %v", len(keys), err)
		}
		// Control: the cached SQLite answer is the file's.
		db, err := sql.Open("sqlite", "file:"+lite)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var name string
		if err := db.QueryRow("SELECT name FROM customers WHERE id = 2").Scan(&name); err != nil || name != "Bob lite_sql" {
			t.Fatalf("control: %q %v", name, err)
		}
	})

	t.Run("wire clients are told the tenant is served through the API", func(t *testing.T) {
		_, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://ann:ann-pw@%s/docs?sslmode=disable", api.PGAddr))
		if err == nil || !strings.Contains(err.Error(), "admin API only") {
			t.Fatalf("postgres: %v", err)
		}
		db, err := sql.Open("mysql", fmt.Sprintf("ann:ann-pw@tcp(%s)/docs?tls=skip-verify&allowCleartextPasswords=true", api.MySQLAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Ping()
		if err == nil || !strings.Contains(err.Error(), "admin API only") {
			t.Fatalf("mysql: %v", err)
		}
	})
}

// TestMongoOutage takes a MongoDB tenant's server down: its requests fail
// with 503 and a message naming the tenant, its breaker opens, its health
// says unhealthy, and another tenant is untouched.
func TestMongoOutage(t *testing.T) {
	m := startFerretDB(t)
	db := dbName("outage")
	m.insert(t, db, "things", `{"_id": 1, "name": "one"}`)
	lite := sqliteFile(t, "lite_up")
	api := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: docs, engine: mongodb, dsn: "mongodb://%s/%s", pool: {size: 2, timeout: 2s}, breaker: {threshold: 2, timeout: 30s}}
  - {id: lite, engine: sqlite, dsn: "file:%s"}
  - {id: limited, engine: mongodb, dsn: "mongodb://%[1]s/%[2]s", limits: {qps: 0.1, burst: 1}}
users:
  - {name: ann, password: ann-pw, tenants: {docs: analyst, lite: analyst, limited: analyst}}
`, m.Addr, db, lite))
	// The tenant's rate limit holds for its API requests.
	annLim := api.login(t, "ann", "ann-pw", "limited")
	if st, r := api.mongoCall(t, annLim, `{"collection": "things", "find": {}}`); st != 200 {
		t.Fatalf("first limited request: HTTP %d %v", st, r)
	}
	if st, r := api.mongoCall(t, annLim, `{"collection": "things", "find": {}}`); st != 429 || !strings.Contains(errMessage(r), "rate limit") {
		t.Fatalf("second limited request: HTTP %d %v, want 429", st, r)
	}
	ann := api.login(t, "ann", "ann-pw", "docs")
	annLite := api.login(t, "ann", "ann-pw", "lite")
	if st, r := api.mongoCall(t, ann, `{"collection": "things", "find": {}}`); st != 200 || fmt.Sprint(r["rows"]) != "[[1 one]]" {
		t.Fatalf("before: HTTP %d %v", st, r)
	}
	m.Stop()
	var last map[string]any
	for i := 0; i < 4; i++ {
		t0 := time.Now()
		st, r := api.mongoCall(t, ann, `{"collection": "things", "find": {}}`)
		t.Logf("request %d: %s %d %s", i, time.Since(t0), st, errMessage(r))
		if st != 503 || !strings.Contains(errMessage(r), `"docs"`) {
			t.Fatalf("request %d during the outage: HTTP %d %v", i, st, r)
		}
		last = r
	}
	ts, _ := api.Proxy.Tenant("docs")
	if h := ts.MongoPool.Health(); h.Breaker != "open" {
		t.Fatalf("breaker %+v after the outage (last answer %v)", h, last)
	}
	if r := api.call(t, "GET", "/api/v1/tenant/health", ann, nil); r.Status != 503 || !strings.Contains(string(r.Body), "unhealthy") {
		t.Fatalf("health: HTTP %d %s", r.Status, r.Body)
	}
	if st, r := api.sqlQuery(t, annLite, "SELECT count(*) FROM customers"); st != 200 || fmt.Sprint(r["rows"]) != "[[5]]" {
		t.Fatalf("the other tenant: HTTP %d %v", st, r)
	}
}
