package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// MongoDB requests (tenants served through the admin API only).
//
// A request is a find, an aggregation pipeline or one of three writes. The
// policy reads the whole pipeline as data (bson.D stages), refuses what it
// does not know (fail closed), and returns the pipeline that runs:
//
//   - a row tenant's documents are selected by a leading $match on the
//     tenant field, in the pipeline and in every $lookup / $unionWith
//     sub-pipeline ($graphLookup: restrictSearchWithMatch);
//   - the role's max_rows is a final $limit of max_rows+1, so that the
//     runner knows whether rows were withheld (as Stmt.Cap for SQL);
//   - masked fields ("collection.field.path" in masked_columns) may appear
//     in the output only: as an input to $match, $group, $sort, $project or
//     any expression they are refused. The masks are the pipeline's last
//     stage, which the proxy runs on the documents it streams (Masks), so
//     that no backend's support of expressions decides what is hidden;
//   - reads may run find and aggregate; $out and $merge (writes), and
//     $function, $accumulator and $where (server-side JavaScript) are
//     refused; $lookup, $unionWith and $graphLookup may read only the
//     collections the tenant and role allow.

// Mongo request operations.
const (
	MongoFind       = "find"
	MongoAggregate  = "aggregate"
	MongoInsertOne  = "insertOne"
	MongoUpdateMany = "updateMany"
	MongoDeleteMany = "deleteMany"
)

// MongoRequest is one request on a MongoDB tenant.
type MongoRequest struct {
	Op         string
	Collection string
	// Pipeline is an aggregation's stages.
	Pipeline []bson.D
	// Filter, Projection, Sort, Skip and Limit are a find's (Filter also
	// selects the documents of updateMany and deleteMany).
	Filter, Projection, Sort bson.D
	Skip, Limit              int64
	// Document is insertOne's document; Update is updateMany's operators.
	Document, Update bson.D
}

// MongoDecision is what runs for a MongoRequest.
type MongoDecision struct {
	Op         string
	Collection string
	// Read: the request reads (find and aggregate both run Pipeline).
	Read     bool
	Pipeline []bson.D
	// Filter, Update and Document are a write's, rewritten.
	Filter, Update, Document bson.D
	// Collections are every collection the request reads or writes.
	Collections []string
	// Masks are field paths of the result documents whose values the
	// runner replaces (the role's mask style); Masked are the role's
	// "collection.field" masks the request read.
	Masks  []string
	Masked []string
	// Cap is the role's row cap when the request is capped: the pipeline
	// ends with $limit Cap+1.
	Cap       int
	Capped    bool
	MaxRows   int
	Rewritten bool
}

// MongoStages are the aggregation stages a pipeline may use.
var MongoStages = []string{"$match", "$sort", "$limit", "$skip", "$project", "$addFields", "$set", "$unset",
	"$group", "$count", "$unwind", "$lookup", "$unionWith", "$graphLookup"}

// mongoRefusedStages are refused with their reason.
var mongoRefusedStages = map[string]string{
	"$out":            "it writes the result into a collection",
	"$merge":          "it writes the result into a collection",
	"$function":       "it runs server-side JavaScript",
	"$accumulator":    "it runs server-side JavaScript",
	"$where":          "it runs server-side JavaScript",
	"$currentOp":      "it reads the server's state",
	"$listSessions":   "it reads the server's state",
	"$collStats":      "it reads the server's state",
	"$indexStats":     "it reads the server's state",
	"$planCacheStats": "it reads the server's state",
}

// mongoQueryOps are the query operators of a filter ($match, find).
var mongoQueryOps = set("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type",
	"$regex", "$options", "$elemMatch", "$size", "$all", "$mod", "$not")

// mongoExprOps are the aggregation expression operators a pipeline may use.
var mongoExprOps = set("$add", "$subtract", "$multiply", "$divide", "$mod", "$abs", "$ceil", "$floor", "$round", "$trunc",
	"$concat", "$substr", "$substrBytes", "$substrCP", "$toLower", "$toUpper", "$strLenCP", "$trim", "$ltrim", "$rtrim", "$split",
	"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$cmp", "$and", "$or", "$not", "$cond", "$ifNull", "$switch", "$in",
	"$size", "$arrayElemAt", "$first", "$last", "$literal", "$toString", "$toInt", "$toLong", "$toDouble", "$toDecimal",
	"$toBool", "$toDate", "$type", "$year", "$month", "$dayOfMonth", "$dayOfWeek", "$dayOfYear", "$hour", "$minute", "$second",
	"$dateToString", "$sum", "$avg", "$min", "$max", "$isArray", "$concatArrays", "$filter", "$map", "$exists")

