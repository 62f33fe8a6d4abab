package policy

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// ParseMongoRequest reads a request in MongoDB Extended JSON (relaxed or
// canonical):
//
//	{"collection": "orders", "pipeline": [{"$match": {...}}, ...]}
//	{"collection": "orders", "find": {"filter": {...}, "projection": {...}, "sort": {...}, "skip": 0, "limit": 10}}
//	{"collection": "orders", "insert_one": {...document...}}
//	{"collection": "orders", "update_many": {"filter": {...}, "update": {"$set": {...}}}}
//	{"collection": "orders", "delete_many": {"filter": {...}}}
//
// Unknown keys are refused.
func ParseMongoRequest(raw []byte) (*MongoRequest, error) {
	var d bson.D
	if err := bson.UnmarshalExtJSON(raw, false, &d); err != nil {
		return nil, sqlerr.New(sqlerr.InvalidValue, "the MongoDB request is not Extended JSON: %v", err)
	}
	req := &MongoRequest{}
	ops := 0
	for _, e := range d {
		switch e.Key {
		case "collection":
			s, ok := e.Value.(string)
			if !ok {
				return nil, sqlerr.New(sqlerr.InvalidValue, "collection must be a string")
			}
			req.Collection = s
		case "pipeline":
			ops++
			req.Op = MongoAggregate
			p, err := subPipeline(e.Value, "pipeline")
			if err != nil {
				return nil, err
			}
			req.Pipeline = p
		case "find":
			ops++
			req.Op = MongoFind
			f, err := fields(e.Value, "find", "filter", "projection", "sort", "skip", "limit")
			if err != nil {
				return nil, err
			}
			req.Filter, req.Projection, req.Sort = doc(f["filter"]), doc(f["projection"]), doc(f["sort"])
			var ok bool
			if req.Skip, ok = count(f["skip"]); !ok {
				return nil, sqlerr.New(sqlerr.InvalidValue, "find.skip must be a number of at least 0")
			}
			if req.Limit, ok = count(f["limit"]); !ok {
				return nil, sqlerr.New(sqlerr.InvalidValue, "find.limit must be a number of at least 0")
			}
			for _, k := range []string{"filter", "projection", "sort"} {
				if f[k] != nil && doc(f[k]) == nil {
					return nil, sqlerr.New(sqlerr.InvalidValue, "find.%s must be a document", k)
				}
			}
		case "insert_one":
			ops++
			req.Op = MongoInsertOne
			req.Document = doc(e.Value)
			if req.Document == nil {
				return nil, sqlerr.New(sqlerr.InvalidValue, "insert_one takes a document")
			}
		case "update_many", "delete_many":
			ops++
			req.Op = MongoUpdateMany
			allowed := []string{"filter", "update"}
			if e.Key == "delete_many" {
				req.Op, allowed = MongoDeleteMany, []string{"filter"}
			}
			f, err := fields(e.Value, e.Key, allowed...)
			if err != nil {
				return nil, err
			}
			req.Filter, req.Update = doc(f["filter"]), doc(f["update"])
			if f["filter"] != nil && req.Filter == nil {
				return nil, sqlerr.New(sqlerr.InvalidValue, "%s.filter must be a document", e.Key)
			}
			if _, isArr := f["update"].(bson.A); isArr {
				return nil, sqlerr.New(sqlerr.Unsupported, "update_many: an update pipeline is not supported (give update operators: $set, $inc, ...)")
			}
		default:
			return nil, sqlerr.New(sqlerr.InvalidValue, "unknown key %q in the MongoDB request (collection with one of pipeline, find, insert_one, update_many, delete_many)", e.Key)
		}
	}
	if ops != 1 {
		return nil, sqlerr.New(sqlerr.InvalidValue, "a MongoDB request has exactly one of pipeline, find, insert_one, update_many and delete_many (got %d)", ops)
	}
	if req.Collection == "" {
		return nil, sqlerr.New(sqlerr.InvalidValue, "the MongoDB request names no collection")
	}
	return req, nil
}

func fields(v any, where string, allowed ...string) (map[string]any, error) {
	d, ok := v.(bson.D)
	if !ok {
		return nil, sqlerr.New(sqlerr.InvalidValue, "%s takes a document", where)
	}
	out := map[string]any{}
	for _, e := range d {
		found := false
		for _, a := range allowed {
			found = found || a == e.Key
		}
		if !found {
			return nil, sqlerr.New(sqlerr.InvalidValue, "unknown key %q in %s (%s)", e.Key, where, strings.Join(allowed, ", "))
		}
		out[e.Key] = e.Value
	}
	return out, nil
}

func doc(v any) bson.D {
	d, _ := v.(bson.D)
	return d
}

func count(v any) (int64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case int32:
		return int64(x), x >= 0
	case int64:
		return x, x >= 0
	case float64:
		return int64(x), x >= 0 && x == float64(int64(x))
	}
	return 0, false
}

// MongoText renders stages as relaxed Extended JSON (what the API reports
// as the request that ran).
func MongoText(p []bson.D) string {
	b, err := bson.MarshalExtJSON(bson.D{{Key: "p", Value: stagesA(p)}}, false, false)
	if err != nil {
		return fmt.Sprintf("%v", p)
	}
	s := string(b)
	// {"p":[...]} -> [...]
	return strings.TrimSuffix(strings.TrimPrefix(s, `{"p":`), "}")
}

// MongoDocText renders one document as relaxed Extended JSON.
func MongoDocText(d bson.D) string {
	b, err := bson.MarshalExtJSON(d, false, false)
	if err != nil {
		return fmt.Sprintf("%v", d)
	}
	return string(b)
}

// Text describes what runs for a decision, as relaxed Extended JSON.
func (d *MongoDecision) Text() string {
	if d.Read {
		return fmt.Sprintf("db.%s.aggregate(%s)", d.Collection, MongoText(d.Pipeline))
	}
	switch d.Op {
	case MongoInsertOne:
		return fmt.Sprintf("db.%s.insertOne(%s)", d.Collection, MongoDocText(d.Document))
	case MongoUpdateMany:
		return fmt.Sprintf("db.%s.updateMany(%s, %s)", d.Collection, MongoDocText(d.Filter), MongoDocText(d.Update))
	}
	return fmt.Sprintf("db.%s.deleteMany(%s)", d.Collection, MongoDocText(d.Filter))
}
