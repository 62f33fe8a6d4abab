package mongopipe

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// memLookup answers Env.Lookup from an in-memory collection by running a
// {foreignField: {$in: values}} query and the given pipeline through Eval,
// as the policy layer would through the backend; it records each call.
type memLookup struct {
	colls map[string][]bson.D
	calls []lookupCall
}

type lookupCall struct {
	from, field string
	values      []any
	stages      int
}

func (m *memLookup) lookup(ctx context.Context, from, field string, values []any, pipeline []bson.D) ([]bson.D, error) {
	m.calls = append(m.calls, lookupCall{from, field, values, len(pipeline)})
	var p []bson.D
	if field != "" {
		p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: bson.A(values)}}}}}})
	}
	p = append(p, pipeline...)
	it, err := Eval(ctx, p, SliceIter(append([]bson.D(nil), m.colls[from]...)), Env{})
	if err != nil {
		return nil, err
	}
	return Collect(ctx, it, 0)
}

const ordersJSON = `[
 {"_id": 1, "cust": 10, "amount": 5},
 {"_id": 2, "cust": 11, "amount": 7.5},
 {"_id": 3, "cust": 10, "amount": 2},
 {"_id": 4, "amount": 1},
 {"_id": 5, "cust": [11, 12], "amount": 3}
]`

const customersJSON = `[
 {"_id": 10, "name": "ann", "tier": "gold"},
 {"_id": 11, "name": "bob", "tier": "std"},
 {"_id": 12, "name": "cy", "tier": "gold"},
 {"_id": 13, "name": "nobody"}
]`