// mongoAccumulators are the $group accumulators.
var mongoAccumulators = set("$sum", "$avg", "$min", "$max", "$count", "$first", "$last", "$push", "$addToSet")

// mongoUpdateOps are the update operators of updateMany.
var mongoUpdateOps = set("$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$push", "$pull", "$addToSet",
	"$pop", "$currentDate")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// mongoMaxDepth bounds nested pipelines and expressions.
const mongoMaxDepth = 32

// CheckMongo checks req for s under the tenant's collection allow-list
// (empty: every collection) and returns what runs.
func CheckMongo(s Subject, collections []string, req *MongoRequest) (*MongoDecision, error) {
	c := &mongoCheck{s: s, allowed: collections, dec: &MongoDecision{Op: req.Op, Collection: req.Collection}}
	if err := c.collection(req.Collection, "the request"); err != nil {
		return nil, err
	}
	d := c.dec
	switch req.Op {
	case MongoFind, MongoAggregate:
		d.Read = true
		p := req.Pipeline
		if req.Op == MongoFind {
			p = findPipeline(req)
		} else if len(req.Filter) > 0 || len(req.Projection) > 0 || len(req.Sort) > 0 || req.Skip != 0 || req.Limit != 0 {
			return nil, sqlerr.New(sqlerr.InvalidValue, "an aggregation takes a pipeline only (filter, projection, sort, skip and limit belong to find)")
		}
		out, masks, err := c.pipeline(req.Collection, p, c.masksOf(req.Collection), 0)
		if err != nil {
			return nil, err
		}
		if m := s.Role.MaxRows; m > 0 {
			out = append(out, bson.D{{Key: "$limit", Value: int64(m) + 1}})
			d.Cap, d.Capped, d.MaxRows, d.Rewritten = m, true, m, true
		}
		d.Pipeline, d.Masks = out, masks
	case MongoInsertOne, MongoUpdateMany, MongoDeleteMany:
		if s.Role.Access < AccessWrite {
			return nil, sqlerr.New(sqlerr.Permission, "permission denied: role %q may only read (find, aggregate) on tenant %q, not %s", s.Role.Name, s.Scope.Tenant, req.Op)
		}
		if len(req.Pipeline) > 0 || len(req.Projection) > 0 || len(req.Sort) > 0 {
			return nil, sqlerr.New(sqlerr.InvalidValue, "%s takes no pipeline, projection or sort", req.Op)
		}
		if err := c.write(req); err != nil {
			return nil, err
		}
	case "":
		return nil, sqlerr.New(sqlerr.InvalidValue, "a MongoDB request names its operation (find, aggregate, insertOne, updateMany or deleteMany)")
	default:
		return nil, sqlerr.New(sqlerr.Unsupported, "operation %q is not supported on MongoDB tenant %q (find, aggregate, insertOne, updateMany or deleteMany)", req.Op, s.Scope.Tenant)
	}
	sort.Strings(d.Collections)
	d.Masked = dedupe(d.Masked)
	return d, nil
}

// findPipeline turns a find into the pipeline it means.
func findPipeline(req *MongoRequest) []bson.D {
	var p []bson.D
	if len(req.Filter) > 0 {
		p = append(p, bson.D{{Key: "$match", Value: req.Filter}})
	}
	if len(req.Sort) > 0 {
		p = append(p, bson.D{{Key: "$sort", Value: req.Sort}})
	}
	if req.Skip > 0 {
		p = append(p, bson.D{{Key: "$skip", Value: req.Skip}})
	}
	if req.Limit > 0 {
		p = append(p, bson.D{{Key: "$limit", Value: req.Limit}})
	}
	if len(req.Projection) > 0 {
		p = append(p, bson.D{{Key: "$project", Value: req.Projection}})
	}
	return p
}

type mongoCheck struct {
	s       Subject
	allowed []string
	dec     *MongoDecision
}

func (c *mongoCheck) tenant() string { return c.s.Scope.Tenant }

func (c *mongoCheck) row() bool {
	return c.s.Scope.Isolation == IsolationRow && c.s.Scope.TenantColumn != ""
}

// tenantMatch is the row tenant's leading stage.
func (c *mongoCheck) tenantMatch() bson.D {
	return bson.D{{Key: "$match", Value: bson.D{{Key: c.s.Scope.TenantColumn, Value: c.s.Scope.TenantValue}}}}
}

