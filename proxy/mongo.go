package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"io"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/mongopipe"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// MongoBackend is a MongoDB tenant's backend: the DSN, the database it
// names, and the collections the tenant may use (empty: all of them).
type MongoBackend struct {
	DSN         string
	Database    string
	Collections []string
}

func (s *Server) mongoDialer(ts *TenantState, m *MongoBackend) pool.Dialer[*pool.MongoConn] {
	dial := pool.DialMongo(m.DSN, m.Database)
	return func(ctx context.Context) (*pool.MongoConn, error) {
		c, err := dial(ctx)
		if err != nil {
			s.log.Warn("backend_connect_failed", "tenant", ts.ID, "error", err)
			return nil, err
		}
		return c, nil
	}
}

// DocFunc receives each result document of a MongoDB read, masked. An
// error stops the read and is returned by Mongo.
type DocFunc func(doc bson.D) error

// Mongo checks req under b's role, runs it on b's MongoDB tenant and hands
// every result document to fn (reads). A write's count of documents
// inserted, changed or deleted is ResultInfo.Rows.
func (s *Server) Mongo(ctx context.Context, b *Binding, req *policy.MongoRequest, opt QueryOptions, fn DocFunc) (*ResultInfo, error) {
	if s.draining.Load() {
		return nil, sqlerr.New(sqlerr.ShuttingDown, "the proxy is shutting down")
	}
	t := b.Tenant
	var aud Statement
	client := opt.Client
	if client == "" {
		client, _ = ctx.Value(clientKey{}).(string)
	}
	aud.Begin(ProtocolHTTP, client, b)
	defer s.Record(&aud)
	fail := func(err error) (*ResultInfo, error) {
		aud.Fail(err, "")
		s.recordError(t.ID, err)
		return nil, err
	}
	if t.MongoPool == nil || t.Mongo == nil {
		return fail(sqlerr.New(sqlerr.Unsupported, "tenant %q is a %s tenant: MongoDB requests run on MongoDB tenants only", t.ID, t.Engine))
	}
	dec, err := policy.CheckMongo(b.Subject, t.Mongo.Collections, req)
	if err != nil {
		aud.AddSQL(req.Op + " " + req.Collection)
		return fail(err)
	}
	class := policy.ClassWrite
	if dec.Read {
		class = policy.ClassRead
	}
	text := dec.Text()
	aud.Add(&policy.Decision{Rewritten: dec.Rewritten, Stmts: []policy.Stmt{{Class: class, Kind: dec.Op, Tables: dec.Collections}}}, text)
	if opt.ReadOnly && !dec.Read {
		return fail(sqlerr.New(sqlerr.Permission, "permission denied: only reads (find, aggregate) may run here, got %s", dec.Op))
	}
	// A MongoDB tenant has no wire clients: its limits apply here.
	if err := s.Allow(b); err != nil {
		return fail(err)
	}
	if d := b.StatementTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	info := &ResultInfo{SQL: text, Capped: dec.Capped, MaxRows: dec.MaxRows, Masked: dec.Masked, Rewritten: dec.Rewritten, Tables: dec.Collections}
	start := time.Now()
	capHit := false
	err = s.runMongo(ctx, b, dec, opt, fn, info, &capHit)
	info.Duration = time.Since(start)
	if capHit && s.Metrics != nil {
		s.Metrics.Capped.WithLabelValues(t.ID).Inc()
	}
	aud.Rows = int64(info.Rows)
	if err != nil {
		aud.Fail(err, "")
		s.recordError(t.ID, err)
		return info, err
	}
	return info, nil
}

// PingMongo checks a MongoDB tenant's backend through its pool.
func (s *Server) PingMongo(ctx context.Context, t *TenantState) error {
	if t.MongoPool == nil {
		return sqlerr.New(sqlerr.Unavailable, "tenant %q has no MongoDB pool", t.ID)
	}
	it, err := t.MongoPool.Acquire(ctx)
	if err != nil {
		return err
	}
	if err := pool.PingMongo(ctx, it.Conn); err != nil {
		t.MongoPool.Fail(it, err)
		return mongoError(ctx, t, err)
	}
	t.MongoPool.Release(it)
	return nil
}

