package mongopipe

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func benchDocs(n int) []bson.D {
	docs := make([]bson.D, n)
	for i := range docs {
		docs[i] = bson.D{
			{Key: "_id", Value: int32(i)},
			{Key: "cust", Value: int32(i % 100)},
			{Key: "amount", Value: float64(i%37) + 0.5},
			{Key: "name", Value: fmt.Sprintf("item-%d", i)},
		}
	}
	return docs
}

func benchPipeline(b *testing.B, js string, docs []bson.D, env Env) {
	p := pipelineOfB(b, js)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		it, err := Eval(ctx, p, SliceIter(append([]bson.D(nil), docs...)), env)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Collect(ctx, it, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func pipelineOfB(b *testing.B, js string) []bson.D {
	var p []bson.D
	for _, st := range parseArr(b, js) {
		p = append(p, st.(bson.D))
	}
	return p
}

// BenchmarkGroupAvg: 10,000 documents into 100 groups.
func BenchmarkGroupAvg(b *testing.B) {
	benchPipeline(b, `[{"$group": {"_id": "$cust", "avg": {"$avg": "$amount"}, "n": {"$sum": 1}}}]`, benchDocs(10000), Env{})
}

// BenchmarkProjectDivide: a computed projection over 10,000 documents.
func BenchmarkProjectDivide(b *testing.B) {
	benchPipeline(b, `[{"$project": {"r": {"$divide": ["$amount", 3]}, "u": {"$toUpper": "$name"}}}]`, benchDocs(10000), Env{})
}

// BenchmarkLookup: 10,000 documents joined to 100 foreign ones in batches.
func BenchmarkLookup(b *testing.B) {
	foreign := make([]bson.D, 100)
	for i := range foreign {
		foreign[i] = bson.D{{Key: "_id", Value: int32(i)}, {Key: "tier", Value: fmt.Sprint(i % 3)}}
	}
	m := &memLookup{colls: map[string][]bson.D{"c": foreign}}
	benchPipeline(b, `[{"$lookup": {"from": "c", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$unwind": "$c"}]`,
		benchDocs(10000), Env{Lookup: m.lookup})
}

// BenchmarkSortLimit: top 10 of 10,000 documents.
func BenchmarkSortLimit(b *testing.B) {
	benchPipeline(b, `[{"$sort": {"amount": -1, "_id": 1}}, {"$limit": 10}]`, benchDocs(10000), Env{})
}
