package mongopipe

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzEval feeds arbitrary pipelines and documents to Split and Eval:
// whatever they are, evaluation returns documents or an error, never
// panics, and a pipeline the evaluator refuses is refused before it reads.
func FuzzEval(f *testing.F) {
	seeds := [][2]string{
		{`[{"$match": {"a": {"$gt": 1}}}, {"$sort": {"a": -1}}, {"$limit": 2}]`, `[{"a": 1}, {"a": 2.5}, {"a": "x"}]`},
		{`[{"$group": {"_id": "$k", "s": {"$sum": "$a"}, "m": {"$avg": "$a"}, "p": {"$push": "$a"}}}]`, `[{"k": 1, "a": 2}, {"k": 1, "a": {"$numberLong": "3"}}]`},
		{`[{"$unwind": {"path": "$t", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i"}}, {"$count": "n"}]`, `[{"t": [1, 2]}, {"t": []}, {}]`},
		{`[{"$project": {"r": {"$divide": ["$a", "$b"]}, "c": {"$concat": ["$s", "-"]}, "d": {"$dateToString": {"date": "$t"}}}}]`, `[{"a": 1, "b": 0}, {"s": "x", "t": {"$date": "2020-01-01T00:00:00Z"}}]`},
		{`[{"$lookup": {"from": "f", "localField": "a", "foreignField": "b", "as": "x", "pipeline": [{"$match": {"c": 1}}, {"$limit": 1}]}}, {"$replaceRoot": {"newRoot": {"$ifNull": [{"x": "$x"}, {}]}}}]`, `[{"a": 1}, {"a": [1, 2]}]`},
		{`[{"$addFields": {"a.b": {"$cond": [{"$gte": ["$x", 2]}, {"$round": ["$x", -1]}, {"$substrCP": ["$s", 0, 2]}]}}}, {"$unset": ["x"]}]`, `[{"x": 15, "a": [{"b": 1}, 2]}, {"s": "héllo"}]`},
		{`[{"$match": {"$or": [{"a": {"$regex": "^x", "$options": "i"}}, {"a": {"$not": {"$in": [1, null]}}}], "$expr": {"$and": ["$a"]}}}]`, `[{"a": "Xy"}, {"a": null}]`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pipeJS, docsJS string) {
		var pw, dw bson.D
		if bson.UnmarshalExtJSON([]byte(`{"v":`+pipeJS+`}`), false, &pw) != nil || bson.UnmarshalExtJSON([]byte(`{"v":`+docsJS+`}`), false, &dw) != nil {
			return
		}
		pa, ok1 := pw[0].Value.(bson.A)
		da, ok2 := dw[0].Value.(bson.A)
		if !ok1 || !ok2 || len(pa) > 8 || len(da) > 8 {
			return
		}
		var p []bson.D
		for _, st := range pa {
			d, ok := st.(bson.D)
			if !ok {
				return
			}
			p = append(p, d)
		}
		var docs []bson.D
		for _, el := range da {
			d, ok := el.(bson.D)
			if !ok {
				return
			}
			docs = append(docs, d)
		}
		Split(p, FerretDB1Caps())
		reads := 0
		env := Env{MaxDocs: 1000, Lookup: func(ctx context.Context, from, field string, values []any, pipeline []bson.D) ([]bson.D, error) {
			return append([]bson.D(nil), docs...), nil
		}}
		counted := &readCounter{Iter: SliceIter(append([]bson.D(nil), docs...)), reads: &reads}
		it, err := Eval(context.Background(), p, counted, env)
		if err != nil {
			if reads != 0 {
				t.Fatalf("refused after reading %d documents: %v", reads, err)
			}
			return
		}
		_, _ = Collect(context.Background(), it, 100000)
	})
}

type readCounter struct {
	Iter
	reads *int
}

func (r *readCounter) Next(ctx context.Context) (bson.D, error) {
	*r.reads++
	return r.Iter.Next(ctx)
}
