package mongopipe

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Split cuts a pipeline into the longest prefix the backend runs exactly
// (push) and the rest (local), to be completed by Eval. Once a stage
// stays local everything after it does too: a $sort or $limit after a
// local stage means something else on the backend's input.
func Split(p []bson.D, c Caps) (push, local []bson.D) {
	for i, st := range p {
		if !pushable(st, c) {
			return p[:i:i], p[i:]
		}
	}
	return p, nil
}

var foreignStages = set("$lookup", "$graphLookup", "$unionWith")

func pushable(st bson.D, c Caps) bool {
	// Judge the stage in the types the server will see (a pipeline built
	// in Go may hold bson.M, int or []any); the stage is passed on as is.
	st, err := normalizeDoc(st)
	if err != nil || len(st) != 1 {
		return false // malformed: let Eval report it
	}
	name, spec := st[0].Key, st[0].Value
	if !c.Lookup && readsForeign(st) {
		return false
	}
	if c.All {
		return true
	}
	if !c.Stages[name] {
		return false
	}
	switch name {
	case "$match":
		q, ok := spec.(bson.D)
		return ok && queryPushable(q, c)
	case "$project":
		return projectPushable(spec)
	case "$addFields", "$set":
		d, ok := spec.(bson.D)
		if !ok {
			return false
		}
		for _, e := range d {
			if strings.HasPrefix(e.Key, "$") || !exprPushable(e.Value, c, false) {
				return false
			}
			if strings.Contains(e.Key, ".") && !c.DottedSetFields {
				return false
			}
			// A nested document spec merges into embedded documents; it
			// is not known to run the same way, keep it local.
			if _, isDoc := e.Value.(bson.D); isDoc {
				return false
			}
		}
		return true
	case "$group":
		return groupPushable(spec, c)
	case "$sort":
		d, ok := spec.(bson.D)
		if !ok || len(d) == 0 {
			return false
		}
		for _, e := range d {
			if !isNumber(normalizeNumber(e.Value)) {
				return false
			}
			if strings.Contains(e.Key, ".") && !c.DottedSortKeys {
				return false
			}
		}
		return true
	case "$unwind":
		if _, ok := spec.(string); ok {
			return true
		}
		return c.UnwindOptions
	case "$limit", "$skip", "$count", "$unset":
		return true
	}
	return false
}

// readsForeign reports whether a stage reads another collection anywhere
// inside it ($facet or $unionWith sub-pipelines included).
func readsForeign(v any) bool {
	switch x := v.(type) {
	case bson.D:
		for _, e := range x {
			if foreignStages[e.Key] || readsForeign(e.Value) {
				return true
			}
		}
	case bson.M:
		for k, e := range x {
			if foreignStages[k] || readsForeign(e) {
				return true
			}
		}
	case bson.A:
		for _, e := range x {
			if readsForeign(e) {
				return true
			}
		}
	case []bson.D:
		for _, e := range x {
			if readsForeign(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if readsForeign(e) {
				return true
			}
		}
	}
	return false
}

// normalizeNumber maps Go integer and float kinds a caller may use in a
// pipeline built in code onto the BSON number types.
func normalizeNumber(v any) any {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int8:
		return int32(n)
	case int16:
		return int32(n)
	case uint8:
		return int32(n)
	case uint16:
		return int32(n)
	case uint32:
		return int64(n)
	case float32:
		return float64(n)
	}
	return v
}

func queryPushable(q bson.D, c Caps) bool {
	for _, e := range q {
		switch e.Key {
		case "$and", "$or", "$nor":
			if !c.QueryOperators[e.Key] {
				return false
			}
			arr, ok := toArray(e.Value)
			if !ok {
				return false
			}
			for _, el := range arr {
				d, ok := el.(bson.D)
				if !ok || !queryPushable(d, c) {
					return false
				}
			}
			continue
		}
		if strings.HasPrefix(e.Key, "$") {
			if !c.QueryOperators[e.Key] {
				return false
			}
			continue
		}
		if !opsPushable(e.Value, c) {
			return false
		}
	}
	return true
}

