package mongopipe

import (
	"context"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// DefaultMaxDocs bounds what a blocking stage holds in memory when
// Env.MaxDocs is zero.
const DefaultMaxDocs = 1_000_000

// DefaultLookupBatch is how many input documents one Env.Lookup call
// serves when Env.LookupBatch is zero.
const DefaultLookupBatch = 1000

// LookupFunc returns the documents of collection from whose foreignField
// equals one of values (query equality: an array field matches by element,
// null matches a missing field), followed by pipeline. With foreignField
// "" there is no equality condition. The caller runs it as a query on the
// foreign collection, so the tenant's filters and masks apply.
type LookupFunc func(ctx context.Context, from, foreignField string, values []any, pipeline []bson.D) ([]bson.D, error)

// Env is what local evaluation may use beyond its input.
type Env struct {
	// Lookup reads a foreign collection for $lookup; nil refuses $lookup.
	Lookup LookupFunc
	// MaxDocs bounds the documents (or groups and accumulated values) a
	// blocking stage holds; beyond it evaluation fails. 0 = DefaultMaxDocs.
	MaxDocs int
	// LookupBatch is how many input documents share one Lookup call.
	LookupBatch int
	// Caps are the backend's, for the stages of a $lookup sub-pipeline
	// handed to Lookup: only leading $match stages it runs exactly are
	// passed, the rest is evaluated here. The zero value passes none.
	Caps Caps
}

func (e Env) maxDocs() int {
	if e.MaxDocs > 0 {
		return e.MaxDocs
	}
	return DefaultMaxDocs
}

func (e Env) lookupBatch() int {
	if e.LookupBatch > 0 {
		return e.LookupBatch
	}
	return DefaultLookupBatch
}

// stage turns an upstream iterator into the stage's output.
type stage func(in Iter) Iter

// Eval runs the stages of local over the documents of in, returning an
// iterator over the result. Every stage is compiled before any document
// is read, so an unsupported stage or operator fails at once, naming it.
// The returned iterator owns in: closing it closes in.
func Eval(ctx context.Context, local []bson.D, in Iter, env Env) (Iter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, errf(codeBadValue, "no input to evaluate the pipeline over")
	}
	stages, err := compilePipeline(local, env)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return in, nil
	}
	var out Iter = &canonicalIter{in: in}
	for _, s := range stages {
		out = s(out)
	}
	return out, nil
}

func compilePipeline(p []bson.D, env Env) ([]stage, error) {
	out := make([]stage, 0, len(p))
	for i := 0; i < len(p); i++ {
		d, err := normalizeDoc(p[i])
		if err != nil {
			return nil, err
		}
		if len(d) != 1 {
			return nil, errf(40323, "a pipeline stage specification object must contain exactly one field")
		}
		name, spec := d[0].Key, d[0].Value
		var s stage
		switch name {
		case "$match":
			s, err = compileMatch(spec)
		case "$project":
			s, err = compileProject(spec)
		case "$addFields", "$set":
			s, err = compileAddFields(name, spec)
		case "$unset":
			s, err = compileUnset(spec)
		case "$group":
			s, err = compileGroup(spec, env)
		case "$sort":
			// A $limit right after a $sort bounds what the sort keeps.
			keep := 0
			if i+1 < len(p) {
				if next, nerr := normalizeDoc(p[i+1]); nerr == nil && len(next) == 1 && next[0].Key == "$limit" {
					if n, lerr := positiveInt("$limit", next[0].Value); lerr == nil {
						keep = int(min(n, int64(env.maxDocs())))
					}
				}
			}
			s, err = compileSort(spec, env, keep)
		case "$limit":
			s, err = compileLimit(spec)
		case "$skip":
			s, err = compileSkip(spec)
		case "$unwind":
			s, err = compileUnwind(spec)
		case "$count":
			s, err = compileCount(spec)
		case "$lookup":
			s, err = compileLookup(spec, env)
		case "$replaceRoot", "$replaceWith":
			s, err = compileReplaceRoot(name, spec)
		default:
			if !strings.HasPrefix(name, "$") {
				return nil, errf(codeUnknownStage, "unrecognized pipeline stage name: %q", name)
			}
			return nil, errf(codeUnknownStage, "pipeline stage %s is not supported by the proxy's pipeline evaluator, and the backend cannot run it", name)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// MaxDocBytes bounds a document (and a string) a local stage builds, as
// the server's BSON limit does: without it, stages that each copy a
// document or a string into itself grow it exponentially in the proxy.
const MaxDocBytes = 16 << 20

// docBytes estimates the BSON size of v, stopping once it passes limit (a
// document whose values share memory is counted as it would be sent).
func docBytes(v any, limit int) int {
	n := 0
	var walk func(v any)
	walk = func(v any) {
		if n > limit {
			return
		}
		switch x := v.(type) {
		case bson.D:
			n += 5
			for _, e := range x {
				n += len(e.Key) + 2
				walk(e.Value)
			}
		case bson.A:
			n += 5
			for _, e := range x {
				n += 3
				walk(e)
			}
		case string:
			n += len(x) + 5
		case bson.Binary:
			n += len(x.Data) + 5
		default:
			n += 8
		}
	}
	walk(v)
	return n
}

// mapStage builds a streaming stage from a per-document function that
// returns the output document, or nil to drop the input.
func mapStage(f func(doc bson.D) (bson.D, error)) stage {
	return func(in Iter) Iter {
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			for {
				d, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				out, err := f(d)
				if err != nil {
					return nil, err
				}
				if out != nil {
					if docBytes(out, MaxDocBytes) > MaxDocBytes {
						return nil, errf(codeBSONObjectTooLarge, "a document built by the pipeline is larger than the maximum BSON size of %d bytes", MaxDocBytes)
					}
					return out, nil
				}
			}
		}}
	}
}

func positiveInt(stageName string, v any) (int64, error) {
	if !isNumber(v) {
		return 0, errf(15957, "the argument to %s must be a number", stageName)
	}
	f := numFloat(v)
	if f != float64(int64(f)) {
		return 0, errf(15957, "the argument to %s must be an integer", stageName)
	}
	n := int64(f)
	if n <= 0 && stageName == "$limit" {
		return 0, errf(15958, "the limit must be positive")
	}
	if n < 0 {
		return 0, errf(15956, "the number to skip cannot be negative")
	}
	return n, nil
}
