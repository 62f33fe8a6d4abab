package mongopipe

import (
	"context"
	"io"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type sortKey struct {
	path []string
	dir  int // 1 ascending, -1 descending
}

// emptyArray stands for an empty array in sort keys: it sorts before null
// and missing (which sort as equal).
type emptyArrayT struct{}

func compileSort(spec any, env Env, keep int) (stage, error) {
	d, ok := spec.(bson.D)
	if !ok || len(d) == 0 {
		return nil, errf(15973, "the $sort key specification must be a non-empty object")
	}
	keys := make([]sortKey, 0, len(d))
	for _, el := range d {
		if err := validFieldPath(el.Key); err != nil {
			return nil, err
		}
		if !isNumber(el.Value) {
			return nil, errf(15974, "$sort key ordering for %q must be 1 or -1 ($meta sorts are not supported by the proxy's pipeline evaluator)", el.Key)
		}
		dir := int(numFloat(el.Value))
		if dir != 1 && dir != -1 {
			return nil, errf(15975, "$sort key ordering must be 1 (for ascending) or -1 (for descending)")
		}
		keys = append(keys, sortKey{path: splitPath(el.Key), dir: dir})
	}
	limit := env.maxDocs()
	return func(in Iter) Iter {
		return blockingIter(in, func(ctx context.Context, in Iter) ([]bson.D, error) {
			return runSort(ctx, in, keys, limit, keep)
		})
	}, nil
}

type sortRow struct {
	doc  bson.D
	keys []any
	seq  int
}

// keyValue is the value a document sorts by for one key. As in the
// server, every array on the path is expanded (like the keys of a
// multikey index), a missing field counts as null, and of the values
// found the smallest decides ascending, the largest descending.
func keyValue(doc bson.D, k sortKey) any {
	var vals []any
	sortValues(doc, k.path, &vals)
	best := vals[0]
	for _, v := range vals[1:] {
		if compareSortValues(v, best)*k.dir < 0 {
			best = v
		}
	}
	return best
}

func sortValues(v any, parts []string, out *[]any) {
	if len(parts) == 0 {
		arr, ok := v.(bson.A)
		switch {
		case !ok:
			*out = append(*out, v)
		case len(arr) == 0:
			*out = append(*out, emptyArrayT{})
		default:
			*out = append(*out, arr...)
		}
		return
	}
	switch x := v.(type) {
	case bson.D:
		f, ok := lookupField(x, parts[0])
		if !ok {
			*out = append(*out, nil)
			return
		}
		sortValues(f, parts[1:], out)
		return
	case bson.A:
		found := false
		for _, el := range x {
			if d, ok := el.(bson.D); ok {
				found = true
				sortValues(d, parts, out)
			}
		}
		if found {
			return
		}
	}
	*out = append(*out, nil)
}

func compareSortValues(a, b any) int {
	_, ea := a.(emptyArrayT)
	_, eb := b.(emptyArrayT)
	switch {
	case ea && eb:
		return 0
	case ea:
		if typeRank(b) == rankMinKey {
			return 1
		}
		return -1
	case eb:
		if typeRank(a) == rankMinKey {
			return -1
		}
		return 1
	}
	return compareValues(a, b)
}

func lessRow(keys []sortKey, a, b *sortRow) bool {
	for i, k := range keys {
		if c := compareSortValues(a.keys[i], b.keys[i]) * k.dir; c != 0 {
			return c < 0
		}
	}
	return a.seq < b.seq
}

// runSort reads everything and sorts it; with keep > 0 (a $limit follows)
// only the first keep rows are kept, trimming whenever twice that many are
// held, so memory stays bounded by the limit instead of the input.
func runSort(ctx context.Context, in Iter, keys []sortKey, limit, keep int) ([]bson.D, error) {
	var rows []*sortRow
	trim := func() {
		sort.Slice(rows, func(i, j int) bool { return lessRow(keys, rows[i], rows[j]) })
		if keep > 0 && len(rows) > keep {
			for i := keep; i < len(rows); i++ {
				rows[i] = nil
			}
			rows = rows[:keep]
		}
	}
	seq := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		doc, err := in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		r := &sortRow{doc: doc, keys: make([]any, len(keys)), seq: seq}
		seq++
		for i, k := range keys {
			r.keys[i] = keyValue(doc, k)
		}
		rows = append(rows, r)
		if keep > 0 && len(rows) >= 2*keep {
			trim()
		}
		if len(rows) > limit {
			return nil, errf(codeExceededMemory, "$sort holds more than %d documents (the limit); add a $match or $limit before it", limit)
		}
	}
	trim()
	out := make([]bson.D, len(rows))
	for i, r := range rows {
		out[i] = r.doc
	}
	return out, nil
}
