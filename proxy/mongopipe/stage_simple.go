package mongopipe

import (
	"context"
	"io"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func compileMatch(spec any) (stage, error) {
	q, ok := spec.(bson.D)
	if !ok {
		return nil, errf(15959, "the match filter must be an expression in an object")
	}
	pred, err := compileQuery(q)
	if err != nil {
		return nil, err
	}
	return mapStage(func(doc bson.D) (bson.D, error) {
		ok, err := pred(doc)
		if err != nil || !ok {
			return nil, err
		}
		return doc, nil
	}), nil
}

func compileLimit(spec any) (stage, error) {
	n, err := positiveInt("$limit", spec)
	if err != nil {
		return nil, err
	}
	return func(in Iter) Iter {
		seen := int64(0)
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			if seen >= n {
				return nil, io.EOF
			}
			d, err := in.Next(ctx)
			if err != nil {
				return nil, err
			}
			seen++
			return d, nil
		}}
	}, nil
}

func compileSkip(spec any) (stage, error) {
	n, err := positiveInt("$skip", spec)
	if err != nil {
		return nil, err
	}
	return func(in Iter) Iter {
		skipped := int64(0)
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			for skipped < n {
				if _, err := in.Next(ctx); err != nil {
					return nil, err
				}
				skipped++
			}
			return in.Next(ctx)
		}}
	}, nil
}

func compileCount(spec any) (stage, error) {
	name, ok := spec.(string)
	switch {
	case !ok:
		return nil, errf(40156, "the count field must be a non-empty string")
	case name == "":
		return nil, errf(40157, "the count field must be a non-empty string")
	case strings.HasPrefix(name, "$"):
		return nil, errf(40158, "the count field cannot be a $-prefixed path")
	case strings.Contains(name, "."):
		return nil, errf(40160, "the count field cannot contain '.'")
	}
	return func(in Iter) Iter {
		done := false
		return &funcIter{in: in, next: func(ctx context.Context) (bson.D, error) {
			if done {
				return nil, io.EOF
			}
			done = true
			n := int64(0)
			for {
				_, err := in.Next(ctx)
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, err
				}
				n++
			}
			// No input, no output document, as in the server.
			if n == 0 {
				return nil, io.EOF
			}
			return bson.D{{Key: name, Value: narrow(kindInt, n)}}, nil
		}}
	}, nil
}

func compileUnset(spec any) (stage, error) {
	var fields []string
	switch x := spec.(type) {
	case string:
		fields = []string{x}
	case bson.A:
		for _, el := range x {
			s, ok := el.(string)
			if !ok {
				return nil, errf(31120, "$unset specification must be a string or an array containing only string values")
			}
			fields = append(fields, s)
		}
	default:
		return nil, errf(31002, "$unset specification must be a string or an array")
	}
	paths := make([][]string, len(fields))
	for i, f := range fields {
		if err := validFieldPath(f); err != nil {
			return nil, err
		}
		paths[i] = splitPath(f)
	}
	return mapStage(func(doc bson.D) (bson.D, error) {
		for _, p := range paths {
			doc = removePath(doc, p)
		}
		return doc, nil
	}), nil
}

func compileReplaceRoot(name string, spec any) (stage, error) {
	rootSpec := spec
	if name == "$replaceRoot" {
		d, ok := spec.(bson.D)
		if !ok || len(d) != 1 || d[0].Key != "newRoot" {
			return nil, errf(40231, "no newRoot specified for the $replaceRoot stage")
		}
		rootSpec = d[0].Value
	}
	e, err := compileExpr(rootSpec)
	if err != nil {
		return nil, err
	}
	return mapStage(func(doc bson.D) (bson.D, error) {
		v, err := e(doc)
		if err != nil {
			return nil, err
		}
		d, ok := v.(bson.D)
		if !ok {
			return nil, errf(40228, "'newRoot' expression must evaluate to an object, but resulting value was of type %s", typeName(v))
		}
		return d, nil
	}), nil
}