// collection checks that name may be used, by what (for the message).
func (c *mongoCheck) collection(name, by string) error {
	if name == "" {
		return sqlerr.New(sqlerr.InvalidValue, "%s names no collection", by)
	}
	if strings.HasPrefix(name, "system.") || strings.ContainsAny(name, "$\x00") {
		return sqlerr.New(sqlerr.Permission, "permission denied: collection %q is not available on tenant %q", name, c.tenant())
	}
	// Collection names are case-sensitive on the server: "Orders" is not
	// "orders", so the allow-lists match exactly (the deny-list and masks
	// match in any case, erring on the safe side).
	if len(c.allowed) > 0 && !slices.Contains(c.allowed, name) {
		return sqlerr.New(sqlerr.Permission, "permission denied: %s reads collection %q, which is not among tenant %q's collections (%s)", by, name, c.tenant(), strings.Join(c.allowed, ", "))
	}
	r := c.s.Role
	if containsFold(r.DeniedTables, name) || (len(r.AllowedTables) > 0 && !slices.Contains(r.AllowedTables, name)) {
		return sqlerr.New(sqlerr.Permission, "permission denied: role %q may not read collection %q on tenant %q", r.Name, name, c.tenant())
	}
	for t := range r.RowFilters {
		if strings.EqualFold(t, name) {
			// A row filter is an SQL predicate: it cannot be applied to
			// documents, and reading the collection unfiltered would show
			// what the role must not see.
			return sqlerr.New(sqlerr.Permission, "permission denied: role %q has a row filter on %q, which cannot be applied to a MongoDB collection; the collection is refused", r.Name, name)
		}
	}
	if !slices.Contains(c.dec.Collections, name) {
		c.dec.Collections = append(c.dec.Collections, name)
	}
	return nil
}

// masksOf returns the masked field paths of collection coll.
func (c *mongoCheck) masksOf(coll string) []string {
	var out []string
	for _, m := range c.s.Role.MaskedColumns {
		t, path, ok := strings.Cut(m, ".")
		if ok && strings.EqualFold(t, coll) && path != "" {
			out = append(out, path)
			c.dec.Masked = append(c.dec.Masked, m)
		}
	}
	return out
}

