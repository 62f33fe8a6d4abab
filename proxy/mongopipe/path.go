package mongopipe

import (
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func lookupField(d bson.D, key string) (any, bool) {
	for _, e := range d {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// getPath evaluates a field path the way aggregation expressions do: a
// path through an array maps over its documents, giving an array of the
// values found (elements without the field are left out).
func getPath(v any, parts []string) any {
	if len(parts) == 0 {
		return v
	}
	switch x := v.(type) {
	case bson.D:
		f, ok := lookupField(x, parts[0])
		if !ok {
			return missing
		}
		return getPath(f, parts[1:])
	case bson.A:
		out := bson.A{}
		for _, el := range x {
			switch el.(type) {
			case bson.D, bson.A:
				if r := getPath(el, parts); !isMissing(r) {
					out = append(out, r)
				}
			}
		}
		return out
	}
	return missing
}

func splitPath(p string) []string { return strings.Split(p, ".") }

// validFieldPath checks a path's components the way the server does.
func validFieldPath(p string) error {
	if p == "" {
		return errf(codeFailedToParse, "empty field path")
	}
	for _, part := range splitPath(p) {
		if part == "" {
			return errf(codeFailedToParse, "field path %q has an empty component", p)
		}
		if strings.HasPrefix(part, "$") {
			return errf(codeFailedToParse, "field path %q has a component starting with '$'", p)
		}
	}
	return nil
}

// setPath returns a copy of d with the dotted path set to v (documents on
// the way are created or copied, never modified in place, because input
// documents may be shared). Through an array the value is set in each
// document element, as $addFields and $set do.
func setPath(d bson.D, parts []string, v any) bson.D {
	out := make(bson.D, 0, len(d)+1)
	found := false
	for _, e := range d {
		if e.Key != parts[0] {
			out = append(out, e)
			continue
		}
		found = true
		if len(parts) == 1 {
			out = append(out, bson.E{Key: e.Key, Value: v})
			continue
		}
		out = append(out, bson.E{Key: e.Key, Value: setInto(e.Value, parts[1:], v)})
	}
	if !found {
		if len(parts) == 1 {
			out = append(out, bson.E{Key: parts[0], Value: v})
		} else {
			out = append(out, bson.E{Key: parts[0], Value: setPath(nil, parts[1:], v)})
		}
	}
	return out
}

func setInto(cur any, parts []string, v any) any {
	switch x := cur.(type) {
	case bson.D:
		return setPath(x, parts, v)
	case bson.A:
		arr := make(bson.A, len(x))
		for i, el := range x {
			arr[i] = setInto(el, parts, v)
		}
		return arr
	}
	return setPath(nil, parts, v)
}

// removePath returns d without the dotted path ($unset, exclusion
// $project); through an array it removes the field from each document.
func removePath(d bson.D, parts []string) bson.D {
	out := make(bson.D, 0, len(d))
	for _, e := range d {
		if e.Key != parts[0] {
			out = append(out, e)
			continue
		}
		if len(parts) == 1 {
			continue
		}
		out = append(out, bson.E{Key: e.Key, Value: removeFrom(e.Value, parts[1:])})
	}
	return out
}

func removeFrom(cur any, parts []string) any {
	switch x := cur.(type) {
	case bson.D:
		return removePath(x, parts)
	case bson.A:
		arr := make(bson.A, len(x))
		for i, el := range x {
			arr[i] = removeFrom(el, parts)
		}
		return arr
	}
	return cur
}

// queryPath calls pred on each value a query path reaches in v, with the
// query language's array rules: a leaf array is tested as a whole and
// element by element, an array on the way is searched through its
// documents (or indexed by a numeric component). A path that reaches
// nothing is tested as missing. It reports whether pred held for any.
func queryPath(v any, parts []string, pred func(any) bool) bool {
	if len(parts) == 0 {
		if pred(v) {
			return true
		}
		if arr, ok := v.(bson.A); ok {
			for _, el := range arr {
				if pred(el) {
					return true
				}
			}
		}
		return false
	}
	switch x := v.(type) {
	case bson.D:
		f, ok := lookupField(x, parts[0])
		if !ok {
			return pred(missing)
		}
		return queryPath(f, parts[1:], pred)
	case bson.A:
		if i, err := strconv.Atoi(parts[0]); err == nil && i >= 0 {
			if i < len(x) && queryPath(x[i], parts[1:], pred) {
				return true
			}
		}
		reached := false
		for _, el := range x {
			if d, ok := el.(bson.D); ok {
				reached = true
				if queryPath(d, parts, pred) {
					return true
				}
			}
		}
		if !reached {
			return pred(missing)
		}
		return false
	}
	return pred(missing)
}
