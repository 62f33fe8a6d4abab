package mongopipe

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// projField is one flattened entry of a $project/$addFields spec: a dotted
// path and either an inclusion flag or a computed expression.
type projField struct {
	path    []string
	include bool // for flags: true = 1, false = 0
	flag    bool // a 0/1/true/false entry (projection only)
	e       expr
}

// flattenSpec turns nested specs ({a: {b: 1}}) into dotted paths ("a.b"),
// leaving operator documents as expressions.
func flattenSpec(stageName string, prefix string, spec bson.D, project bool, out *[]projField) error {
	for _, el := range spec {
		if strings.HasPrefix(el.Key, "$") {
			return errf(16410, "%s: field path %q cannot start with '$'", stageName, el.Key)
		}
		path := el.Key
		if prefix != "" {
			path = prefix + "." + el.Key
		}
		if err := validFieldPath(path); err != nil {
			return err
		}
		if sub, ok := el.Value.(bson.D); ok {
			if _, isOp := isOperatorDoc(sub); !isOp {
				if len(sub) == 0 {
					if project {
						return errf(51270, "an empty object is not a valid value in $project; found empty object at path %s", path)
					}
				} else {
					if err := flattenSpec(stageName, path, sub, project, out); err != nil {
						return err
					}
					continue
				}
			}
		}
		f := projField{path: splitPath(path)}
		if project {
			switch v := el.Value.(type) {
			case bool:
				f.flag, f.include = true, v
			case int32, int64, float64, bson.Decimal128:
				f.flag, f.include = true, numFloat(v) != 0
			}
		}
		if !f.flag {
			e, err := compileExpr(el.Value)
			if err != nil {
				return err
			}
			f.e = e
		}
		*out = append(*out, f)
	}
	return nil
}

func compileAddFields(name string, spec any) (stage, error) {
	d, ok := spec.(bson.D)
	if !ok {
		return nil, errf(40272, "%s specification stage must be an object", name)
	}
	var fields []projField
	if err := flattenSpec(name, "", d, false, &fields); err != nil {
		return nil, err
	}
	return mapStage(func(doc bson.D) (bson.D, error) {
		out := doc
		for _, f := range fields {
			// Expressions see the input document, not fields set before.
			v, err := f.e(doc)
			if err != nil {
				return nil, err
			}
			if isMissing(v) {
				out = removePath(out, f.path)
				continue
			}
			out = setPath(out, f.path, v)
		}
		return out, nil
	}), nil
}

func compileProject(spec any) (stage, error) {
	d, ok := spec.(bson.D)
	if !ok || len(d) == 0 {
		return nil, errf(51272, "$project specification must be a non-empty object")
	}
	var fields []projField
	if err := flattenSpec("$project", "", d, true, &fields); err != nil {
		return nil, err
	}
	idIncluded := true
	var inclusion, exclusion bool
	for _, f := range fields {
		isID := len(f.path) == 1 && f.path[0] == "_id"
		switch {
		case f.flag && isID:
			idIncluded = f.include
			// {_id: 1} alone is an inclusion projection.
			inclusion = inclusion || (f.include && len(fields) == 1)
		case f.flag && f.include, !f.flag:
			inclusion = true
		default:
			exclusion = true
		}
		if !f.flag && isID {
			idIncluded = false // replaced by the computed value
		}
	}
	if inclusion && exclusion {
		return nil, errf(31254, "$project cannot mix inclusion and exclusion of fields other than _id")
	}
	if !inclusion {
		// Exclusion mode: remove the listed paths, keep the rest.
		return mapStage(func(doc bson.D) (bson.D, error) {
			for _, f := range fields {
				if !f.include {
					doc = removePath(doc, f.path)
				}
			}
			return doc, nil
		}), nil
	}
	tree := newIncludeTree()
	if idIncluded {
		tree.add([]string{"_id"})
	}
	for _, f := range fields {
		if f.flag && f.include {
			tree.add(f.path)
		}
	}
	return mapStage(func(doc bson.D) (bson.D, error) {
		out := tree.apply(doc)
		for _, f := range fields {
			if f.flag {
				continue
			}
			v, err := f.e(doc)
			if err != nil {
				return nil, err
			}
			if isMissing(v) {
				continue
			}
			out = setPath(out, f.path, v)
		}
		return out, nil
	}), nil
}

// includeTree is the set of included paths of an inclusion projection.
type includeTree struct {
	leaf     bool
	children map[string]*includeTree
}

func newIncludeTree() *includeTree { return &includeTree{children: map[string]*includeTree{}} }

func (t *includeTree) add(path []string) {
	n := t
	for _, p := range path {
		c, ok := n.children[p]
		if !ok {
			c = newIncludeTree()
			n.children[p] = c
		}
		n = c
	}
	n.leaf = true
}

// apply keeps the included fields in the input's order; through an array
// it projects each document element and drops the other elements.
func (t *includeTree) apply(doc bson.D) bson.D {
	out := bson.D{}
	for _, e := range doc {
		c, ok := t.children[e.Key]
		if !ok {
			continue
		}
		if c.leaf {
			out = append(out, e)
			continue
		}
		switch v := e.Value.(type) {
		case bson.D:
			out = append(out, bson.E{Key: e.Key, Value: c.apply(v)})
		case bson.A:
			out = append(out, bson.E{Key: e.Key, Value: c.applyArray(v)})
		}
	}
	return out
}

func (t *includeTree) applyArray(a bson.A) bson.A {
	out := bson.A{}
	for _, el := range a {
		switch v := el.(type) {
		case bson.D:
			out = append(out, t.apply(v))
		case bson.A:
			out = append(out, t.applyArray(v))
		}
	}
	return out
}