// pathsMeet reports whether paths a and b name the same value or one
// contains the other (case-insensitively: a mask errs on the safe side).
// Array indexes and positional operators are not fields: "items.0.secret"
// and "items.$[].secret" reach items.secret.
func pathsMeet(a, b string) bool {
	a, b = fieldPath(a), fieldPath(b)
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// pathUnder reports whether path p lies strictly inside path m.
func pathUnder(p, m string) bool {
	return strings.HasPrefix(fieldPath(p), fieldPath(m)+".")
}

// fieldPath is p lowered, without the components that address array
// elements (digits: a filter's "a.0.b") or positions ($, $[], $[x]).
func fieldPath(p string) string {
	parts := strings.Split(strings.ToLower(p), ".")
	out := parts[:0]
	for _, s := range parts {
		if s != "" && (s[0] == '$' || strings.Trim(s, "0123456789") == "") {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ".")
}

func (c *mongoCheck) maskedInput(path string, masks []string, where string) error {
	for _, m := range masks {
		if pathsMeet(path, m) {
			return sqlerr.New(sqlerr.Permission, "permission denied: field %q is masked for role %q: it may appear in the output only, not as an input to %s", m, c.s.Role.Name, where)
		}
	}
	return nil
}

func stageName(st bson.D) (string, any, error) {
	if len(st) != 1 {
		keys := make([]string, len(st))
		for i, e := range st {
			keys[i] = e.Key
		}
		return "", nil, sqlerr.New(sqlerr.InvalidValue, "a pipeline stage is a document with exactly one field, got {%s}", strings.Join(keys, ", "))
	}
	return st[0].Key, st[0].Value, nil
}

// pipeline checks and rewrites the stages of a pipeline over coll whose
// input documents have masked fields masks; it returns the pipeline and
// the masked fields of its output.
func (c *mongoCheck) pipeline(coll string, p []bson.D, masks []string, depth int) ([]bson.D, []string, error) {
	if depth > mongoMaxDepth {
		return nil, nil, sqlerr.New(sqlerr.Unsupported, "the pipeline nests too deeply (over %d levels)", mongoMaxDepth)
	}
	var out []bson.D
	if c.row() {
		out = append(out, c.tenantMatch())
		c.dec.Rewritten = true
	}
	masks = append([]string(nil), masks...)
	for i, st := range p {
		name, v, err := stageName(st)
		if err != nil {
			return nil, nil, err
		}
		where := fmt.Sprintf("%s (stage %d)", name, i+1)
		if why, ok := mongoRefusedStages[name]; ok {
			return nil, nil, sqlerr.New(sqlerr.Privilege, "permission denied: stage %s is not allowed on tenant %q: %s", name, c.tenant(), why)
		}
		switch name {
		case "$match":
			q, ok := v.(bson.D)
			if !ok {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a document", where)
			}
			if err := c.query(q, masks, "", where, depth); err != nil {
				return nil, nil, err
			}
		case "$sort":
			q, ok := v.(bson.D)
			if !ok || len(q) == 0 {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a non-empty document", where)
			}
			for _, e := range q {
				if err := c.maskedInput(e.Key, masks, "$sort"); err != nil {
					return nil, nil, err
				}
				if !isNumber(e.Value) {
					return nil, nil, sqlerr.New(sqlerr.Unsupported, "%s: sort order of %q must be 1 or -1", where, e.Key)
				}
			}
		case "$limit", "$skip":
			if !isNumber(v) {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a number", where)
			}
		case "$project", "$addFields", "$set":
			q, ok := v.(bson.D)
			if !ok || len(q) == 0 {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a non-empty document", where)
			}
			if err := c.projection(q, masks, name, depth); err != nil {
				return nil, nil, err
			}
		case "$unset":
			switch x := v.(type) {
			case string:
			case bson.A:
				for _, f := range x {
					if _, ok := f.(string); !ok {
						return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes field names", where)
					}
				}
			default:
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a field name or a list of them", where)
			}
		case "$group":
			q, ok := v.(bson.D)
			if !ok {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a document", where)
			}
			if err := c.group(q, masks, where, depth); err != nil {
				return nil, nil, err
			}
			masks = nil // the output is the group keys and accumulators, none of them masked
		case "$count":
			if s, ok := v.(string); !ok || s == "" || strings.HasPrefix(s, "$") {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes the name of the count's field", where)
			}
			masks = nil
		case "$unwind":
			path := ""
			switch x := v.(type) {
			case string:
				path = x
			case bson.D:
				for _, e := range x {
					switch e.Key {
					case "path":
						path, _ = e.Value.(string)
					case "includeArrayIndex", "preserveNullAndEmptyArrays":
					default:
						return nil, nil, sqlerr.New(sqlerr.Unsupported, "%s: option %q is not supported", where, e.Key)
					}
				}
			}
			if !strings.HasPrefix(path, "$") || strings.HasPrefix(path, "$$") {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a field path (\"$field\")", where)
			}
			for _, m := range masks {
				if pathsMeet(path[1:], m) && !strings.HasPrefix(strings.ToLower(m), strings.ToLower(path[1:])+".") {
					return nil, nil, sqlerr.New(sqlerr.Permission, "permission denied: field %q is masked for role %q: it may appear in the output only, not as an input to $unwind", m, c.s.Role.Name)
				}
			}
		case "$lookup":
			q, ok := v.(bson.D)
			if !ok {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a document", where)
			}
			nq, as, sub, err := c.lookup(q, masks, where, depth)
			if err != nil {
				return nil, nil, err
			}
			v = nq
			for _, m := range sub {
				masks = append(masks, as+"."+m)
			}
		case "$unionWith":
			nq, sub, err := c.unionWith(v, where, depth)
			if err != nil {
				return nil, nil, err
			}
			v = nq
			masks = append(masks, sub...)
		case "$graphLookup":
			q, ok := v.(bson.D)
			if !ok {
				return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a document", where)
			}
			nq, as, sub, err := c.graphLookup(q, masks, where, depth)
			if err != nil {
				return nil, nil, err
			}
			v = nq
			for _, m := range sub {
				masks = append(masks, as+"."+m)
			}
		default:
			return nil, nil, sqlerr.New(sqlerr.Unsupported, "stage %s is not supported on MongoDB tenant %q (allowed: %s)", name, c.tenant(), strings.Join(MongoStages, " "))
		}
		out = append(out, bson.D{{Key: name, Value: v}})
	}
	return out, dedupe(masks), nil
}

// projection checks $project / $addFields / $set: inclusions and
// exclusions of masked fields are fine (the output is masked), a masked
// field as the input of an expression is not.
func (c *mongoCheck) projection(q bson.D, masks []string, stage string, depth int) error {
	for _, e := range q {
		if strings.HasPrefix(e.Key, "$") {
			return sqlerr.New(sqlerr.InvalidValue, "%s: %q is not a field name", stage, e.Key)
		}
		if stage == "$project" && (isNumber(e.Value) || isBool(e.Value)) {
			continue
		}
		if err := c.expr(e.Value, masks, stage, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *mongoCheck) group(q bson.D, masks []string, where string, depth int) error {
	hasID := false
	for _, e := range q {
		if e.Key == "_id" {
			hasID = true
			if err := c.expr(e.Value, masks, "$group", depth+1); err != nil {
				return err
			}
			continue
		}
		acc, ok := e.Value.(bson.D)
		if !ok || len(acc) != 1 {
			return sqlerr.New(sqlerr.InvalidValue, "%s: field %q must be {<accumulator>: <expression>}", where, e.Key)
		}
		op := acc[0].Key
		if why, ok := mongoRefusedStages[op]; ok {
			return sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q: %s", op, c.tenant(), why)
		}
		if !mongoAccumulators[op] {
			return sqlerr.New(sqlerr.Unsupported, "%s: accumulator %s is not supported (allowed: $sum $avg $min $max $count $first $last $push $addToSet)", where, op)
		}
		if err := c.expr(acc[0].Value, masks, "$group", depth+1); err != nil {
			return err
		}
	}
	if !hasID {
		return sqlerr.New(sqlerr.InvalidValue, "%s needs an _id (null for one group)", where)
	}
	return nil
}

// expr checks an aggregation expression.
func (c *mongoCheck) expr(v any, masks []string, where string, depth int) error {
	if depth > mongoMaxDepth {
		return sqlerr.New(sqlerr.Unsupported, "an expression nests too deeply (over %d levels)", mongoMaxDepth)
	}
	switch x := v.(type) {
	case string:
		switch {
		case strings.HasPrefix(x, "$$"):
			name, rest, _ := strings.Cut(x[2:], ".")
			if name == "ROOT" || name == "CURRENT" {
				if rest == "" {
					if len(masks) > 0 {
						return sqlerr.New(sqlerr.Permission, "permission denied: $$%s reads the whole document, which has masked fields (%s) for role %q", name, strings.Join(masks, ", "), c.s.Role.Name)
					}
					return nil
				}
				return c.maskedInput(rest, masks, where)
			}
		case strings.HasPrefix(x, "$"):
			return c.maskedInput(x[1:], masks, where)
		}
	case bson.D:
		for _, e := range x {
			if strings.HasPrefix(e.Key, "$") {
				if why, ok := mongoRefusedStages[e.Key]; ok {
					return sqlerr.New(sqlerr.Privilege, "permission denied: %s is not allowed on tenant %q: %s", e.Key, c.tenant(), why)
				}
				if e.Key == "$literal" {
					continue
				}
				if !mongoExprOps[e.Key] {
					return sqlerr.New(sqlerr.Unsupported, "expression operator %s is not supported in %s on MongoDB tenant %q", e.Key, where, c.tenant())
				}
			}
			if err := c.expr(e.Value, masks, where, depth+1); err != nil {
				return err
			}
		}
	case bson.A:
		for _, e := range x {
			if err := c.expr(e, masks, where, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// query checks a filter ($match, find, a write's filter); prefix is the
// path of the array an $elemMatch is on.
func (c *mongoCheck) query(q bson.D, masks []string, prefix, where string, depth int) error {
	if depth > mongoMaxDepth {
		return sqlerr.New(sqlerr.Unsupported, "a filter nests too deeply (over %d levels)", mongoMaxDepth)
	}
	for _, e := range q {
		switch e.Key {
		case "$and", "$or", "$nor":
			arr, ok := e.Value.(bson.A)
			if !ok || len(arr) == 0 {
				return sqlerr.New(sqlerr.InvalidValue, "%s: %s takes a non-empty list of filters", where, e.Key)
			}
			for _, x := range arr {
				sub, ok := x.(bson.D)
				if !ok {
					return sqlerr.New(sqlerr.InvalidValue, "%s: %s takes a list of filter documents", where, e.Key)
				}
				if err := c.query(sub, masks, prefix, where, depth+1); err != nil {
					return err
				}
			}
			continue
		case "$expr":
			if err := c.expr(e.Value, masks, "$match", depth+1); err != nil {
				return err
			}
			continue
		case "$where":
			return sqlerr.New(sqlerr.Privilege, "permission denied: $where is not allowed on tenant %q: it runs server-side JavaScript", c.tenant())
		case "$comment":
			continue
		}
		if strings.HasPrefix(e.Key, "$") {
			return sqlerr.New(sqlerr.Unsupported, "query operator %s is not supported in %s on MongoDB tenant %q", e.Key, where, c.tenant())
		}
		path := prefix + e.Key
		if err := c.maskedInput(path, masks, "$match"); err != nil {
			return err
		}
		if err := c.condition(path, e.Value, masks, where, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// condition checks the value of a filter's field: a literal, or a
// document of query operators.
func (c *mongoCheck) condition(path string, v any, masks []string, where string, depth int) error {
	d, ok := v.(bson.D)
	if !ok || len(d) == 0 || !strings.HasPrefix(d[0].Key, "$") {
		return nil // a literal to compare with
	}
	for _, op := range d {
		if !strings.HasPrefix(op.Key, "$") {
			return sqlerr.New(sqlerr.InvalidValue, "%s: field %q mixes operators and fields", where, path)
		}
		if op.Key == "$where" {
			return sqlerr.New(sqlerr.Privilege, "permission denied: $where is not allowed on tenant %q: it runs server-side JavaScript", c.tenant())
		}
		if !mongoQueryOps[op.Key] {
			return sqlerr.New(sqlerr.Unsupported, "query operator %s is not supported in %s on MongoDB tenant %q", op.Key, where, c.tenant())
		}
		switch op.Key {
		case "$elemMatch":
			sub, ok := op.Value.(bson.D)
			if !ok {
				return sqlerr.New(sqlerr.InvalidValue, "%s: $elemMatch takes a document", where)
			}
			if len(sub) > 0 && strings.HasPrefix(sub[0].Key, "$") {
				if err := c.condition(path, sub, masks, where, depth+1); err != nil {
					return err
				}
			} else if err := c.query(sub, masks, path+".", where, depth+1); err != nil {
				return err
			}
		case "$not":
			if err := c.condition(path, op.Value, masks, where, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// subPipeline reads a $lookup / $unionWith pipeline.
func subPipeline(v any, where string) ([]bson.D, error) {
	arr, ok := v.(bson.A)
	if !ok {
		if p, ok := v.([]bson.D); ok {
			return p, nil
		}
		return nil, sqlerr.New(sqlerr.InvalidValue, "%s: pipeline takes a list of stages", where)
	}
	out := make([]bson.D, 0, len(arr))
	for _, s := range arr {
		d, ok := s.(bson.D)
		if !ok {
			return nil, sqlerr.New(sqlerr.InvalidValue, "%s: pipeline takes a list of stage documents", where)
		}
		out = append(out, d)
	}
	return out, nil
}

func stagesA(p []bson.D) bson.A {
	a := make(bson.A, len(p))
	for i, s := range p {
		a[i] = s
	}
	return a
}

// lookup checks and rewrites a $lookup; it returns the stage, its output
// field and the masked fields of the documents joined into it.
func (c *mongoCheck) lookup(q bson.D, masks []string, where string, depth int) (bson.D, string, []string, error) {
	var from, as, local, foreign string
	var pipe []bson.D
	var let bson.D
	hasPipe := false
	for _, e := range q {
		s, _ := e.Value.(string)
		switch e.Key {
		case "from":
			from = s
			if _, ok := e.Value.(string); !ok {
				return nil, "", nil, sqlerr.New(sqlerr.Unsupported, "%s: from must name a collection of the tenant's database", where)
			}
		case "as":
			as = s
		case "localField":
			local = s
		case "foreignField":
			foreign = s
		case "let":
			d, ok := e.Value.(bson.D)
			if !ok {
				return nil, "", nil, sqlerr.New(sqlerr.InvalidValue, "%s: let takes a document", where)
			}
			let = d
		case "pipeline":
			p, err := subPipeline(e.Value, where)
			if err != nil {
				return nil, "", nil, err
			}
			pipe, hasPipe = p, true
		default:
			return nil, "", nil, sqlerr.New(sqlerr.Unsupported, "%s: option %q is not supported", where, e.Key)
		}
	}
	if err := c.collection(from, "$lookup"); err != nil {
		return nil, "", nil, err
	}
	if as == "" || strings.HasPrefix(as, "$") {
		return nil, "", nil, sqlerr.New(sqlerr.InvalidValue, "%s needs as (the output field)", where)
	}
	if (local == "") != (foreign == "") || (local == "" && !hasPipe) {
		return nil, "", nil, sqlerr.New(sqlerr.InvalidValue, "%s needs localField and foreignField, or a pipeline", where)
	}
	fromMasks := c.masksOf(from)
	if local != "" {
		if err := c.maskedInput(local, masks, "$lookup"); err != nil {
			return nil, "", nil, err
		}
		if err := c.maskedInput(foreign, fromMasks, "$lookup"); err != nil {
			return nil, "", nil, err
		}
	}
	for _, e := range let {
		if err := c.expr(e.Value, masks, "$lookup", depth+1); err != nil {
			return nil, "", nil, err
		}
	}
	sub, subMasks, err := c.pipeline(from, pipe, fromMasks, depth+1)
	if err != nil {
		return nil, "", nil, err
	}
	out := bson.D{{Key: "from", Value: from}}
	if local != "" {
		out = append(out, bson.E{Key: "localField", Value: local}, bson.E{Key: "foreignField", Value: foreign})
	}
	if len(let) > 0 {
		out = append(out, bson.E{Key: "let", Value: let})
	}
	if len(sub) > 0 {
		out = append(out, bson.E{Key: "pipeline", Value: stagesA(sub)})
	}
	out = append(out, bson.E{Key: "as", Value: as})
	return out, as, subMasks, nil
}

// unionWith checks and rewrites a $unionWith; it returns the stage and the
// masked fields of the documents it adds.
func (c *mongoCheck) unionWith(v any, where string, depth int) (bson.D, []string, error) {
	var coll string
	var pipe []bson.D
	switch x := v.(type) {
	case string:
		coll = x
	case bson.D:
		for _, e := range x {
			switch e.Key {
			case "coll":
				coll, _ = e.Value.(string)
			case "pipeline":
				p, err := subPipeline(e.Value, where)
				if err != nil {
					return nil, nil, err
				}
				pipe = p
			default:
				return nil, nil, sqlerr.New(sqlerr.Unsupported, "%s: option %q is not supported", where, e.Key)
			}
		}
	default:
		return nil, nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a collection name or {coll, pipeline}", where)
	}
	if err := c.collection(coll, "$unionWith"); err != nil {
		return nil, nil, err
	}
	sub, subMasks, err := c.pipeline(coll, pipe, c.masksOf(coll), depth+1)
	if err != nil {
		return nil, nil, err
	}
	out := bson.D{{Key: "coll", Value: coll}}
	if len(sub) > 0 {
		out = append(out, bson.E{Key: "pipeline", Value: stagesA(sub)})
	}
	return out, subMasks, nil
}

// graphLookup checks and rewrites a $graphLookup: a row tenant's
// restrictSearchWithMatch also selects the tenant's documents.
func (c *mongoCheck) graphLookup(q bson.D, masks []string, where string, depth int) (bson.D, string, []string, error) {
	var from, as string
	var restrict bson.D
	var out bson.D
	for _, e := range q {
		s, _ := e.Value.(string)
		switch e.Key {
		case "from":
			from = s
		case "as":
			as = s
		case "startWith":
			if err := c.expr(e.Value, masks, "$graphLookup", depth+1); err != nil {
				return nil, "", nil, err
			}
		case "connectFromField", "connectToField", "depthField", "maxDepth":
		case "restrictSearchWithMatch":
			d, ok := e.Value.(bson.D)
			if !ok {
				return nil, "", nil, sqlerr.New(sqlerr.InvalidValue, "%s: restrictSearchWithMatch takes a filter document", where)
			}
			restrict = d
			continue
		default:
			return nil, "", nil, sqlerr.New(sqlerr.Unsupported, "%s: option %q is not supported", where, e.Key)
		}
		out = append(out, e)
	}
	if err := c.collection(from, "$graphLookup"); err != nil {
		return nil, "", nil, err
	}
	if as == "" || strings.HasPrefix(as, "$") {
		return nil, "", nil, sqlerr.New(sqlerr.InvalidValue, "%s needs as (the output field)", where)
	}
	fromMasks := c.masksOf(from)
	for _, e := range q {
		if e.Key == "connectFromField" || e.Key == "connectToField" {
			s, _ := e.Value.(string)
			if err := c.maskedInput(s, fromMasks, "$graphLookup"); err != nil {
				return nil, "", nil, err
			}
		}
	}
	if err := c.query(restrict, fromMasks, "", where, depth+1); err != nil {
		return nil, "", nil, err
	}
	if c.row() {
		tm := bson.D{{Key: c.s.Scope.TenantColumn, Value: c.s.Scope.TenantValue}}
		if len(restrict) > 0 {
			restrict = bson.D{{Key: "$and", Value: bson.A{restrict, tm}}}
		} else {
			restrict = tm
		}
		c.dec.Rewritten = true
	}
	if len(restrict) > 0 {
		out = append(out, bson.E{Key: "restrictSearchWithMatch", Value: restrict})
	}
	return out, as, fromMasks, nil
}

// write checks insertOne, updateMany and deleteMany; a row tenant's writes
// are confined to its documents.
func (c *mongoCheck) write(req *MongoRequest) error {
	d := c.dec
	tf, tv := c.s.Scope.TenantColumn, c.s.Scope.TenantValue
	switch req.Op {
	case MongoInsertOne:
		if len(req.Filter) > 0 || len(req.Update) > 0 {
			return sqlerr.New(sqlerr.InvalidValue, "insertOne takes a document only")
		}
		if len(req.Document) == 0 {
			return sqlerr.New(sqlerr.InvalidValue, "insertOne needs a document")
		}
		doc := bson.D{}
		for _, e := range req.Document {
			if strings.HasPrefix(e.Key, "$") || e.Key == "" {
				return sqlerr.New(sqlerr.InvalidValue, "insertOne: %q is not a field name", e.Key)
			}
			if c.row() && e.Key == tf {
				if s, ok := e.Value.(string); !ok || s != tv {
					return sqlerr.New(sqlerr.CrossTenant, "permission denied: the document's %s must be this tenant's (%q) on tenant %q", tf, tv, c.tenant())
				}
				continue
			}
			if c.row() && pathsMeet(e.Key, tf) {
				return sqlerr.New(sqlerr.CrossTenant, "permission denied: field %q is the tenant field on tenant %q", e.Key, c.tenant())
			}
			doc = append(doc, e)
		}
		if c.row() {
			// The tenant field comes first, forced to the tenant's value.
			doc = append(bson.D{{Key: tf, Value: tv}}, doc...)
			d.Rewritten = true
		}
		d.Document = doc
		return nil
	case MongoUpdateMany:
		if len(req.Document) > 0 {
			return sqlerr.New(sqlerr.InvalidValue, "updateMany takes a filter and an update")
		}
		if len(req.Update) == 0 {
			return sqlerr.New(sqlerr.InvalidValue, "updateMany needs an update document of operators ($set, $inc, ...)")
		}
		masks := c.masksOf(req.Collection)
		for _, e := range req.Update {
			if !strings.HasPrefix(e.Key, "$") {
				return sqlerr.New(sqlerr.InvalidValue, "updateMany: the update is a document of update operators ($set, $unset, $inc, ...): replacing whole documents is not supported")
			}
			if !mongoUpdateOps[e.Key] {
				return sqlerr.New(sqlerr.Unsupported, "update operator %s is not supported on MongoDB tenant %q", e.Key, c.tenant())
			}
			fields, ok := e.Value.(bson.D)
			if !ok || len(fields) == 0 {
				return sqlerr.New(sqlerr.InvalidValue, "updateMany: %s takes a document of fields", e.Key)
			}
			for _, f := range fields {
				paths := []string{f.Key}
				if e.Key == "$rename" {
					s, _ := f.Value.(string)
					paths = append(paths, s)
				}
				for _, p := range paths {
					if strings.HasPrefix(p, "$") || p == "" {
						return sqlerr.New(sqlerr.InvalidValue, "updateMany: %q is not a field name", p)
					}
					if c.row() && pathsMeet(p, tf) {
						return sqlerr.New(sqlerr.CrossTenant, "permission denied: an update may not change the tenant field %q on tenant %q", tf, c.tenant())
					}
					if err := c.maskedWrite(e.Key, p, masks); err != nil {
						return err
					}
				}
			}
		}
		d.Update = req.Update
	case MongoDeleteMany:
		if len(req.Document) > 0 || len(req.Update) > 0 {
			return sqlerr.New(sqlerr.InvalidValue, "deleteMany takes a filter only")
		}
	}
	masks := c.masksOf(req.Collection)
	if err := c.query(req.Filter, masks, "", req.Op, 0); err != nil {
		return err
	}
	d.Filter = req.Filter
	if d.Filter == nil {
		d.Filter = bson.D{}
	}
	if c.row() {
		tm := bson.D{{Key: tf, Value: tv}}
		if len(d.Filter) > 0 {
			d.Filter = bson.D{{Key: "$and", Value: bson.A{d.Filter, tm}}}
		} else {
			d.Filter = tm
		}
		d.Rewritten = true
	}
	return nil
}

// maskedWrite checks update operator op on path p against the masked
// fields: a masked value may be overwritten ($set, $unset, $currentDate of
// it or of a parent) but not read. $rename moves it where it is not
// masked, $min/$max/$pull/$push/... act on what it holds (the documents
// they change, or the order they leave, tell it), and a path inside it
// fails with a server error that quotes it.
func (c *mongoCheck) maskedWrite(op, p string, masks []string) error {
	for _, m := range masks {
		if !pathsMeet(p, m) {
			continue
		}
		overwrite := op == "$set" || op == "$unset" || op == "$currentDate"
		if overwrite && !pathUnder(p, m) {
			continue
		}
		return sqlerr.New(sqlerr.Permission, "permission denied: field %q is masked for role %q: an update may overwrite it ($set, $unset) but not %s %q", m, c.s.Role.Name, op, p)
	}
	return nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case int32, int64, float64, int:
		return true
	}
	return false
}

func isBool(v any) bool { _, ok := v.(bool); return ok }

func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	seen := map[string]bool{}
	out := s[:0:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
