package mongopipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ferretUnavailable skips, or under CI=true fails, when FerretDB cannot
// be built or started.
func ferretUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startFerretDB runs a private FerretDB 1.24.2 (SQLite handler) for the
// test and returns a database on it; both go away when the test ends.
func startFerretDB(t *testing.T) *mongo.Database {
	t.Helper()
	var out, errOut bytes.Buffer
	build := exec.Command("bash", "../../test/ferretdb/build.sh")
	build.Stdout, build.Stderr = &out, &errOut
	if err := build.Run(); err != nil {
		ferretUnavailable(t, "building FerretDB failed: %v\n%s", err, errOut.String())
	}
	bin := strings.TrimSpace(out.String())
	dir := t.TempDir()
	port, debugPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--handler=sqlite", "--sqlite-url=file:"+dir+"/", "--state-dir="+dir,
		fmt.Sprintf("--listen-addr=127.0.0.1:%d", port), fmt.Sprintf("--debug-addr=127.0.0.1:%d", debugPort),
		"--telemetry=disable", "--log-level=ERROR")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		ferretUnavailable(t, "starting FerretDB: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	client, err := mongo.Connect(options.Client().ApplyURI(fmt.Sprintf("mongodb://127.0.0.1:%d/", port)).
		SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = client.Ping(ctx, nil)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			ferretUnavailable(t, "FerretDB did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return client.Database(fmt.Sprintf("pipe_%d", time.Now().UnixNano()))
}

func loadJSON(t *testing.T, db *mongo.Database, coll, js string) {
	t.Helper()
	var docs []any
	for _, d := range parseDocs(t, js) {
		docs = append(docs, d)
	}
	if _, err := db.Collection(coll).InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("insert into %s: %v", coll, err)
	}
}

func pipelineOf(t *testing.T, js string) []bson.D {
	t.Helper()
	var p []bson.D
	for _, st := range parseArr(t, js) {
		p = append(p, st.(bson.D))
	}
	return p
}

func aggregate(ctx context.Context, db *mongo.Database, coll string, p []bson.D) ([]bson.D, error) {
	cur, err := db.Collection(coll).Aggregate(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []bson.D
	err = cur.All(ctx, &out)
	return out, err
}

// backendLookup is Env.Lookup as the policy layer gives it, reduced to
// the query itself: the foreign collection read with an $in filter plus
// the passed stages, in _id order.
func backendLookup(db *mongo.Database, calls *int) LookupFunc {
	return func(ctx context.Context, from, field string, values []any, pipeline []bson.D) ([]bson.D, error) {
		*calls++
		var p []bson.D
		if field != "" {
			p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: bson.A(values)}}}}}})
		}
		p = append(p, pipeline...)
		p = append(p, bson.D{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}})
		return aggregate(ctx, db, from, p)
	}
}

// runSplit runs a pipeline the way the proxy does (Run: Split, the pushed
// part on the backend, the rest through Eval over the backend's cursor)
// and reports how many stages the backend ran.
func runSplit(ctx context.Context, db *mongo.Database, caps Caps, coll string, p []bson.D, env Env) ([]bson.D, int, error) {
	pushed := -1
	it, err := Run(ctx, p, caps, func(ctx context.Context, push []bson.D) (*mongo.Cursor, error) {
		pushed = len(push)
		return db.Collection(coll).Aggregate(ctx, push)
	}, env)
	if err != nil {
		return nil, pushed, err
	}
	out, err := Collect(ctx, it, 0)
	return out, pushed, err
}

const ferretCustomers = `[
 {"_id": 10, "name": "Ann", "tier": "gold"},
 {"_id": 11, "name": "Bob", "tier": "std"},
 {"_id": 12, "name": "Cy", "tier": "gold"},
 {"_id": 13, "name": "Dee"}
]`

const ferretOrders = `[
 {"_id": 1, "cust": 10, "amount": 5, "qty": 2, "at": {"$date": "2024-01-15T10:00:00Z"}, "tags": ["a", "b"]},
 {"_id": 2, "cust": 11, "amount": 7.5, "qty": 3, "at": {"$date": "2024-02-01T00:00:00Z"}, "tags": []},
 {"_id": 3, "cust": 10, "amount": 2, "qty": {"$numberLong": "4"}, "at": {"$date": "2024-02-20T23:59:59Z"}},
 {"_id": 4, "amount": 1, "qty": 1, "at": {"$date": "2023-12-31T12:00:00Z"}, "tags": ["b"]},
 {"_id": 5, "cust": 12, "amount": 3, "qty": 5, "at": {"$date": "2024-01-02T08:30:00Z"}, "tags": null},
 {"_id": 6, "cust": 11, "amount": "unknown", "qty": 2, "at": {"$date": "2024-03-03T03:03:03Z"}},
 {"_id": 7, "cust": 99, "amount": 4, "qty": 0, "at": {"$date": "2024-03-04T00:00:00Z"}, "tags": ["c"]}
]`

