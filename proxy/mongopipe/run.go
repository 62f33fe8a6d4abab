package mongopipe

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// AggregateFunc runs the pushed part of a pipeline on the backend (the
// policy layer adds its tenant stages before calling the server).
type AggregateFunc func(ctx context.Context, push []bson.D) (*mongo.Cursor, error)

// Run is Split, the pushed part through aggregate, and Eval of the rest
// over the backend's cursor. The local stages are compiled before the
// backend is asked, so a pipeline the proxy cannot complete is refused
// without a server round trip.
func Run(ctx context.Context, p []bson.D, caps Caps, aggregate AggregateFunc, env Env) (Iter, error) {
	push, local := Split(p, caps)
	if _, err := compilePipeline(local, env); err != nil {
		return nil, err
	}
	cur, err := aggregate(ctx, push)
	if err != nil {
		return nil, err
	}
	it, err := Eval(ctx, local, CursorIter(cur), env)
	if err != nil {
		_ = cur.Close(ctx)
		return nil, err
	}
	return it, nil
}
