package mongopipe

import (
	"context"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// docPath follows a path through embedded documents only, as $unwind
// does (an array on the way is not searched).
func docPath(d bson.D, parts []string) any {
	var cur any = d
	for _, p := range parts {
		doc, ok := cur.(bson.D)
		if !ok {
			return missing
		}
		v, found := lookupField(doc, p)
		if !found {
			return missing
		}
		cur = v
	}
	return cur
}

func compileUnwind(spec any) (stage, error) {
	var path, indexField string
	preserve := false
	switch x := spec.(type) {
	case string:
		path = x
	case bson.D:
		for _, e := range x {
			switch e.Key {
			case "path":
				s, ok := e.Value.(string)
				if !ok {
					return nil, errf(codeIllegalUnwindField, "expected a string as the path for $unwind stage, got %s", typeName(e.Value))
				}
				path = s
			case "includeArrayIndex":
				s, ok := e.Value.(string)
				if !ok || s == "" || strings.HasPrefix(s, "$") {
					return nil, errf(28810, "expected a non-empty string for the includeArrayIndex option to $unwind stage")
				}
				indexField = s
			case "preserveNullAndEmptyArrays":
				b, ok := e.Value.(bool)
				if !ok {
					return nil, errf(28809, "expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage")
				}
				preserve = b
			default:
				return nil, errf(28811, "unrecognized option to $unwind stage: %s", e.Key)
			}
		}
	default:
		return nil, errf(15981, "expected either a string or an object as specification for $unwind stage")
	}
	if !strings.HasPrefix(path, "$") {
		return nil, errf(28818, "path option to $unwind stage should be prefixed with a '$': %s", path)
	}
	if err := validFieldPath(path[1:]); err != nil {
		return nil, err
	}
	parts := splitPath(path[1:])
	var idxParts []string
	if indexField != "" {
		if err := validFieldPath(indexField); err != nil {
			return nil, err
		}
		idxParts = splitPath(indexField)
	}
	withIndex := func(d bson.D, idx any) bson.D {
		if idxParts == nil {
			return d
		}
		return setPath(d, idxParts, idx)
	}
	return func(in Iter) Iter {
		var pending []bson.D
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			for len(pending) == 0 {
				doc, err := in.Next(ctx)
				if err != nil {
					return nil, err
				}
				v := docPath(doc, parts)
				switch arr := v.(type) {
				case bson.A:
					if len(arr) == 0 {
						if preserve {
							return withIndex(removePath(doc, parts), nil), nil
						}
						continue
					}
					pending = make([]bson.D, len(arr))
					for i, el := range arr {
						pending[i] = withIndex(setPath(doc, parts, el), int64(i))
					}
				default:
					if isNullish(v) {
						if preserve {
							return withIndex(doc, nil), nil
						}
						continue
					}
					// A non-array value unwinds to the document itself.
					return withIndex(doc, nil), nil
				}
			}
			d := pending[0]
			pending = pending[1:]
			return d, nil
		}}
	}, nil
}
