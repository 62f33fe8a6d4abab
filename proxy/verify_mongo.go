package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/tenantproxy/tenantproxy/policy"
)

// The isolation verification of a MongoDB tenant: the backend answers,
// a row tenant's requests return its documents only (counted by the
// server per tenant field value, through the policy as a client's request
// would run), masked fields never come back in clear, and a capped role
// never gets more documents than its cap.

// runMongo runs the MongoDB tenant's checks after the overlap checks.
func (r *tenantRun) runMongo() {
	t := r.t
	var colls []string
	err := r.s.WithMongo(r.ctx, t, func(ctx context.Context, db *mongo.Database) error {
		names, err := db.ListCollectionNames(ctx, bson.D{})
		for _, n := range names {
			if !strings.HasPrefix(n, "system.") && (len(t.Mongo.Collections) == 0 || slices.Contains(t.Mongo.Collections, n)) {
				colls = append(colls, n)
			}
		}
		return err
	})
	if err != nil {
		r.add(Check{Kind: CheckBackend, Name: "the backend lists its collections", Reason: err.Error()})
		return
	}
	slices.Sort(colls)
	r.add(Check{Kind: CheckBackend, Name: "the backend lists its collections", Passed: true, Outcome: "clean", Records: int64(len(colls))})
	for _, role := range r.heldRoles() {
		b := r.binding(role)
		for _, c := range colls {
			if r.outOfTime(CheckCrossReference, c) {
				return
			}
			if t.Scope.Isolation == policy.IsolationRow {
				r.mongoRowCheck(b, c)
			}
			r.mongoMaskCheck(b, c)
			if b.Role.MaxRows > 0 {
				r.mongoCapCheck(b, c)
			}
		}
	}
}

// mongoRead runs req as b's request would run, handing each document to
// fn; refused is the policy's refusal, err the run's failure.
func (r *tenantRun) mongoRead(b *Binding, req *policy.MongoRequest, fn DocFunc) (refused, err error) {
	dec, err := policy.CheckMongo(b.Subject, r.t.Mongo.Collections, req)
	if err != nil {
		return err, nil
	}
	var capHit bool
	return nil, r.s.runMongo(r.ctx, b, dec, QueryOptions{}, fn, &ResultInfo{}, &capHit)
}

