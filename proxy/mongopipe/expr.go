package mongopipe

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// expr is a compiled aggregation expression evaluated against one
// document. Compiling first means an unknown operator is refused before
// any document is read, as the server refuses it at parse time.
type expr func(doc bson.D) (any, error)

// exprOps maps each supported expression operator to its compiler.
var exprOps map[string]func(args any) (expr, error)

func init() {
	exprOps = map[string]func(args any) (expr, error){
		"$literal": func(args any) (expr, error) { return func(bson.D) (any, error) { return args, nil }, nil },
	}
	for name, f := range arithOps {
		exprOps[name] = f
	}
	for name, f := range stringOps {
		exprOps[name] = f
	}
	for name, f := range logicOps {
		exprOps[name] = f
	}
	for name, f := range dateOps {
		exprOps[name] = f
	}
}

func compileExpr(v any) (expr, error) {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "$$") {
			return compileVariable(x[2:])
		}
		if strings.HasPrefix(x, "$") {
			if err := validFieldPath(x[1:]); err != nil {
				return nil, err
			}
			parts := splitPath(x[1:])
			return func(doc bson.D) (any, error) { return getPath(doc, parts), nil }, nil
		}
		return func(bson.D) (any, error) { return x, nil }, nil
	case bson.D:
		if len(x) > 0 && strings.HasPrefix(x[0].Key, "$") {
			if len(x) != 1 {
				return nil, errf(codeInvalidOperator, "an expression object with operator %s must have exactly one field", x[0].Key)
			}
			op, ok := exprOps[x[0].Key]
			if !ok {
				return nil, errf(codeInvalidOperator, "expression operator %s is not supported by the proxy's pipeline evaluator", x[0].Key)
			}
			return op(x[0].Value)
		}
		return compileObject(x)
	case bson.A:
		items := make([]expr, len(x))
		for i, el := range x {
			e, err := compileExpr(el)
			if err != nil {
				return nil, err
			}
			items[i] = e
		}
		return func(doc bson.D) (any, error) {
			out := make(bson.A, len(items))
			for i, e := range items {
				v, err := e(doc)
				if err != nil {
					return nil, err
				}
				// A missing value inside an array literal becomes null.
				if isMissing(v) {
					v = nil
				}
				out[i] = v
			}
			return out, nil
		}, nil
	}
	return func(bson.D) (any, error) { return v, nil }, nil
}

// compileObject compiles an expression object such as {a: "$x", b: 1};
// a field whose value evaluates to missing is left out.
func compileObject(d bson.D) (expr, error) {
	type field struct {
		key string
		e   expr
	}
	fields := make([]field, 0, len(d))
	for _, el := range d {
		if strings.HasPrefix(el.Key, "$") {
			return nil, errf(codeInvalidOperator, "field name %q in an expression object cannot start with '$'", el.Key)
		}
		if strings.Contains(el.Key, ".") {
			return nil, errf(codeFailedToParse, "field name %q in an expression object cannot contain '.'", el.Key)
		}
		e, err := compileExpr(el.Value)
		if err != nil {
			return nil, err
		}
		fields = append(fields, field{el.Key, e})
	}
	return func(doc bson.D) (any, error) {
		out := make(bson.D, 0, len(fields))
		for _, f := range fields {
			v, err := f.e(doc)
			if err != nil {
				return nil, err
			}
			if !isMissing(v) {
				out = append(out, bson.E{Key: f.key, Value: v})
			}
		}
		return out, nil
	}, nil
}

func compileVariable(name string) (expr, error) {
	base, rest, _ := strings.Cut(name, ".")
	var parts []string
	if rest != "" {
		if err := validFieldPath(rest); err != nil {
			return nil, err
		}
		parts = splitPath(rest)
	}
	switch base {
	case "ROOT", "CURRENT":
		return func(doc bson.D) (any, error) { return getPath(doc, parts), nil }, nil
	case "REMOVE":
		return func(bson.D) (any, error) { return missing, nil }, nil
	}
	return nil, errf(codeInvalidOperator, "variable $$%s is not supported by the proxy's pipeline evaluator", base)
}

// compileArgs compiles an operator's argument list; a single non-array
// argument counts as a list of one, as in the server.
func compileArgs(op string, args any, min, max int) ([]expr, error) {
	list, ok := args.(bson.A)
	if !ok {
		list = bson.A{args}
	}
	if len(list) < min || (max >= 0 && len(list) > max) {
		switch {
		case min == max:
			return nil, errf(codeLocation16020, "expression %s takes exactly %d arguments; %d were passed in", op, min, len(list))
		case max < 0:
			return nil, errf(codeLocation16020, "expression %s takes at least %d arguments; %d were passed in", op, min, len(list))
		default:
			return nil, errf(codeLocation16020, "expression %s takes %d to %d arguments; %d were passed in", op, min, max, len(list))
		}
	}
	out := make([]expr, len(list))
	for i, a := range list {
		e, err := compileExpr(a)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func evalAll(es []expr, doc bson.D) ([]any, error) {
	out := make([]any, len(es))
	for i, e := range es {
		v, err := e(doc)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// opN builds a compiler for an operator with a fixed argument count range
// whose evaluation only needs the argument values.
func opN(name string, min, max int, f func(vals []any) (any, error)) func(any) (expr, error) {
	return func(args any) (expr, error) {
		es, err := compileArgs(name, args, min, max)
		if err != nil {
			return nil, err
		}
		return func(doc bson.D) (any, error) {
			vals, err := evalAll(es, doc)
			if err != nil {
				return nil, err
			}
			return f(vals)
		}, nil
	}
}