// holdsDocument reports whether a query operand is or contains a
// document (equality with documents differs on some backends).
func holdsDocument(v any) bool {
	switch x := v.(type) {
	case bson.D, bson.M:
		return true
	case bson.A:
		for _, el := range x {
			if holdsDocument(el) {
				return true
			}
		}
	case []any:
		for _, el := range x {
			if holdsDocument(el) {
				return true
			}
		}
	}
	return false
}

// opsPushable checks the operators of a field condition ({a: {$gt: 1}}),
// including those nested in $not.
func opsPushable(v any, c Caps) bool {
	d, ok := v.(bson.D)
	if !ok || len(d) == 0 || !strings.HasPrefix(d[0].Key, "$") {
		// Equality with a value.
		return c.DocumentEquality || !holdsDocument(v)
	}
	for _, op := range d {
		if !c.QueryOperators[op.Key] {
			return false
		}
		if op.Key != "$not" && !c.DocumentEquality && holdsDocument(op.Value) {
			return false
		}
		if op.Key == "$not" && !opsPushable(op.Value, c) {
			return false
		}
	}
	return true
}

func toArray(v any) ([]any, bool) {
	switch x := v.(type) {
	case bson.A:
		return x, true
	case []any:
		return x, true
	case []bson.D:
		out := make([]any, len(x))
		for i, d := range x {
			out[i] = d
		}
		return out, true
	}
	return nil, false
}

// projectPushable: only inclusion/exclusion flags run the same on a
// backend without expressions; computed fields stay local.
func projectPushable(spec any) bool {
	d, ok := spec.(bson.D)
	if !ok || len(d) == 0 {
		return false
	}
	for _, e := range d {
		switch normalizeNumber(e.Value).(type) {
		case bool, int32, int64, float64:
		default:
			return false
		}
	}
	return true
}

// exprPushable reports whether an expression runs the same on the
// backend: literals, field paths where the backend evaluates them, and
// operators it lists.
func exprPushable(v any, c Caps, fieldPathsOK bool) bool {
	switch x := normalizeNumber(v).(type) {
	case string:
		if strings.HasPrefix(x, "$$") {
			return false
		}
		if strings.HasPrefix(x, "$") {
			return fieldPathsOK || c.FieldPathValues
		}
		return true
	case nil, bool, int32, int64, float64:
		return true
	case bson.D:
		if len(x) == 1 && strings.HasPrefix(x[0].Key, "$") {
			if !c.Operators[x[0].Key] {
				return false
			}
			if arr, ok := toArray(x[0].Value); ok {
				for _, a := range arr {
					if !exprPushable(a, c, fieldPathsOK) {
						return false
					}
				}
				return true
			}
			return exprPushable(x[0].Value, c, fieldPathsOK)
		}
	}
	return false
}

// groupPushable: an _id of null, a literal, a field path or a document of
// field paths, and listed accumulators over a field path or a number.
func groupPushable(spec any, c Caps) bool {
	d, ok := spec.(bson.D)
	if !ok {
		return false
	}
	if c.MaxGroupAccs > 0 && len(d) > c.MaxGroupAccs+1 {
		return false
	}
	for _, e := range d {
		if e.Key == "_id" {
			if sub, ok := e.Value.(bson.D); ok {
				if len(sub) == 0 {
					return false
				}
				for _, f := range sub {
					s, ok := f.Value.(string)
					if strings.HasPrefix(f.Key, "$") || !ok || !strings.HasPrefix(s, "$") || strings.HasPrefix(s, "$$") {
						return false
					}
				}
				continue
			}
			if !exprPushable(e.Value, c, true) {
				return false
			}
			continue
		}
		acc, ok := e.Value.(bson.D)
		if !ok || len(acc) != 1 || !c.Accumulators[acc[0].Key] {
			return false
		}
		arg := normalizeNumber(acc[0].Value)
		switch a := arg.(type) {
		case string:
			if !strings.HasPrefix(a, "$") || strings.HasPrefix(a, "$$") {
				return false
			}
		case int32, int64, float64:
		case bson.D:
			if acc[0].Key != "$count" || len(a) != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