// mongoRowCheck counts, through the policy, the documents of coll per
// tenant field value: any value but the tenant's is another tenant's.
func (r *tenantRun) mongoRowCheck(b *Binding, coll string) {
	tf := r.t.Scope.TenantColumn
	req := &policy.MongoRequest{Op: policy.MongoAggregate, Collection: coll,
		Pipeline: []bson.D{{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$" + tf}, {Key: "n", Value: bson.D{{Key: "$sum", Value: int32(1)}}}}}}}}
	c := Check{Kind: CheckCrossReference, Name: fmt.Sprintf("%s returns only documents with %s = %q", coll, tf, r.t.Scope.TenantValue), Role: b.Role.Name,
		Statement: policy.MongoText(req.Pipeline)}
	var own, foreign int64
	refused, err := r.mongoRead(b, req, func(doc bson.D) error {
		var id any
		var n int64
		for _, e := range doc {
			switch e.Key {
			case "_id":
				id = e.Value
			case "n":
				n = mongoInt(e.Value)
			}
		}
		if s, ok := id.(string); ok && s == r.t.Scope.TenantValue {
			own += n
		} else {
			foreign += n
		}
		return nil
	})
	switch {
	case err != nil:
		c.Reason = err.Error()
	case refused != nil:
		c.Passed, c.Outcome, c.Reason = true, "refused", refused.Error()
	default:
		c.Records, c.Foreign = own+foreign, foreign
		c.Passed, c.Outcome = foreign == 0, "filtered"
		if foreign > 0 {
			c.Reason = fmt.Sprintf("%d documents of other tenants came back", foreign)
		}
	}
	r.add(c)
}

// mongoMaskCheck reads coll as b and checks that no masked field comes
// back with a value the server holds in clear there.
func (r *tenantRun) mongoMaskCheck(b *Binding, coll string) {
	var masks []string
	for _, m := range b.Role.MaskedColumns {
		if tb, path, ok := strings.Cut(m, "."); ok && strings.EqualFold(tb, coll) {
			masks = append(masks, path)
		}
	}
	if len(masks) == 0 {
		return
	}
	clear := map[string]bool{}
	var p []bson.D
	if r.t.Scope.Isolation == policy.IsolationRow {
		p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: r.t.Scope.TenantColumn, Value: r.t.Scope.TenantValue}}}})
	}
	p = append(p, bson.D{{Key: "$limit", Value: int32(200)}})
	err := r.s.WithMongo(r.ctx, r.t, func(ctx context.Context, db *mongo.Database) error {
		cur, err := db.Collection(coll).Aggregate(ctx, p)
		if err != nil {
			return err
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			var d bson.D
			if err := bson.Unmarshal(cur.Current, &d); err != nil {
				return err
			}
			for _, m := range masks {
				collectPath(d, splitPath(m), func(v any) {
					if s, ok := v.(string); ok && s != "" {
						clear[s] = true
					}
				})
			}
		}
		return cur.Err()
	})
	c := Check{Kind: CheckMask, Name: fmt.Sprintf("%s: %s never in clear", coll, strings.Join(masks, ", ")), Role: b.Role.Name}
	if err != nil {
		c.Reason = err.Error()
		r.add(c)
		return
	}
	req := &policy.MongoRequest{Op: policy.MongoFind, Collection: coll, Limit: 200}
	var seen, inClear int64
	refused, err := r.mongoRead(b, req, func(doc bson.D) error {
		for _, m := range masks {
			collectPath(doc, splitPath(m), func(v any) {
				seen++
				if s, ok := v.(string); ok && clear[s] {
					inClear++
				}
			})
		}
		return nil
	})
	switch {
	case err != nil:
		c.Reason = err.Error()
	case refused != nil:
		c.Passed, c.Outcome, c.Reason = true, "refused", refused.Error()
	default:
		c.Records, c.Foreign = seen, inClear
		c.Passed, c.Outcome = inClear == 0, "masked"
		if inClear > 0 {
			c.Reason = fmt.Sprintf("%d masked values came back in clear", inClear)
		}
	}
	r.add(c)
}

// mongoCapCheck reads coll as b without a limit: at most the role's cap.
func (r *tenantRun) mongoCapCheck(b *Binding, coll string) {
	c := Check{Kind: CheckCap, Name: fmt.Sprintf("%s: at most %d documents", coll, b.Role.MaxRows), Role: b.Role.Name}
	var n int64
	refused, err := r.mongoRead(b, &policy.MongoRequest{Op: policy.MongoFind, Collection: coll}, func(bson.D) error { n++; return nil })
	switch {
	case err != nil:
		c.Reason = err.Error()
	case refused != nil:
		c.Passed, c.Outcome, c.Reason = true, "refused", refused.Error()
	default:
		c.Records = n
		c.Passed, c.Outcome = n <= int64(b.Role.MaxRows), "capped"
		if !c.Passed {
			c.Reason = fmt.Sprintf("%d documents came back", n)
		}
	}
	r.add(c)
}

// collectPath hands every value at path in doc (through arrays) to fn.
func collectPath(doc bson.D, path []string, fn func(any)) {
	for _, e := range doc {
		if !strings.EqualFold(e.Key, path[0]) {
			continue
		}
		if len(path) == 1 {
			fn(e.Value)
			continue
		}
		collectIn(e.Value, path[1:], fn)
	}
}

func collectIn(v any, path []string, fn func(any)) {
	switch x := v.(type) {
	case bson.D:
		collectPath(x, path, fn)
	case bson.A:
		for _, e := range x {
			collectIn(e, path, fn)
		}
	}
}

func mongoInt(v any) int64 {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}