func (s *Server) runMongo(ctx context.Context, b *Binding, dec *policy.MongoDecision, opt QueryOptions, fn DocFunc, info *ResultInfo, capHit *bool) error {
	t := b.Tenant
	it, err := t.MongoPool.Acquire(ctx)
	if err != nil {
		return err
	}
	broken := error(nil)
	defer func() {
		if broken != nil {
			t.MongoPool.Fail(it, broken)
		} else {
			t.MongoPool.Release(it)
		}
	}()
	coll := it.Conn.DB.Collection(dec.Collection)
	check := func(err error) error {
		if err == nil {
			return nil
		}
		if ctx.Err() == nil && mongoBackendDown(err) {
			broken = err
		}
		return mongoError(ctx, t, err)
	}
	if !dec.Read {
		check := func(err error) error {
			e := check(err)
			se := sqlerr.As(e)
			if len(dec.Masked) == 0 || se == nil || broken != nil || ctx.Err() != nil || sqlerr.As(err) != nil {
				return e
			}
			// The server's message quotes the document at the failing
			// path ("Cannot create field 'x' in element {items: [...]}"),
			// masked fields included: only its code is told.
			return sqlerr.Wrap(se.Kind, err, "tenant %q: the MongoDB server refused the %s (%s); its message is withheld because it may quote fields masked for role %q", t.ID, dec.Op, mongoCode(err), b.Role.Name)
		}
		switch dec.Op {
		case policy.MongoInsertOne:
			_, err := coll.InsertOne(ctx, dec.Document)
			if err != nil {
				return check(err)
			}
			info.Rows = 1
		case policy.MongoUpdateMany:
			res, err := coll.UpdateMany(ctx, dec.Filter, dec.Update)
			if err != nil {
				return check(err)
			}
			// The documents the filter matched, not those the update
			// changed: a count of changed ones would tell whether a
			// masked field already held the value set.
			info.Rows = int(res.MatchedCount)
		case policy.MongoDeleteMany:
			res, err := coll.DeleteMany(ctx, dec.Filter)
			if err != nil {
				return check(err)
			}
			info.Rows = int(res.DeletedCount)
		}
		return nil
	}
	// limit is what the caller gets: the smaller of its own limit and the
	// role's cap. The backend is asked for one more document, so that a
	// withheld one shows as truncated.
	limit, capLimit := opt.Limit, false
	if dec.Cap > 0 && (limit == 0 || dec.Cap <= limit) {
		limit, capLimit = dec.Cap, true
	}
	pipeline := dec.Pipeline
	if opt.Limit > 0 && !capLimit {
		pipeline = append(pipeline[:len(pipeline):len(pipeline)], bson.D{{Key: "$limit", Value: int64(limit) + 1}})
	}
	caps, err := s.mongoCaps(ctx, t, it.Conn.DB)
	if err != nil {
		return check(err)
	}
	var row func(ctx context.Context) (bson.D, error)
	iter, err := s.mongoPipeline(ctx, b, dec, it.Conn.DB, dec.Collection, pipeline, caps, 0)
	if err != nil {
		return check(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = iter.Close(cctx)
		cancel()
	}()
	row = iter.Next
	if opt.OnColumns != nil {
		// Documents have no fixed columns: the caller learns them from the
		// documents themselves.
		if err := opt.OnColumns(nil); err != nil {
			return err
		}
	}
	for {
		doc, err := row(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return check(err)
		}
		if limit > 0 && info.Rows >= limit {
			info.Truncated = true
			*capHit = capLimit
			return nil
		}
		for _, m := range dec.Masks {
			maskPath(doc, splitPath(m), b.Role.Mask)
		}
		info.Rows++
		if err := fn(doc); err != nil {
			return err
		}
	}
}

// mongoCaps returns what tenant t's server runs of a pipeline, asked once.
func (s *Server) mongoCaps(ctx context.Context, t *TenantState, db *mongo.Database) (mongopipe.Caps, error) {
	if c := t.mongoCaps.Load(); c != nil {
		return *c, nil
	}
	c, err := mongopipe.Detect(ctx, db)
	if err != nil {
		return mongopipe.Caps{}, err
	}
	t.mongoCaps.Store(&c)
	return c, nil
}

// mongoLookupBatch is how many input documents share one foreign read of
// a $lookup the proxy completes. A server that does not index an $in (as
// FerretDB 1.x on SQLite) scans the foreign collection once per read, so
// fewer, larger reads are much cheaper; 10,000 values stay far below a
// command's 16 MB.
const mongoLookupBatch = 10_000

// mongoLookupDepth bounds $lookups inside looked-up pipelines.
const mongoLookupDepth = 8

// mongoPipeline runs a checked pipeline on coll: the part the server runs
// exactly goes to it, the rest is completed over its cursor
// (mongopipe). A $lookup completed here reads the foreign collection
// through mongoLookup, which applies the tenant's filter again.
func (s *Server) mongoPipeline(ctx context.Context, b *Binding, dec *policy.MongoDecision, db *mongo.Database, coll string, pipeline []bson.D, caps mongopipe.Caps, depth int) (mongopipe.Iter, error) {
	env := mongopipe.Env{Lookup: func(ctx context.Context, from, foreignField string, values []any, sub []bson.D) ([]bson.D, error) {
		return s.mongoLookup(ctx, b, dec, db, from, foreignField, values, sub, caps, depth+1)
	}, LookupBatch: mongoLookupBatch}
	// The local stages are compiled before the server is asked, so a
	// pipeline the proxy cannot complete costs no round trip.
	return mongopipe.Run(ctx, pipeline, caps, func(ctx context.Context, push []bson.D) (*mongo.Cursor, error) {
		return db.Collection(coll).Aggregate(ctx, push)
	}, env)
}

// mongoLookup reads the documents of from that a $lookup joins: only a
// collection the policy checked for this request, only the tenant's
// documents, with the looked-up pipeline (already checked and rewritten).
// Masks of the joined documents are applied with the request's output.
func (s *Server) mongoLookup(ctx context.Context, b *Binding, dec *policy.MongoDecision, db *mongo.Database, from, foreignField string, values []any, sub []bson.D, caps mongopipe.Caps, depth int) ([]bson.D, error) {
	if depth > mongoLookupDepth {
		return nil, sqlerr.New(sqlerr.Unsupported, "$lookup nests too deeply (over %d levels)", mongoLookupDepth)
	}
	if !slices.Contains(dec.Collections, from) {
		// The policy names every collection a request reads: a lookup of
		// another one means the pipeline is not the one it checked.
		return nil, sqlerr.New(sqlerr.Permission, "permission denied: $lookup of collection %q, which the request's check did not cover", from)
	}
	var p []bson.D
	sc := b.Tenant.Scope
	if sc.Isolation == policy.IsolationRow && sc.TenantColumn != "" {
		p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: sc.TenantColumn, Value: sc.TenantValue}}}})
	}
	if foreignField != "" {
		p = append(p, bson.D{{Key: "$match", Value: bson.D{{Key: foreignField, Value: bson.D{{Key: "$in", Value: bson.A(values)}}}}}})
	}
	p = append(p, sub...)
	it, err := s.mongoPipeline(ctx, b, dec, db, from, p, caps, depth)
	if err != nil {
		return nil, err
	}
	return mongopipe.Collect(ctx, it, mongopipe.DefaultMaxDocs)
}

