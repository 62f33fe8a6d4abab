package mongopipe

import (
	"go.mongodb.org/mongo-driver/v2/bson"
)

var logicOps = map[string]func(any) (expr, error){
	"$eq":  cmpOp("$eq", func(c int) bool { return c == 0 }),
	"$ne":  cmpOp("$ne", func(c int) bool { return c != 0 }),
	"$gt":  cmpOp("$gt", func(c int) bool { return c > 0 }),
	"$gte": cmpOp("$gte", func(c int) bool { return c >= 0 }),
	"$lt":  cmpOp("$lt", func(c int) bool { return c < 0 }),
	"$lte": cmpOp("$lte", func(c int) bool { return c <= 0 }),
	"$cmp": opN("$cmp", 2, 2, func(v []any) (any, error) { return int32(compareValues(v[0], v[1])), nil }),
	"$and": shortCircuit("$and", false),
	"$or":  shortCircuit("$or", true),
	"$not": opN("$not", 1, 1, func(v []any) (any, error) { return !truthy(v[0]), nil }),
	"$cond": func(args any) (expr, error) {
		var parts bson.A
		switch x := args.(type) {
		case bson.A:
			parts = x
		case bson.D:
			m := map[string]any{}
			for _, e := range x {
				switch e.Key {
				case "if", "then", "else":
					m[e.Key] = e.Value
				default:
					return nil, errf(codeFailedToParse, "unrecognized parameter to $cond: %s", e.Key)
				}
			}
			for _, k := range []string{"if", "then", "else"} {
				if _, ok := m[k]; !ok {
					return nil, errf(codeFailedToParse, "missing '%s' parameter to $cond", k)
				}
			}
			parts = bson.A{m["if"], m["then"], m["else"]}
		default:
			return nil, errf(codeLocation16020, "expression $cond takes exactly 3 arguments")
		}
		es, err := compileArgs("$cond", parts, 3, 3)
		if err != nil {
			return nil, err
		}
		return func(doc bson.D) (any, error) {
			c, err := es[0](doc)
			if err != nil {
				return nil, err
			}
			if truthy(c) {
				return es[1](doc)
			}
			return es[2](doc)
		}, nil
	},
	"$ifNull": func(args any) (expr, error) {
		es, err := compileArgs("$ifNull", args, 2, -1)
		if err != nil {
			return nil, err
		}
		return func(doc bson.D) (any, error) {
			for i, e := range es {
				v, err := e(doc)
				if err != nil {
					return nil, err
				}
				// The last argument is the replacement, returned as is.
				if !isNullish(v) || i == len(es)-1 {
					return v, nil
				}
			}
			return nil, nil
		}, nil
	},
}

// cmpOp compares two values with the full cross-type order: in
// expressions, unlike queries, 5 < "a" is true and missing < null.
func cmpOp(name string, ok func(int) bool) func(any) (expr, error) {
	return opN(name, 2, 2, func(v []any) (any, error) { return ok(compareValues(v[0], v[1])), nil })
}

func shortCircuit(name string, stopOn bool) func(any) (expr, error) {
	return func(args any) (expr, error) {
		es, err := compileArgs(name, args, 0, -1)
		if err != nil {
			return nil, err
		}
		return func(doc bson.D) (any, error) {
			for _, e := range es {
				v, err := e(doc)
				if err != nil {
					return nil, err
				}
				if truthy(v) == stopOn {
					return stopOn, nil
				}
			}
			return !stopOn, nil
		}, nil
	}
}
