package mongopipe

import (
	"context"
	"io"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type lookupSpec struct {
	from, localField, foreignField, as string
	// prefix holds the sub-pipeline's leading $match stages the backend
	// runs exactly (Env.Caps): they only filter foreign documents, so the
	// caller runs them with its query. rest runs here, once per input
	// document, as the server runs the sub-pipeline per document.
	prefix, rest []bson.D
	correlated   bool
}

func compileLookup(spec any, env Env) (stage, error) {
	d, ok := spec.(bson.D)
	if !ok {
		return nil, errf(codeFailedToParse, "the $lookup stage specification must be an object")
	}
	var s lookupSpec
	var pipeline []bson.D
	hasPipeline := false
	for _, e := range d {
		switch e.Key {
		case "from", "localField", "foreignField", "as":
			str, ok := e.Value.(string)
			if !ok {
				return nil, errf(codeFailedToParse, "$lookup argument '%s' must be a string, found %s", e.Key, typeName(e.Value))
			}
			switch e.Key {
			case "from":
				s.from = str
			case "localField":
				s.localField = str
			case "foreignField":
				s.foreignField = str
			case "as":
				s.as = str
			}
		case "pipeline":
			arr, ok := e.Value.(bson.A)
			if !ok {
				return nil, errf(codeFailedToParse, "$lookup argument 'pipeline' must be an array")
			}
			for _, st := range arr {
				sd, ok := st.(bson.D)
				if !ok {
					return nil, errf(codeFailedToParse, "each element of the 'pipeline' array must be an object")
				}
				pipeline = append(pipeline, sd)
			}
			hasPipeline = true
		case "let":
			return nil, errf(codeLookupUnsupported, "$lookup with 'let' variables is not supported by the proxy's pipeline evaluator; use localField/foreignField")
		default:
			return nil, errf(codeFailedToParse, "unknown argument to $lookup: %s", e.Key)
		}
	}
	switch {
	case s.from == "":
		return nil, errf(codeFailedToParse, "$lookup requires a 'from' collection name")
	case s.as == "":
		return nil, errf(codeFailedToParse, "$lookup requires an 'as' field")
	case (s.localField == "") != (s.foreignField == ""):
		return nil, errf(codeFailedToParse, "$lookup requires both or neither of 'localField' and 'foreignField'")
	case s.localField == "" && !hasPipeline:
		return nil, errf(codeFailedToParse, "$lookup requires either 'pipeline' or both 'localField' and 'foreignField'")
	}
	for _, p := range []string{s.as, s.localField, s.foreignField} {
		if p != "" {
			if err := validFieldPath(p); err != nil {
				return nil, err
			}
		}
	}
	s.correlated = s.localField != ""
	i := 0
	for i < len(pipeline) && len(pipeline[i]) == 1 && pipeline[i][0].Key == "$match" {
		i++
	}
	push, _ := Split(pipeline[:i], env.Caps)
	s.prefix, s.rest = push, pipeline[len(push):]
	if env.Lookup == nil {
		return nil, errf(codeLookupUnsupported, "$lookup needs a foreign-collection reader, and none is configured")
	}
	// Compile the whole sub-pipeline now so an unsupported stage inside it
	// is refused before any read.
	if _, err := compilePipeline(pipeline, env); err != nil {
		return nil, err
	}
	if !s.correlated {
		return uncorrelatedLookup(s, env), nil
	}
	return correlatedLookup(s, env), nil
}

func uncorrelatedLookup(s lookupSpec, env Env) stage {
	asParts := splitPath(s.as)
	return func(in Iter) Iter {
		var result bson.A
		loaded := false
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			doc, err := in.Next(ctx)
			if err != nil {
				return nil, err
			}
			if !loaded {
				// Without a correlation the sub-pipeline's result is the
				// same for every document: read it once.
				docs, err := readForeign(ctx, env, s.from, "", nil, s.prefix)
				if err != nil {
					return nil, err
				}
				if len(docs) > env.maxDocs() {
					return nil, errf(codeExceededMemory, "$lookup from %s returned more than %d documents (the limit)", s.from, env.maxDocs())
				}
				res, err := runSub(ctx, s.rest, docs, env)
				if err != nil {
					return nil, err
				}
				result, loaded = res, true
			}
			return setPath(doc, asParts, result), nil
		}}
	}
}

// localValues are the values an input document's localField matches
// with: each element of an array, null for a missing field.
func localValues(doc bson.D, parts []string) []any {
	v := getPath(doc, parts)
	if isMissing(v) {
		return []any{nil}
	}
	if arr, ok := v.(bson.A); ok {
		return []any(arr)
	}
	return []any{v}
}

