package mongopipe

import (
	"context"
	"errors"
	"io"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// countingIter yields n generated documents and counts reads.
type countingIter struct {
	n, read int
	onRead  func(read int)
}

func (c *countingIter) Next(ctx context.Context) (bson.D, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.read >= c.n {
		return nil, io.EOF
	}
	c.read++
	if c.onRead != nil {
		c.onRead(c.read)
	}
	return bson.D{{Key: "_id", Value: int32(c.read)}, {Key: "g", Value: int32(c.read % 7)}}, nil
}

func (c *countingIter) Close(context.Context) error { return nil }

func evalAll2(t *testing.T, pipeline string, in Iter, env Env) ([]bson.D, error) {
	t.Helper()
	var p []bson.D
	for _, st := range parseArr(t, pipeline) {
		p = append(p, st.(bson.D))
	}
	ctx := context.Background()
	it, err := Eval(ctx, p, in, env)
	if err != nil {
		return nil, err
	}
	return Collect(ctx, it, 0)
}

func TestMaxDocsBoundsBlockingStages(t *testing.T) {
	for _, tc := range []struct {
		name, pipeline string
		fail           bool
	}{
		{"sort over limit", `[{"$sort": {"_id": -1}}]`, true},
		{"group with many groups", `[{"$group": {"_id": "$_id"}}]`, true},
		{"group push", `[{"$group": {"_id": "$g", "all": {"$push": "$_id"}}}]`, true},
		{"few groups fit", `[{"$group": {"_id": "$g", "n": {"$sum": 1}}}]`, false},
		{"sort then limit keeps only the limit", `[{"$sort": {"_id": -1}}, {"$limit": 10}]`, false},
		{"streaming stages hold nothing", `[{"$match": {"g": 1}}, {"$project": {"g": 0}}]`, false},
		{"lookup arrays of a batch", `[{"$lookup": {"from": "self", "localField": "g", "foreignField": "g", "as": "same"}}]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The foreign side: 700 documents, 100 per value of g.
			self := func(ctx context.Context, from, field string, values []any, p []bson.D) ([]bson.D, error) {
				out, err := evalAll2(t, `[{"$match": {"_id": {"$lte": 700}}}]`, &countingIter{n: 5000}, Env{})
				return out, err
			}
			out, err := evalAll2(t, tc.pipeline, &countingIter{n: 5000}, Env{MaxDocs: 1000, Lookup: self})
			var pe *Error
			if tc.fail {
				if !errors.As(err, &pe) || pe.Code != codeExceededMemory {
					t.Fatalf("want ExceededMemoryLimit, got %v (%d docs)", err, len(out))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	out, err := evalAll2(t, `[{"$sort": {"_id": -1}}, {"$limit": 3}]`, &countingIter{n: 5000}, Env{MaxDocs: 100})
	if err != nil || show(out[0]) != "{_id: 5000, g: 2}" || len(out) != 3 || show(out[2]) != "{_id: 4998, g: 0}" {
		t.Fatalf("top-3: %v %v", showDocs(out), err)
	}
}

func TestContextCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	// The input cancels the context while the $match is still looking
	// for a document that never comes.
	in := &countingIter{n: 1 << 30, onRead: func(read int) {
		if read == 1000 {
			cancel()
		}
	}}
	it, err := Eval(ctx, []bson.D{{{Key: "$match", Value: bson.D{{Key: "g", Value: int32(99)}}}}}, in, Env{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = it.Next(ctx)
	if !errors.Is(err, context.Canceled) || in.read > 1001 {
		t.Fatalf("want context.Canceled right after the 1000th read, got %v after %d", err, in.read)
	}
	if _, err := Eval(ctx, nil, in, Env{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Eval on a cancelled context: %v", err)
	}
}