func splitPath(p string) []string { return strings.Split(p, ".") }

// maskPath replaces the value at path in doc (in every element of the
// arrays on the way) with the role's mask: text as MaskValue says, any
// other value as null. Field names match case-insensitively, as the
// policy's checks do.
func maskPath(doc bson.D, path []string, style string) {
	for i := range doc {
		if !strings.EqualFold(doc[i].Key, path[0]) {
			continue
		}
		if len(path) == 1 {
			doc[i].Value = maskedValue(doc[i].Value, style)
			continue
		}
		maskIn(doc[i].Value, path[1:], style)
	}
}

func maskIn(v any, path []string, style string) {
	switch x := v.(type) {
	case bson.D:
		maskPath(x, path, style)
	case bson.A:
		for _, e := range x {
			maskIn(e, path, style)
		}
	}
}

func maskedValue(v any, style string) any {
	switch x := v.(type) {
	case nil, bson.Null, bson.Undefined:
		return v
	case string:
		if m := MaskValue(style, true, []byte(x)); m != nil {
			return string(m)
		}
		return nil
	}
	return nil
}

// mongoCode names a server error's code, without its message.
func mongoCode(err error) string {
	var we mongo.WriteException
	if errors.As(err, &we) && len(we.WriteErrors) > 0 {
		return fmt.Sprintf("code %d", we.WriteErrors[0].Code)
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return fmt.Sprintf("code %d %s", ce.Code, ce.Name)
	}
	return "no code"
}