func TestLookupStage(t *testing.T) {
	cases := []pipeCase{
		{"equality", `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$project": {"n": "$c.name"}}]`,
			`{_id: 1, n: ["ann"]}` + "\n" + `{_id: 2, n: ["bob"]}` + "\n" + `{_id: 3, n: ["ann"]}` + "\n" + "{_id: 4, n: []}\n" + `{_id: 5, n: ["bob", "cy"]}`},
		{"missing local matches missing foreign", `[{"$match": {"_id": 4}}, {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "tier", "as": "c"}}, {"$project": {"n": "$c.name"}}]`,
			`{_id: 4, n: ["nobody"]}`},
		{"with pipeline", `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c",
			"pipeline": [{"$match": {"tier": "gold"}}, {"$project": {"_id": 0, "name": 1}}, {"$limit": 1}]}}, {"$project": {"c": 1}}]`,
			`{_id: 1, c: [{name: "ann"}]}` + "\n" + "{_id: 2, c: []}\n" + `{_id: 3, c: [{name: "ann"}]}` + "\n" + "{_id: 4, c: []}\n" + `{_id: 5, c: [{name: "cy"}]}`},
		{"uncorrelated", `[{"$limit": 2}, {"$lookup": {"from": "customers", "as": "g", "pipeline": [{"$match": {"tier": "gold"}}, {"$count": "n"}]}}, {"$project": {"g": 1}}]`,
			"{_id: 1, g: [{n: 2}]}\n{_id: 2, g: [{n: 2}]}"},
		{"lookup unwind group avg", `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}},
			{"$unwind": "$c"}, {"$group": {"_id": "$c.tier", "avg": {"$avg": "$amount"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]`,
			`{_id: "gold", avg: 3.3333333333333335, n: 3}` + "\n" + `{_id: "std", avg: 5.25, n: 2}`},
		{"let refused", `[{"$lookup": {"from": "customers", "let": {"x": "$cust"}, "pipeline": [], "as": "c"}}]`, "error 51047"},
		{"unknown stage inside", `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c", "pipeline": [{"$facet": {}}]}}]`, "error 40324"},
		{"half correlation", `[{"$lookup": {"from": "customers", "localField": "cust", "as": "c"}}]`, "error 9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &memLookup{colls: map[string][]bson.D{"customers": parseDocs(t, customersJSON)}}
			got, err := runLocal(t, tc.pipeline, parseDocs(t, ordersJSON), Env{Lookup: m.lookup})
			if err != nil {
				got = showErr(err)
			}
			if len(tc.want) > 6 && tc.want[:6] == "error " {
				if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
					t.Fatalf("got %s, want %s…", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestLookupBatches checks that $lookup asks for the foreign documents of
// a whole batch of inputs in one call, with each distinct value once, and
// passes the sub-pipeline's leading $match to the reader.
func TestLookupBatches(t *testing.T) {
	m := &memLookup{colls: map[string][]bson.D{"customers": parseDocs(t, customersJSON)}}
	got, err := runLocal(t, `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c",
		"pipeline": [{"$match": {"tier": "gold"}}, {"$project": {"name": 1}}]}}, {"$project": {"k": {"$size": "$c"}}}]`,
		parseDocs(t, ordersJSON), Env{Lookup: m.lookup, LookupBatch: 3, Caps: FerretDB1Caps()})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{_id: 1, k: 1}\n{_id: 2, k: 0}\n{_id: 3, k: 1}\n{_id: 4, k: 0}\n{_id: 5, k: 1}"; got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(m.calls) != 2 {
		t.Fatalf("5 inputs in batches of 3 should take 2 reads, took %d: %+v", len(m.calls), m.calls)
	}
	if show(bson.A(m.calls[0].values)) != "[10, 11]" || show(bson.A(m.calls[1].values)) != "[null, 11, 12]" {
		t.Fatalf("batch values: %v / %v", show(bson.A(m.calls[0].values)), show(bson.A(m.calls[1].values)))
	}
	if m.calls[0].from != "customers" || m.calls[0].field != "_id" || m.calls[0].stages != 1 {
		t.Fatalf("call: %+v", m.calls[0])
	}
	// A $match the backend cannot run ($expr on FerretDB) is not handed to
	// the reader: it runs here, with the same result.
	m.calls = nil
	got, err = runLocal(t, `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c",
		"pipeline": [{"$match": {"$expr": {"$eq": ["$tier", "gold"]}}}, {"$project": {"name": 1}}]}}, {"$project": {"k": {"$size": "$c"}}}]`,
		parseDocs(t, ordersJSON), Env{Lookup: m.lookup, Caps: FerretDB1Caps()})
	if err != nil || got != "{_id: 1, k: 1}\n{_id: 2, k: 0}\n{_id: 3, k: 1}\n{_id: 4, k: 0}\n{_id: 5, k: 1}" {
		t.Fatalf("got %s, %v", got, err)
	}
	if len(m.calls) != 1 || m.calls[0].stages != 0 {
		t.Fatalf("calls: %+v", m.calls)
	}
}

func TestLookupReaderErrorsAndAbsence(t *testing.T) {
	_, err := runLocal(t, `[{"$lookup": {"from": "c", "localField": "a", "foreignField": "b", "as": "x"}}]`, parseDocs(t, ordersJSON), Env{})
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != codeLookupUnsupported {
		t.Fatalf("no reader: got %v", err)
	}
	denied := errors.New("policy: collection customers is not readable by this tenant")
	_, err = runLocal(t, `[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "x"}}]`, parseDocs(t, ordersJSON),
		Env{Lookup: func(context.Context, string, string, []any, []bson.D) ([]bson.D, error) { return nil, denied }})
	if !errors.Is(err, denied) {
		t.Fatalf("reader error must pass through unchanged, got %v", err)
	}
}

// TestLookupGoTypedReader: a reader that builds documents in Go code (int,
// bson.M) still matches and compares as decoded documents would.
func TestLookupGoTypedReader(t *testing.T) {
	reader := func(context.Context, string, string, []any, []bson.D) ([]bson.D, error) {
		return []bson.D{{{Key: "_id", Value: 10}, {Key: "info", Value: bson.M{"n": 1}}}}, nil
	}
	got, err := runLocal(t, `[{"$match": {"_id": 1}}, {"$lookup": {"from": "c", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$project": {"c": 1}}]`,
		parseDocs(t, ordersJSON), Env{Lookup: reader})
	if err != nil || got != "{_id: 1, c: [{_id: 10, info: {n: 1}}]}" {
		t.Fatalf("got %s, %v", got, err)
	}
	if _, err := Eval(context.Background(), nil, nil, Env{}); err == nil {
		t.Fatal("Eval with no input must fail")
	}
}

// TestLookupEqualityRules: the batch's local matching follows query
// equality: numbers across types, array fields by element, null with
// missing, documents by value, regex local values by pattern.
func TestLookupEqualityRules(t *testing.T) {
	foreign := `[
	 {"_id": 1, "k": 10},
	 {"_id": 2, "k": [10.0, 20]},
	 {"_id": 3, "k": null},
	 {"_id": 4},
	 {"_id": 5, "k": {"a": 1}},
	 {"_id": 6, "k": "abc"},
	 {"_id": 7, "k": {"$numberLong": "20"}},
	 {"_id": 8, "k": [{"a": 1}]}
	]`
	local := `[
	 {"_id": "int", "v": 10},
	 {"_id": "double", "v": 20.0},
	 {"_id": "missing"},
	 {"_id": "doc", "v": {"a": 1}},
	 {"_id": "array", "v": [10, "abc"]},
	 {"_id": "regex", "v": {"$regularExpression": {"pattern": "^ab", "options": ""}}},
	 {"_id": "none", "v": 99}
	]`
	m := &memLookup{colls: map[string][]bson.D{"f": parseDocs(t, foreign)}}
	got, err := runLocal(t, `[{"$lookup": {"from": "f", "localField": "v", "foreignField": "k", "as": "m"}}, {"$project": {"ids": "$m._id"}}]`,
		parseDocs(t, local), Env{Lookup: m.lookup})
	if err != nil {
		t.Fatal(err)
	}
	want := `{_id: "int", ids: [1, 2]}
{_id: "double", ids: [2, 7]}
{_id: "missing", ids: [3, 4]}
{_id: "doc", ids: [5, 8]}
{_id: "array", ids: [1, 2, 6]}
{_id: "regex", ids: [6]}
{_id: "none", ids: []}`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(m.calls) != 1 {
		t.Fatalf("one batch, %d reads", len(m.calls))
	}
}