// ferretMixed has values of many types, arrays and embedded documents in
// the same fields, to hold the pushed stages to MongoDB's type rules.
const ferretMixed = `[
 {"_id": 1, "v": 1, "w": {"k": 1}, "arr": [1, 5]},
 {"_id": 2, "v": 2.5, "w": {"k": 2, "z": "a"}, "arr": []},
 {"_id": 3, "v": {"$numberLong": "3"}, "w": null, "arr": [1.5, 2]},
 {"_id": 4, "v": "10", "w": [{"k": 1}, {"k": 3}], "arr": ["x"]},
 {"_id": 5, "v": null, "arr": null},
 {"_id": 6, "w": "k"},
 {"_id": 7, "v": true, "w": {"k": [1, 2]}, "arr": [{"k": 2}]},
 {"_id": 8, "v": {"$date": "2020-01-01T00:00:00Z"}, "arr": [3, -1]},
 {"_id": 9, "v": [2, 0], "w": {}},
 {"_id": 10, "v": {"a": 1}, "arr": [null]},
 {"_id": 11, "v": -0.5, "w": {"k": "1"}},
 {"_id": 12, "v": {"$numberLong": "9007199254740993"}, "arr": [{"$numberLong": "2"}]}
]`

// TestFerretDBPushedTypeRules runs pushable stages over mixed types on
// FerretDB and through the evaluator: both must give the same documents.
func TestFerretDBPushedTypeRules(t *testing.T) {
	db := startFerretDB(t)
	ctx := context.Background()
	loadJSON(t, db, "mixed", ferretMixed)
	caps, err := Detect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := aggregate(ctx, db, "mixed", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, js := range []string{
		`[{"$sort": {"v": 1, "_id": 1}}]`,
		`[{"$sort": {"v": -1, "_id": 1}}]`,
		`[{"$sort": {"arr": 1, "_id": 1}}]`,
		`[{"$sort": {"arr": -1, "_id": 1}}]`,
		`[{"$sort": {"w.k": 1, "_id": -1}}]`,
		`[{"$match": {"v": {"$gt": 1}}}]`,
		`[{"$match": {"v": {"$lte": 3}}}]`,
		`[{"$match": {"v": {"$gte": null}}}]`,
		`[{"$match": {"v": {"$ne": null}}}]`,
		`[{"$match": {"v": 2}}]`,
		`[{"$match": {"v": [2, 0]}}]`,
		`[{"$match": {"arr": 2}}]`,
		`[{"$match": {"arr": {"$gt": 4}}}]`,
		`[{"$match": {"arr": null}}]`,
		`[{"$match": {"arr": []}}]`,
		`[{"$match": {"arr.k": 2}}]`,
		`[{"$match": {"w.k": 1}}]`,
		`[{"$match": {"w.k": {"$exists": true}}}]`,
		`[{"$match": {"w.k": {"$in": [3, "1"]}}}]`,
		`[{"$match": {"w": {"k": 1}}}]`,
		`[{"$match": {"w": {"$type": "object"}}}]`,
		`[{"$match": {"v": {"$not": {"$lt": 2}}}}]`,
		`[{"$match": {"v": {"$regex": "^1"}}}]`,
		`[{"$match": {"v": {"$numberLong": "9007199254740992"}}}]`,
		`[{"$match": {"v": {"$in": [{"$regularExpression": {"pattern": "^1", "options": ""}}, 1]}}}]`,
		`[{"$match": {"w.k": {"$regex": "1"}}}]`,
		`[{"$match": {"arr": {"$exists": false}}}]`,
		`[{"$match": {"arr": {"$eq": null}}}]`,
		`[{"$match": {"arr": {"$nin": [null, 5]}}}]`,
		`[{"$match": {"v": {"$gt": {"$date": "2019-01-01T00:00:00Z"}}}}]`,
		`[{"$match": {"v": {"$lt": true}}}]`,
		`[{"$match": {"v": {"$gte": {"$numberLong": "3"}, "$lt": 1e300}}}]`,
		`[{"$match": {"$and": [{"v": {"$ne": 1}}, {"v": {"$ne": "10"}}], "w": {"$exists": true}}}]`,
		`[{"$sort": {"w": 1, "v": -1}}]`,
		`[{"$sort": {"v": 1, "_id": 1}}, {"$skip": 3}, {"$limit": 4}, {"$count": "n"}]`,
		`[{"$project": {"_id": 0}}]`,
		`[{"$project": {"w.k": 1}}]`,
		`[{"$project": {"w.k": 0, "arr": 0}}]`,
		`[{"$addFields": {"w.n": 5}}]`,
		`[{"$unset": "w.k"}]`,
		`[{"$group": {"_id": "$w.k", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": "$v", "n": {"$count": {}}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": null, "s": {"$sum": "$v"}}}]`,
		`[{"$group": {"_id": null, "s": {"$sum": "$arr"}}}]`,
	} {
		p := pipelineOf(t, js)
		push, _ := Split(p, caps)
		onServer, srvErr := aggregate(ctx, db, "mixed", p)
		it, err := Eval(ctx, p, SliceIter(append([]bson.D(nil), raw...)), Env{})
		if err != nil {
			if len(push) == len(p) {
				t.Errorf("%s: pushed but refused locally: %v", js, err)
			}
			continue
		}
		local, err := Collect(ctx, it, 0)
		if err != nil {
			t.Fatal(err)
		}
		same := srvErr == nil && showDocs(onServer) == showDocs(local)
		if len(push) == len(p) && !same {
			t.Errorf("%s: pushed, but FerretDB differs (err %v)\nferretdb:\n%s\nlocal:\n%s", js, srvErr, showDocs(onServer), showDocs(local))
		}
		if len(push) < len(p) {
			t.Logf("%s: kept local (FerretDB same: %v)", js, same)
		}
	}
}

// TestFerretDBRunRefusesBeforeAsking: a pipeline with a stage neither side
// runs fails without a query to the backend.
func TestFerretDBRunRefusesBeforeAsking(t *testing.T) {
	db := startFerretDB(t)
	ctx := context.Background()
	caps, err := Detect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	asked := false
	_, err = Run(ctx, pipelineOf(t, `[{"$match": {"a": 1}}, {"$graphLookup": {"from": "x"}}]`), caps,
		func(ctx context.Context, push []bson.D) (*mongo.Cursor, error) {
			asked = true
			return db.Collection("orders").Aggregate(ctx, push)
		}, Env{Lookup: backendLookup(db, new(int))})
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != codeUnknownStage || !strings.Contains(pe.Msg, "$graphLookup") || asked {
		t.Fatalf("got %v (backend asked: %v)", err, asked)
	}
}

func TestFerretDBDetect(t *testing.T) {
	db := startFerretDB(t)
	caps, err := Detect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if caps.All || caps.Lookup || caps.Backend != "ferretdb v1.24.2" {
		t.Fatalf("caps %+v", caps)
	}
	for _, s := range []string{"$match", "$group", "$sort", "$limit", "$skip", "$project", "$count", "$addFields", "$set", "$unset"} {
		if !caps.Stages[s] {
			t.Errorf("FerretDB runs %s, caps lack it", s)
		}
	}
	// $unwind is listed by FerretDB but not exact (see FerretDB1Caps).
	for _, s := range []string{"$lookup", "$replaceRoot", "$facet", "$unionWith", "$unwind"} {
		if caps.Stages[s] {
			t.Errorf("caps claim %s", s)
		}
	}
}

// TestFerretDBCapsAreExact checks the caps against the server: every
// stage Split would push gives on FerretDB exactly what Eval gives over
// the raw collection, and what Split keeps local FerretDB refuses or
// answers differently.
func TestFerretDBCapsAreExact(t *testing.T) {
	db := startFerretDB(t)
	ctx := context.Background()
	loadJSON(t, db, "orders", ferretOrders)
	caps, err := Detect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := aggregate(ctx, db, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	pushed := []string{
		`[{"$match": {"amount": {"$gt": 2}}}]`,
		`[{"$match": {"amount": {"$gte": 2, "$lt": 7.5}, "cust": {"$in": [10, 12, 99]}}}]`,
		`[{"$match": {"cust": {"$nin": [10]}, "tags": {"$exists": true}}}]`,
		`[{"$match": {"$or": [{"tags": "b"}, {"qty": 4}], "$nor": [{"amount": 1}]}}]`,
		`[{"$match": {"cust": null}}]`,
		`[{"$match": {"amount": {"$not": {"$gt": 3}}}}]`,
		`[{"$match": {"amount": {"$regex": "^unk"}}}]`,
		`[{"$match": {"tags": {"$ne": "b"}}}]`,
		`[{"$sort": {"amount": 1, "_id": 1}}]`,
		`[{"$sort": {"tags": -1, "_id": 1}}]`,
		`[{"$sort": {"cust": -1, "_id": -1}}, {"$skip": 2}, {"$limit": 3}]`,
		`[{"$project": {"amount": 1, "qty": 1}}]`,
		`[{"$project": {"_id": 0, "tags": 0, "at": 0}}]`,
		`[{"$unset": ["at", "tags"]}]`,
		`[{"$addFields": {"k": 5, "s": "text", "b": true}}]`,
		`[{"$group": {"_id": "$cust", "total": {"$sum": "$amount"}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": "$cust", "q": {"$sum": "$qty"}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": "$cust", "n": {"$count": {}}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": "$tags", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": null, "n": {"$sum": 2.5}}}]`,
		`[{"$group": {"_id": {"c": "$cust", "t": "$tags"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]`,
		`[{"$group": {"_id": {"c": "$cust"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]`,
		`[{"$match": {"qty": {"$gt": 1}}}, {"$count": "n"}]`,
	}
	for _, js := range pushed {
		p := pipelineOf(t, js)
		if push, local := Split(p, caps); len(local) != 0 {
			t.Errorf("%s: Split keeps %d stages local (pushed %d)", js, len(local), len(push))
			continue
		}
		onServer, err := aggregate(ctx, db, "orders", p)
		if err != nil {
			t.Errorf("%s: FerretDB refuses a stage the caps claim: %v", js, err)
			continue
		}
		it, err := Eval(ctx, p, SliceIter(append([]bson.D(nil), raw...)), Env{})
		if err != nil {
			t.Fatal(err)
		}
		local, err := Collect(ctx, it, 0)
		if err != nil {
			t.Fatal(err)
		}
		if showDocs(onServer) != showDocs(local) {
			t.Errorf("%s: FerretDB and the evaluator differ\nferretdb:\n%s\nlocal:\n%s", js, showDocs(onServer), showDocs(local))
		}
	}
	kept := []string{
		`[{"$match": {"$expr": {"$gt": ["$qty", 2]}}}]`,
		`[{"$project": {"r": {"$divide": ["$qty", 2]}}}]`,
		`[{"$unwind": "$tags"}]`,
		`[{"$group": {"_id": "$cust", "total": {"$sum": "$amount"}, "q": {"$sum": "$qty"}}}, {"$sort": {"_id": 1}}]`,
		`[{"$addFields": {"c2": "$cust"}}]`,
		`[{"$group": {"_id": "$cust", "m": {"$avg": "$amount"}}}]`,
		`[{"$group": {"_id": null, "m": {"$max": "$amount"}}}]`,
		`[{"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": true}}]`,
		`[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}}]`,
		`[{"$replaceRoot": {"newRoot": {"x": "$cust"}}}]`,
	}
	for _, js := range kept {
		p := pipelineOf(t, js)
		if push, _ := Split(p, caps); len(push) != 0 {
			t.Errorf("%s: Split pushes it", js)
		}
		onServer, srvErr := aggregate(ctx, db, "orders", p)
		it, err := Eval(ctx, p, SliceIter(append([]bson.D(nil), raw...)), Env{Lookup: backendLookup(db, new(int))})
		if err != nil {
			t.Fatal(err)
		}
		local, err := Collect(ctx, it, 0)
		if err != nil {
			t.Fatal(err)
		}
		if srvErr == nil && showDocs(onServer) == showDocs(local) {
			t.Errorf("%s: FerretDB runs it exactly; the caps could push it", js)
		}
	}
}

func TestFerretDBLocalCompletion(t *testing.T) {
	db := startFerretDB(t)
	ctx := context.Background()
	loadJSON(t, db, "orders", ferretOrders)
	loadJSON(t, db, "customers", ferretCustomers)
	caps, err := Detect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, pipeline string
		push           int
		want           string
	}{
		{"lookup unwind group avg",
			`[{"$match": {"amount": {"$gte": 2}}},
			  {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}},
			  {"$unwind": "$c"},
			  {"$group": {"_id": "$c.tier", "avg": {"$avg": "$amount"}, "n": {"$sum": 1}, "who": {"$addToSet": "$c.name"}}},
			  {"$sort": {"_id": 1}}]`, 1,
			"{_id: \"gold\", avg: 3.3333333333333335, n: 3, who: [\"Ann\", \"Cy\"]}\n" +
				"{_id: \"std\", avg: 7.5, n: 1, who: [\"Bob\"]}"},
		{"project with divide",
			`[{"$match": {"qty": {"$gt": 0}}}, {"$sort": {"_id": 1}}, {"$limit": 4},
			  {"$project": {"_id": 0, "id": "$_id", "unit": {"$divide": ["$amount", "$qty"]}, "month": {"$dateToString": {"format": "%Y-%m", "date": "$at"}}}}]`, 3,
			"{id: 1, unit: 2.5, month: \"2024-01\"}\n{id: 2, unit: 2.5, month: \"2024-02\"}\n" +
				"{id: 3, unit: 0.5, month: \"2024-02\"}\n{id: 4, unit: 1.0, month: \"2023-12\"}"},
		{"pushed group then local expressions",
			`[{"$group": {"_id": "$cust", "total": {"$sum": "$amount"}}},
			  {"$sort": {"_id": 1}},
			  {"$set": {"third": {"$round": [{"$divide": ["$total", 3]}, 2]}, "label": {"$concat": ["c-", {"$toString": "$_id"}]}}},
			  {"$match": {"$expr": {"$gt": ["$third", 1]}}}]`, 2,
			"{_id: 10, total: 7, third: 2.33, label: \"c-10\"}\n" +
				"{_id: 11, total: 7.5, third: 2.5, label: \"c-11\"}\n" +
				"{_id: 99, total: 4, third: 1.33, label: \"c-99\"}"},
		{"limit after a local stage stays local",
			`[{"$addFields": {"score": {"$multiply": ["$qty", -1]}}}, {"$sort": {"score": 1, "_id": 1}}, {"$limit": 2}, {"$project": {"score": 1}}]`, 0,
			"{_id: 5, score: -5}\n{_id: 3, score: -4L}"},
		{"lookup sub-pipeline with a match the backend cannot run",
			`[{"$match": {"_id": {"$lte": 3}}}, {"$sort": {"_id": 1}},
			  {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c",
			    "pipeline": [{"$match": {"tier": "gold"}}, {"$match": {"$expr": {"$eq": [{"$toLower": "$name"}, "ann"]}}}]}},
			  {"$project": {"n": {"$size": "$c"}}}]`, 2,
			"{_id: 1, n: 1}\n{_id: 2, n: 0}\n{_id: 3, n: 1}"},
		{"lookup with sub-pipeline and replaceRoot",
			`[{"$match": {"cust": {"$in": [10, 11, 12]}}}, {"$sort": {"_id": 1}},
			  {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c",
			    "pipeline": [{"$match": {"tier": "gold"}}, {"$project": {"_id": 0, "name": {"$toUpper": "$name"}}}]}},
			  {"$unwind": {"path": "$c", "preserveNullAndEmptyArrays": true}},
			  {"$replaceWith": {"order": "$_id", "who": {"$ifNull": ["$c.name", "-"]}, "y": {"$year": "$at"}}}]`, 2,
			"{order: 1, who: \"ANN\", y: 2024}\n{order: 2, who: \"-\", y: 2024}\n{order: 3, who: \"ANN\", y: 2024}\n" +
				"{order: 5, who: \"CY\", y: 2024}\n{order: 6, who: \"-\", y: 2024}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pipelineOf(t, tc.pipeline)
			calls := 0
			env := Env{Lookup: backendLookup(db, &calls), LookupBatch: 100, Caps: caps}
			got, pushed, err := runSplit(ctx, db, caps, "orders", p, env)
			if err != nil {
				t.Fatal(err)
			}
			if pushed != tc.push {
				t.Errorf("pushed %d stages, want %d", pushed, tc.push)
			}
			if showDocs(got) != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", showDocs(got), tc.want)
			}
			if strings.Contains(tc.pipeline, "$lookup") && calls != 1 {
				t.Errorf("one batch should take one foreign read, took %d", calls)
			}
			// Control: the pushed part alone runs on FerretDB; the whole
			// pipeline does not, which is why it is completed here.
			if _, err := aggregate(ctx, db, "orders", p[:pushed]); err != nil {
				t.Errorf("pushed part fails on FerretDB: %v", err)
			}
			whole, err := aggregate(ctx, db, "orders", p)
			var ce mongo.CommandError
			switch {
			case errors.As(err, &ce):
				t.Logf("FerretDB alone: %s (%d)", ce.Message, ce.Code)
			case err == nil && showDocs(whole) == tc.want:
				t.Errorf("FerretDB runs the whole pipeline exactly; local completion was not needed")
			case err == nil:
				t.Logf("FerretDB alone gives different documents:\n%s", showDocs(whole))
			default:
				t.Errorf("unexpected error from FerretDB: %v", err)
			}
		})
	}
}
