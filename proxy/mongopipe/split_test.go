package mongopipe

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestSplit(t *testing.T) {
	noLookup := FullCaps()
	noLookup.Lookup = false
	cases := []struct {
		name, pipeline string
		caps           Caps
		push           int
	}{
		{"mongodb runs everything", `[{"$lookup": {"from": "c", "localField": "a", "foreignField": "b", "as": "x"}}, {"$facet": {}}]`, FullCaps(), 2},
		{"mongodb without foreign reads", `[{"$match": {"a": 1}}, {"$facet": {"x": [{"$lookup": {"from": "c", "as": "y", "pipeline": []}}]}}, {"$limit": 1}]`, noLookup, 1},
		{"ferret plain prefix", `[{"$match": {"a": {"$gt": 1}, "$or": [{"b": 1}, {"c": {"$in": [1, 2]}}]}}, {"$sort": {"a": -1}}, {"$skip": 1}, {"$limit": 5}, {"$count": "n"}]`, FerretDB1Caps(), 5},
		{"ferret $expr stays local", `[{"$match": {"$expr": {"$gt": ["$a", 1]}}}, {"$limit": 1}]`, FerretDB1Caps(), 0},
		{"ferret query op it lacks", `[{"$match": {"a": {"$elemMatch": {"b": 1}}}}]`, FerretDB1Caps(), 0},
		{"ferret $not nested", `[{"$match": {"a": {"$not": {"$type": "string"}}}}]`, FerretDB1Caps(), 0},
		{"ferret project flags", `[{"$project": {"a": 1, "b.c": true, "_id": 0}}, {"$unset": "a"}]`, FerretDB1Caps(), 2},
		{"ferret project computed", `[{"$project": {"a": "$b"}}, {"$limit": 1}]`, FerretDB1Caps(), 0},
		{"ferret project divide", `[{"$match": {}}, {"$project": {"r": {"$divide": ["$a", 2]}}}]`, FerretDB1Caps(), 1},
		{"ferret addFields literal", `[{"$addFields": {"k": 5, "s": "text"}}]`, FerretDB1Caps(), 1},
		{"ferret addFields path", `[{"$addFields": {"k": "$a"}}]`, FerretDB1Caps(), 0},
		{"ferret group sum", `[{"$group": {"_id": "$a", "s": {"$sum": "$b"}}}]`, FerretDB1Caps(), 1},
		{"ferret group count", `[{"$group": {"_id": "$a", "n": {"$count": {}}}}]`, FerretDB1Caps(), 1},
		{"ferret group compound id", `[{"$group": {"_id": {"x": "$a", "y": "$b"}, "n": {"$sum": 1}}}]`, FerretDB1Caps(), 1},
		{"ferret group avg", `[{"$group": {"_id": "$a", "m": {"$avg": "$b"}}}, {"$sort": {"m": 1}}]`, FerretDB1Caps(), 0},
		{"ferret group sum of expression", `[{"$group": {"_id": null, "s": {"$sum": {"$multiply": ["$a", 2]}}}}]`, FerretDB1Caps(), 0},
		{"ferret group computed id", `[{"$group": {"_id": {"$toLower": "$a"}, "n": {"$sum": 1}}}]`, FerretDB1Caps(), 0},
		{"ferret unwind", `[{"$unwind": "$a"}, {"$limit": 1}]`, FerretDB1Caps(), 0},
		{"ferret group with two accumulators", `[{"$group": {"_id": "$a", "s": {"$sum": "$b"}, "n": {"$count": {}}}}]`, FerretDB1Caps(), 0},
		{"ferret lookup then limit stays local", `[{"$match": {"a": 1}}, {"$lookup": {"from": "c", "localField": "a", "foreignField": "b", "as": "x"}}, {"$limit": 1}, {"$sort": {"a": 1}}]`, FerretDB1Caps(), 1},
		{"ferret dotted sort key", `[{"$sort": {"a": 1}}, {"$sort": {"a.b": 1}}]`, FerretDB1Caps(), 1},
		{"ferret document equality", `[{"$match": {"a": 1}}, {"$match": {"w": {"k": 1}}}]`, FerretDB1Caps(), 1},
		{"ferret document in $in", `[{"$match": {"w": {"$in": [1, {"k": 1}]}}}]`, FerretDB1Caps(), 0},
		{"ferret dotted addFields", `[{"$addFields": {"a": 1}}, {"$addFields": {"w.n": 5}}]`, FerretDB1Caps(), 1},
		{"ferret replaceRoot", `[{"$replaceRoot": {"newRoot": "$a"}}]`, FerretDB1Caps(), 0},
		{"ferret sort meta", `[{"$sort": {"a": {"$meta": "textScore"}}}]`, FerretDB1Caps(), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p []bson.D
			for _, st := range parseArr(t, tc.pipeline) {
				p = append(p, st.(bson.D))
			}
			push, local := Split(p, tc.caps)
			if len(push) != tc.push || len(push)+len(local) != len(p) {
				t.Fatalf("push %d stages (%v), local %d; want push %d", len(push), push, len(local), tc.push)
			}
			// push and local must be the pipeline, in order.
			for i := range p {
				got := append(append([]bson.D(nil), push...), local...)[i]
				if show(got) != show(p[i]) {
					t.Fatalf("stage %d changed: %s", i, show(got))
				}
			}
		})
	}
}

func TestSplitGoTypes(t *testing.T) {
	// A pipeline built in Go code uses int, not int32.
	p := []bson.D{
		{{Key: "$sort", Value: bson.D{{Key: "a", Value: -1}}}},
		{{Key: "$project", Value: bson.D{{Key: "a", Value: 1}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$a"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}
	if push, _ := Split(p, FerretDB1Caps()); len(push) != 3 {
		t.Fatalf("pushed %d of 3", len(push))
	}
	m := []bson.D{
		{{Key: "$match", Value: bson.M{"a": bson.M{"$in": []any{1, 2}}}}},
		{{Key: "$match", Value: bson.M{"$expr": bson.M{"$gt": []any{"$a", 1}}}}},
	}
	if push, local := Split(m, FerretDB1Caps()); len(push) != 1 || len(local) != 1 {
		t.Fatalf("bson.M stages: pushed %d, local %d", len(push), len(local))
	}
}
