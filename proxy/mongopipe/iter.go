package mongopipe

import (
	"context"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Iter yields documents one at a time. Next returns io.EOF after the last
// document; Close releases what the iterator holds (a server cursor).
type Iter interface {
	Next(ctx context.Context) (bson.D, error)
	Close(ctx context.Context) error
}

// CursorIter wraps a driver cursor, decoding each document into a bson.D.
func CursorIter(c *mongo.Cursor) Iter { return &cursorIter{c: c} }

type cursorIter struct{ c *mongo.Cursor }

func (it *cursorIter) Next(ctx context.Context) (bson.D, error) {
	if !it.c.Next(ctx) {
		if err := it.c.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	var d bson.D
	if err := it.c.Decode(&d); err != nil {
		return nil, err
	}
	return d, nil
}

func (it *cursorIter) Close(ctx context.Context) error { return it.c.Close(ctx) }

// SliceIter yields the given documents in order. Eval accepts documents
// built in Go code as well as decoded ones.
func SliceIter(docs []bson.D) Iter { return &sliceIter{docs: docs} }

type sliceIter struct {
	docs []bson.D
	i    int
}

func (it *sliceIter) Next(ctx context.Context) (bson.D, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if it.i >= len(it.docs) {
		return nil, io.EOF
	}
	d := it.docs[it.i]
	it.docs[it.i] = nil // let consumed documents be collected
	it.i++
	return d, nil
}

func (it *sliceIter) Close(context.Context) error { it.docs = nil; return nil }

// Collect reads an iterator to its end (at most max documents; max <= 0
// means no bound) and closes it.
func Collect(ctx context.Context, it Iter, max int) ([]bson.D, error) {
	defer it.Close(ctx)
	var out []bson.D
	for {
		d, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if max > 0 && len(out) >= max {
			return nil, errf(codeExceededMemory, "result holds more than %d documents", max)
		}
		out = append(out, d)
	}
}

// canonicalIter brings documents built in Go code (int, bson.M, []any)
// to the types the driver decodes into; decoded documents pass through
// after a check.
type canonicalIter struct{ in Iter }

func (it *canonicalIter) Next(ctx context.Context) (bson.D, error) {
	d, err := it.in.Next(ctx)
	if err != nil || canonicalDoc(d) {
		return d, err
	}
	return normalizeDoc(d)
}

func (it *canonicalIter) Close(ctx context.Context) error { return it.in.Close(ctx) }

// funcIter adapts a next function and the upstream iterator it reads.
type funcIter struct {
	next func(ctx context.Context) (bson.D, error)
	in   Iter
}

func (it *funcIter) Next(ctx context.Context) (bson.D, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return it.next(ctx)
}

func (it *funcIter) Close(ctx context.Context) error { return it.in.Close(ctx) }

// blockingIter is a stage that reads all of its input before yielding
// ($group, $sort): run computes the output on the first Next, which then
// hands it out one document at a time.
func blockingIter(in Iter, run func(ctx context.Context, in Iter) ([]bson.D, error)) Iter {
	var out []bson.D
	done := false
	return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
		if !done {
			done = true
			res, err := run(ctx, in)
			if err != nil {
				return nil, err
			}
			out = res
		}
		if len(out) == 0 {
			return nil, io.EOF
		}
		d := out[0]
		out = out[1:]
		return d, nil
	}}
}