func correlatedLookup(s lookupSpec, env Env) stage {
	localParts, foreignParts, asParts := splitPath(s.localField), splitPath(s.foreignField), splitPath(s.as)
	batchSize := env.lookupBatch()
	return func(in Iter) Iter {
		var pending []bson.D
		eof := false
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			if len(pending) == 0 && !eof {
				// Read a batch of input documents and ask for the foreign
				// documents of all their values in one call.
				var batch []bson.D
				var perDoc [][]any
				var values []any
				seen := map[string]bool{}
				for len(batch) < batchSize {
					doc, err := in.Next(ctx)
					if err == io.EOF {
						eof = true
						break
					}
					if err != nil {
						return nil, err
					}
					vals := localValues(doc, localParts)
					for _, v := range vals {
						if k := groupKey(v); !seen[k] {
							seen[k] = true
							values = append(values, v)
						}
					}
					batch = append(batch, doc)
					perDoc = append(perDoc, vals)
				}
				if len(batch) == 0 {
					return nil, io.EOF
				}
				var foreign []bson.D
				if len(values) > 0 {
					var err error
					foreign, err = readForeign(ctx, env, s.from, s.foreignField, values, s.prefix)
					if err != nil {
						return nil, err
					}
				}
				if len(foreign) > env.maxDocs() {
					return nil, errf(codeExceededMemory, "$lookup from %s returned more than %d documents for one batch (the limit)", s.from, env.maxDocs())
				}
				idx := indexForeign(foreign, foreignParts)
				pending = make([]bson.D, 0, len(batch))
				held := 0
				for i, doc := range batch {
					mine := idx.matches(foreign, foreignParts, perDoc[i])
					res, err := runSub(ctx, s.rest, mine, env)
					if err != nil {
						return nil, err
					}
					// The batch's "as" arrays together stay within the
					// bound too: many inputs may share many matches.
					if held += len(res); held > env.maxDocs() {
						return nil, errf(codeExceededMemory, "$lookup from %s joins more than %d documents for one batch (the limit)", s.from, env.maxDocs())
					}
					pending = append(pending, setPath(doc, asParts, res))
				}
			}
			if len(pending) == 0 {
				return nil, io.EOF
			}
			d := pending[0]
			pending[0] = nil
			pending = pending[1:]
			return d, nil
		}}
	}
}

// readForeign calls Env.Lookup and brings what it returns to the types
// the driver decodes into, in case the reader built documents in Go code
// (bson.M, int, []any) rather than decoding them from the server.
func readForeign(ctx context.Context, env Env, from, field string, values []any, prefix []bson.D) ([]bson.D, error) {
	docs, err := env.Lookup(ctx, from, field, values, prefix)
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		if !canonicalDoc(d) {
			if docs[i], err = normalizeDoc(d); err != nil {
				return nil, err
			}
		}
	}
	return docs, nil
}

// canonicalDoc reports whether a document holds only the types the
// driver decodes BSON into.
func canonicalDoc(d bson.D) bool {
	for _, e := range d {
		if !canonicalValue(e.Value) {
			return false
		}
	}
	return true
}

func canonicalValue(v any) bool {
	switch x := v.(type) {
	case bson.D:
		return canonicalDoc(x)
	case bson.A:
		for _, el := range x {
			if !canonicalValue(el) {
				return false
			}
		}
		return true
	case nil, int32, int64, float64, string, bool, bson.DateTime, bson.ObjectID, bson.Decimal128,
		bson.Binary, bson.Regex, bson.Timestamp, bson.MinKey, bson.MaxKey, bson.Null, bson.Undefined,
		bson.Symbol, bson.JavaScript, bson.CodeWithScope, bson.DBPointer:
		return true
	}
	return false
}

// foreignIndex maps the equality key of every value a foreign document's
// foreignField reaches (each element of an array, the array itself, null
// for a missing field) to the positions of the documents holding it, so
// matching a batch costs a map lookup per local value instead of a scan
// of all foreign documents.
type foreignIndex map[string][]int

func indexForeign(foreign []bson.D, parts []string) foreignIndex {
	idx := foreignIndex{}
	for i, f := range foreign {
		seen := map[string]bool{}
		queryPath(f, parts, func(v any) bool {
			if isMissing(v) {
				v = nil
			}
			if _, undef := v.(bson.Undefined); undef {
				return false // undefined is not equal to null
			}
			if k := groupKey(v); !seen[k] {
				seen[k] = true
				idx[k] = append(idx[k], i)
			}
			return false // visit every value
		})
	}
	return idx
}

// matches returns the foreign documents equal (query equality) to any of
// the local values, in the reader's order. A regex value matches by
// pattern, which no key can index: those scan.
func (idx foreignIndex) matches(foreign []bson.D, parts []string, values []any) []bson.D {
	hit := map[int]bool{}
	for _, v := range values {
		if _, isRe := v.(bson.Regex); isRe {
			leaf := eqLeaf(v)
			for i, f := range foreign {
				if !hit[i] && queryPath(f, parts, leaf) {
					hit[i] = true
				}
			}
			continue
		}
		if isNullish(v) {
			v = nil
		}
		for _, i := range idx[groupKey(v)] {
			hit[i] = true
		}
	}
	if len(hit) == 0 {
		return nil
	}
	order := make([]int, 0, len(hit))
	for i := range hit {
		order = append(order, i)
	}
	sort.Ints(order)
	out := make([]bson.D, len(order))
	for j, i := range order {
		out[j] = foreign[i]
	}
	return out
}

// runSub runs the rest of a $lookup sub-pipeline over one document's
// foreign matches and returns them as the "as" array.
func runSub(ctx context.Context, rest []bson.D, docs []bson.D, env Env) (bson.A, error) {
	out := bson.A{}
	if len(rest) == 0 {
		for _, d := range docs {
			out = append(out, d)
		}
		return out, nil
	}
	// Copy: SliceIter clears what it yields, and docs is shared.
	cp := append([]bson.D(nil), docs...)
	it, err := Eval(ctx, rest, SliceIter(cp), env)
	if err != nil {
		return nil, err
	}
	res, err := Collect(ctx, it, env.maxDocs())
	if err != nil {
		return nil, err
	}
	for _, d := range res {
		out = append(out, d)
	}
	return out, nil
}