// mongoBackendDown reports whether err means the server is gone (the
// connection is dropped and the breaker counts it), not that it refused
// the request.
func mongoBackendDown(err error) bool {
	var sel topology.ServerSelectionError
	return mongo.IsNetworkError(err) || errors.As(err, &sel) || errors.Is(err, mongo.ErrClientDisconnected)
}

// mongoError reports a MongoDB request's failure: the context's when it
// ended it, else the server's own message with a kind the API maps.
func mongoError(ctx context.Context, t *TenantState, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ctxError(ctx, t.ID)
	}
	if sqlerr.As(err) != nil {
		return err // the proxy's own refusal (a $lookup the check did not cover), as it is
	}
	var pe *mongopipe.Error
	if errors.As(err, &pe) {
		return sqlerr.Wrap(sqlerr.Unsupported, err, "tenant %q: %s", t.ID, pe.Msg)
	}
	if mongo.IsTimeout(err) {
		return sqlerr.Wrap(sqlerr.StatementTimeout, err, "the MongoDB request timed out on tenant %q", t.ID)
	}
	if mongo.IsNetworkError(err) || errors.Is(err, mongo.ErrClientDisconnected) {
		return sqlerr.Wrap(sqlerr.Unavailable, err, "lost the connection to the MongoDB server of tenant %q", t.ID)
	}
	if mongo.IsDuplicateKeyError(err) {
		return sqlerr.Wrap(sqlerr.InvalidValue, err, "tenant %q: %s", t.ID, err.Error())
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		var ce mongo.CommandError
		if errors.As(err, &ce) && (ce.Code == 13 || ce.Code == 18) { // Unauthorized, AuthenticationFailed
			return sqlerr.Wrap(sqlerr.Permission, err, "tenant %q: the MongoDB server refused the request: %s", t.ID, err.Error())
		}
		return sqlerr.Wrap(sqlerr.Syntax, err, "tenant %q: the MongoDB server refused the request: %s", t.ID, err.Error())
	}
	var sel topology.ServerSelectionError
	if errors.As(err, &sel) {
		return sqlerr.Wrap(sqlerr.Unavailable, err, "the MongoDB server of tenant %q is not reachable", t.ID)
	}
	return sqlerr.Wrap(sqlerr.Unavailable, err, "tenant %q: %s", t.ID, fmt.Sprint(err))
}

// WithMongo runs fn, which the proxy itself wrote (schema introspection),
// on a connection of MongoDB tenant t's pool: no role, no policy. Never
// let a client's request reach it.
func (s *Server) WithMongo(ctx context.Context, t *TenantState, fn func(ctx context.Context, db *mongo.Database) error) error {
	if t.MongoPool == nil {
		return sqlerr.New(sqlerr.Unavailable, "tenant %q has no MongoDB pool", t.ID)
	}
	it, err := t.MongoPool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The driver turns a deadline into maxTimeMS on every command, which
	// some servers refuse on some commands (FerretDB: distinct); ending
	// ctx still cancels the work, by closing the connection.
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	err = fn(fctx, it.Conn.DB)
	stop()
	cancel()
	if err != nil && mongoBackendDown(err) && ctx.Err() == nil {
		t.MongoPool.Fail(it, err)
		return mongoError(ctx, t, err)
	}
	t.MongoPool.Release(it)
	if err != nil {
		return mongoError(ctx, t, err)
	}
	return nil
}
