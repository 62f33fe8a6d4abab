package mongopipe

import (
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// predicate is a compiled query filter ($match) tested on one document.
type predicate func(doc bson.D) (bool, error)

// compileQuery compiles a query document: each top-level entry must hold.
func compileQuery(q bson.D) (predicate, error) {
	preds := make([]predicate, 0, len(q))
	for _, e := range q {
		p, err := compileQueryEntry(e)
		if err != nil {
			return nil, err
		}
		if p != nil {
			preds = append(preds, p)
		}
	}
	return func(doc bson.D) (bool, error) {
		for _, p := range preds {
			ok, err := p(doc)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}, nil
}

func compileQueryEntry(e bson.E) (predicate, error) {
	switch e.Key {
	case "$and", "$or", "$nor":
		arr, ok := e.Value.(bson.A)
		if !ok || len(arr) == 0 {
			return nil, errf(codeBadValue, "%s must be a nonempty array", e.Key)
		}
		subs := make([]predicate, len(arr))
		for i, el := range arr {
			d, ok := el.(bson.D)
			if !ok {
				return nil, errf(codeBadValue, "%s argument's entries must be objects", e.Key)
			}
			p, err := compileQuery(d)
			if err != nil {
				return nil, err
			}
			subs[i] = p
		}
		op := e.Key
		return func(doc bson.D) (bool, error) {
			for _, p := range subs {
				ok, err := p(doc)
				if err != nil {
					return false, err
				}
				switch {
				case op == "$and" && !ok:
					return false, nil
				case op == "$or" && ok:
					return true, nil
				case op == "$nor" && ok:
					return false, nil
				}
			}
			return op != "$or", nil
		}, nil
	case "$expr":
		ex, err := compileExpr(e.Value)
		if err != nil {
			return nil, err
		}
		return func(doc bson.D) (bool, error) {
			v, err := ex(doc)
			return err == nil && truthy(v), err
		}, nil
	case "$comment":
		return nil, nil
	}
	if strings.HasPrefix(e.Key, "$") {
		return nil, errf(codeBadValue, "query operator %s is not supported by the proxy's pipeline evaluator", e.Key)
	}
	parts := splitPath(e.Key)
	vp, err := compileValuePredicate(e.Value)
	if err != nil {
		return nil, err
	}
	return func(doc bson.D) (bool, error) { return vp(doc, parts), nil }, nil
}

// valuePredicate tests what a path reaches in a document.
type valuePredicate func(doc bson.D, parts []string) bool

// isOperatorDoc reports whether a query value is an operator document
// ({$gt: 1}) rather than a document to compare with.
func isOperatorDoc(v any) (bson.D, bool) {
	d, ok := v.(bson.D)
	if ok && len(d) > 0 && strings.HasPrefix(d[0].Key, "$") {
		return d, true
	}
	return nil, false
}

func compileValuePredicate(v any) (valuePredicate, error) {
	ops, ok := isOperatorDoc(v)
	if !ok {
		leaf := eqLeaf(v)
		return func(doc bson.D, parts []string) bool { return queryPath(doc, parts, leaf) }, nil
	}
	var preds []valuePredicate
	var regexOpts *string
	for _, op := range ops {
		if op.Key == "$options" {
			s, ok := op.Value.(string)
			if !ok {
				return nil, errf(codeBadValue, "$options has to be a string")
			}
			regexOpts = &s
		}
	}
	for _, op := range ops {
		if !strings.HasPrefix(op.Key, "$") {
			return nil, errf(codeBadValue, "unknown operator %q mixed with query operators", op.Key)
		}
		p, err := compileOperator(op, regexOpts)
		if err != nil {
			return nil, err
		}
		if p != nil {
			preds = append(preds, p)
		}
	}
	return func(doc bson.D, parts []string) bool {
		for _, p := range preds {
			if !p(doc, parts) {
				return false
			}
		}
		return true
	}, nil
}

func anyLeaf(leaf func(any) bool) valuePredicate {
	return func(doc bson.D, parts []string) bool { return queryPath(doc, parts, leaf) }
}

func compileOperator(op bson.E, regexOpts *string) (valuePredicate, error) {
	switch op.Key {
	case "$eq":
		return anyLeaf(eqLeaf(op.Value)), nil
	case "$ne":
		leaf := eqLeaf(op.Value)
		return func(doc bson.D, parts []string) bool { return !queryPath(doc, parts, leaf) }, nil
	case "$gt", "$gte", "$lt", "$lte":
		if _, ok := op.Value.(bson.Regex); ok {
			return nil, errf(codeBadValue, "cannot use %s with a regex", op.Key)
		}
		return anyLeaf(rangeLeaf(op.Key, op.Value)), nil
	case "$in", "$nin":
		arr, ok := op.Value.(bson.A)
		if !ok {
			return nil, errf(codeBadValue, "%s needs an array", op.Key)
		}
		leaves := make([]func(any) bool, len(arr))
		for i, el := range arr {
			if _, isOp := isOperatorDoc(el); isOp {
				return nil, errf(codeBadValue, "cannot use an operator expression inside %s", op.Key)
			}
			leaves[i] = eqLeaf(el)
		}
		in := func(v any) bool {
			for _, l := range leaves {
				if l(v) {
					return true
				}
			}
			return false
		}
		if op.Key == "$in" {
			return anyLeaf(in), nil
		}
		return func(doc bson.D, parts []string) bool { return !queryPath(doc, parts, in) }, nil
	case "$exists":
		want := truthy(op.Value)
		exists := func(v any) bool { return !isMissing(v) }
		return func(doc bson.D, parts []string) bool { return queryPath(doc, parts, exists) == want }, nil
	case "$regex":
		var re *regexp.Regexp
		var err error
		switch x := op.Value.(type) {
		case string:
			opts := ""
			if regexOpts != nil {
				opts = *regexOpts
			}
			re, err = compileRegex(x, opts)
		case bson.Regex:
			opts := x.Options
			if regexOpts != nil {
				opts = *regexOpts
			}
			re, err = compileRegex(x.Pattern, opts)
		default:
			return nil, errf(codeBadValue, "$regex has to be a string")
		}
		if err != nil {
			return nil, err
		}
		return anyLeaf(regexLeaf(re)), nil
	case "$options":
		return nil, nil
	case "$not":
		var inner valuePredicate
		var err error
		switch x := op.Value.(type) {
		case bson.Regex:
			re, rerr := compileRegex(x.Pattern, x.Options)
			if rerr != nil {
				return nil, rerr
			}
			inner = anyLeaf(regexLeaf(re))
		case bson.D:
			if _, ok := isOperatorDoc(x); !ok {
				return nil, errf(codeBadValue, "$not needs a regex or a document of operators")
			}
			inner, err = compileValuePredicate(x)
			if err != nil {
				return nil, err
			}
		default:
			return nil, errf(codeBadValue, "$not needs a regex or a document")
		}
		return func(doc bson.D, parts []string) bool { return !inner(doc, parts) }, nil
	}
	return nil, errf(codeBadValue, "query operator %s is not supported by the proxy's pipeline evaluator", op.Key)
}

// eqLeaf is query equality with one value: null also matches a missing
// field, a regex value matches strings, otherwise values of the same type
// bracket that compare equal (1 matches 1.0).
func eqLeaf(target any) func(any) bool {
	if re, ok := target.(bson.Regex); ok {
		compiled, err := compileRegex(re.Pattern, re.Options)
		if err == nil {
			match := regexLeaf(compiled)
			return func(v any) bool {
				if r, ok := v.(bson.Regex); ok {
					return r == re
				}
				return match(v)
			}
		}
		return func(v any) bool { r, ok := v.(bson.Regex); return ok && r == re }
	}
	if isNullish(target) {
		return func(v any) bool {
			_, undef := v.(bson.Undefined)
			return isNullish(v) && !undef
		}
	}
	return func(v any) bool {
		return typeRank(v) == typeRank(target) && compareValues(v, target) == 0
	}
}

// rangeLeaf implements $gt/$gte/$lt/$lte: only values in the same type
// bracket compare ("type bracketing"), so {$gt: 5} never matches a string.
func rangeLeaf(op string, target any) func(any) bool {
	ok := map[string]func(int) bool{
		"$gt":  func(c int) bool { return c > 0 },
		"$gte": func(c int) bool { return c >= 0 },
		"$lt":  func(c int) bool { return c < 0 },
		"$lte": func(c int) bool { return c <= 0 },
	}[op]
	if isNullish(target) {
		// {$gte: null} and {$lte: null} match what {$eq: null} does;
		// {$gt: null} and {$lt: null} match nothing.
		if op == "$gte" || op == "$lte" {
			return eqLeaf(nil)
		}
		return func(any) bool { return false }
	}
	return func(v any) bool {
		if typeRank(v) != typeRank(target) {
			return false
		}
		return ok(compareValues(v, target))
	}
}

func regexLeaf(re *regexp.Regexp) func(any) bool {
	return func(v any) bool {
		switch s := v.(type) {
		case string:
			return re.MatchString(s)
		case bson.Symbol:
			return re.MatchString(string(s))
		}
		return false
	}
}

// compileRegex translates a PCRE pattern and options into Go's RE2. A
// pattern RE2 cannot express (backreferences, lookaround) is refused
// rather than matched differently.
func compileRegex(pattern, opts string) (*regexp.Regexp, error) {
	flags := ""
	for _, o := range opts {
		switch o {
		case 'i', 'm', 's':
			flags += string(o)
		default:
			return nil, errf(codeBadValue, "regex option %q is not supported by the proxy's pipeline evaluator", o)
		}
	}
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, errf(codeBadValue, "regular expression %q is not supported by the proxy's pipeline evaluator: %v", pattern, err)
	}
	return re, nil
}
