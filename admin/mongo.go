package admin

// MongoDB tenants through the API: a request in Extended JSON ("mongo" in
// the query body, see policy.ParseMongoRequest) runs under the same
// binding, cache, stored results and exports as a statement on an SQL
// tenant. Result documents are flattened for the tabular answer: nested
// documents become dotted column paths ("address.city"), arrays stay one
// value.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tenantproxy/tenantproxy/nlp"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

func isMongo(b *proxy.Binding) bool { return b.Tenant.Engine == proxy.EngineMongo }

// mongoRequest parses the body's "mongo" request for b's tenant.
func mongoRequest(b *proxy.Binding, raw json.RawMessage) (*policy.MongoRequest, *apiError) {
	if !isMongo(b) {
		return nil, errf(http.StatusBadRequest, "invalid_request", "tenant %q is a %s tenant: send SQL (\"sql\") or a question (\"query\"), not a MongoDB request", b.Tenant.ID, b.Tenant.Engine)
	}
	req, err := policy.ParseMongoRequest(raw)
	if err != nil {
		return nil, fromError(err)
	}
	return req, nil
}

// mongoKeyText is the cache key's text of a request: its canonical
// Extended JSON (types included: 1 and 1.0 differ) and the tenant's
// collection allow-list, which decisionKey does not cover.
func mongoKeyText(b *proxy.Binding, raw json.RawMessage) string {
	var d bson.D
	canon := string(raw)
	if bson.UnmarshalExtJSON(raw, false, &d) == nil {
		if out, err := bson.MarshalExtJSON(d, true, false); err == nil {
			canon = string(out)
		}
	}
	var colls []string
	if b.Tenant.Mongo != nil {
		colls = b.Tenant.Mongo.Collections
	}
	return fmt.Sprintf("%s\x00%s\x00%s", b.Tenant.Engine, strings.Join(colls, ","), canon)
}

// table collects flattened documents as columns and rows.
type table struct {
	cols  []string
	index map[string]int
	types []string
	rows  [][]any
}

func newTable() *table { return &table{index: map[string]int{}} }

func (t *table) add(doc bson.D) {
	row := make([]any, len(t.cols))
	var set func(prefix string, d bson.D)
	set = func(prefix string, d bson.D) {
		for _, e := range d {
			path := prefix + e.Key
			if sub, ok := e.Value.(bson.D); ok && len(sub) > 0 {
				set(path+".", sub)
				continue
			}
			i, ok := t.index[path]
			if !ok {
				i = len(t.cols)
				t.index[path] = i
				t.cols = append(t.cols, path)
				t.types = append(t.types, "")
				row = append(row, nil)
			}
			v := jsonValue(e.Value)
			row[i] = v
			if ty := bsonType(e.Value); ty != "null" {
				switch t.types[i] {
				case "", ty:
					t.types[i] = ty
				default:
					t.types[i] = "mixed"
				}
			}
		}
	}
	set("", doc)
	t.rows = append(t.rows, row)
}

// finish pads the rows to the final columns.
func (t *table) finish() {
	for i, r := range t.rows {
		for len(r) < len(t.cols) {
			r = append(r, nil)
		}
		t.rows[i] = r
	}
	for i, ty := range t.types {
		if ty == "" {
			t.types[i] = "null"
		}
	}
}

// bsonType names a value's BSON type, as $type does.
func bsonType(v any) string {
	switch v.(type) {
	case nil, bson.Null, bson.Undefined:
		return "null"
	case string:
		return "string"
	case int32:
		return "int"
	case int64:
		return "long"
	case float64:
		return "double"
	case bool:
		return "bool"
	case bson.ObjectID:
		return "objectId"
	case bson.DateTime:
		return "date"
	case bson.Decimal128:
		return "decimal"
	case bson.A:
		return "array"
	case bson.D:
		return "object"
	case bson.Binary:
		return "binData"
	case bson.Timestamp:
		return "timestamp"
	case bson.Regex:
		return "regex"
	}
	return fmt.Sprintf("%T", v)
}

// jsonValue turns a BSON value into what JSON answers carry: numbers,
// strings, booleans, null; ObjectIDs as hex, dates as RFC 3339 (UTC),
// decimals as exact numbers, arrays as lists and documents as objects.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bson.Null, bson.Undefined:
		return nil
	case string, bool, int64:
		return x
	case int32:
		return int64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case bson.ObjectID:
		return x.Hex()
	case bson.DateTime:
		return x.Time().UTC().Format(time.RFC3339Nano)
	case bson.Decimal128:
		return json.Number(x.String())
	case bson.Binary:
		return base64.StdEncoding.EncodeToString(x.Data)
	case bson.Regex:
		return "/" + x.Pattern + "/" + x.Options
	case bson.Timestamp:
		return fmt.Sprintf("%d.%d", x.T, x.I)
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case bson.D:
		out := make(map[string]any, len(x))
		for _, e := range x {
			out[e.Key] = jsonValue(e.Value)
		}
		return out
	}
	b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, false, false)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(strings.TrimPrefix(string(b), `{"v":`), "}")
}

// mongoCell is a flattened value as CSV text: lists and objects as JSON.
func mongoCell(v any) string {
	switch v.(type) {
	case []any, map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	case float64:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return csvValue(v)
}

// mongoExplanation says in words what the policy did to a request.
func mongoExplanation(b *proxy.Binding, info *proxy.ResultInfo) string {
	var parts []string
	sc := b.Tenant.Scope
	if sc.Isolation == policy.IsolationRow {
		parts = append(parts, fmt.Sprintf("documents of tenant %q only (%s = %q, also in every $lookup and $unionWith)", sc.Tenant, sc.TenantColumn, sc.TenantValue))
	}
	if info.Capped {
		parts = append(parts, fmt.Sprintf("at most %d documents for role %s", info.MaxRows, b.Role.Name))
	}
	if len(info.Masked) > 0 {
		parts = append(parts, "masked: "+strings.Join(info.Masked, ", "))
	}
	if len(parts) == 0 {
		return "ran as given on collections " + strings.Join(info.Tables, ", ")
	}
	return "ran on collections " + strings.Join(info.Tables, ", ") + "; " + strings.Join(parts, "; ")
}

// answerMongo runs a MongoDB request for the query endpoint.
func (s *Server) answerMongo(ctx context.Context, b *proxy.Binding, req queryRequest, mr *policy.MongoRequest) (*queryResponse, error) {
	resp := &queryResponse{QueryID: newID(), TenantID: b.Tenant.ID, Role: b.Role.Name, CreatedAt: time.Now().UTC(), Confidence: 1, Source: "mongo"}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	tb := newTable()
	info, err := s.p.Mongo(ctx, b, mr, proxy.QueryOptions{Limit: req.MaxResults}, func(doc bson.D) error {
		tb.add(doc)
		return nil
	})
	if err != nil {
		return nil, counted(err)
	}
	tb.finish()
	resp.GeneratedSQL = info.SQL
	resp.Columns, resp.ColumnTypes, resp.Rows = tb.cols, tb.types, tb.rows
	if resp.Columns == nil {
		resp.Columns, resp.ColumnTypes = []string{}, []string{}
	}
	if resp.Rows == nil {
		resp.Rows = [][]any{}
	}
	resp.RowCount = len(resp.Rows)
	if mr.Op != policy.MongoFind && mr.Op != policy.MongoAggregate {
		n := info.Rows
		resp.RowsAffected, resp.RowCount = &n, 0
	}
	resp.Truncated = info.Truncated
	resp.tables = info.Tables
	resp.write = resp.RowsAffected != nil
	resp.SecurityFiltered = info.Capped || len(info.Masked) > 0 || info.Rewritten
	resp.Explanation = mongoExplanation(b, info)
	resp.Analysis = &analysis{Source: resp.Source, PolicySQL: info.SQL, Capped: info.Capped, MaxRows: info.MaxRows, Masked: info.Masked, Rewritten: info.Rewritten}
	return resp, nil
}

// exportMongo streams a MongoDB read as CSV or JSON of flattened
// documents. The columns of documents are known only once they are read,
// so the result (bounded by max_results and the role's cap) is collected
// before the first byte is written.
func (s *Server) exportMongo(w http.ResponseWriter, r *http.Request, b *proxy.Binding, format string, req queryRequest) {
	mr, e := mongoRequest(b, req.Mongo)
	if e != nil {
		writeErr(w, e)
		return
	}
	if req.MaxResults <= 0 || req.MaxResults > s.cfg.MaxResults {
		req.MaxResults = s.cfg.MaxResults
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StatementTimeout)
	defer cancel()
	tb := newTable()
	info, err := s.p.Mongo(ctx, b, mr, proxy.QueryOptions{ReadOnly: true, Limit: req.MaxResults}, func(doc bson.D) error {
		tb.add(doc)
		return nil
	})
	if err != nil {
		writeErr(w, fromError(counted(err)))
		return
	}
	tb.finish()
	s.writeExport(w, b, format, tb, info)
}

// writeExport writes a collected result as a CSV or JSON download.
func (s *Server) writeExport(w http.ResponseWriter, b *proxy.Binding, format string, tb *table, info *proxy.ResultInfo) {
	id := newID()
	name := fmt.Sprintf("%s-%s.%s", b.Tenant.ID, time.Now().UTC().Format("20060102-150405"), format)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("X-Query-ID", id)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		cw := csv.NewWriter(w)
		_ = cw.Write(tb.cols)
		rec := make([]string, len(tb.cols))
		for _, row := range tb.rows {
			for i, v := range row {
				rec[i] = mongoCell(v)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	cols := tb.cols
	if cols == nil {
		cols = []string{}
	}
	rows := tb.rows
	if rows == nil {
		rows = [][]any{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(map[string]any{
		"query_id": id, "generated_sql": info.SQL, "columns": cols, "column_types": tb.types, "rows": rows,
		"row_count": len(rows), "truncated": info.Truncated, "security_filtered": info.Capped || len(info.Masked) > 0 || info.Rewritten,
	})
	_, _ = w.Write(buf.Bytes())
}

// mongoNotSQL refuses SQL on a MongoDB tenant.
func mongoNotSQL(b *proxy.Binding) error {
	return sqlerr.New(sqlerr.Unsupported, "tenant %q is a MongoDB tenant: send a MongoDB request (\"mongo\": {\"collection\": ..., \"pipeline\": [...]} or \"find\": {...}), not SQL", b.Tenant.ID)
}

// translateMongo answers a question on a MongoDB tenant with a pipeline;
// it runs as the caller's own request would (policy.CheckMongo).
func (s *Server) translateMongo(ctx context.Context, b *proxy.Binding, question string) (*nlp.Translation, *policy.MongoRequest, error) {
	tr, err := s.translate(ctx, b, question)
	if err != nil {
		return nil, nil, err
	}
	if tr.Mongo == nil {
		return nil, nil, &nlp.Unanswerable{Reason: "the question has no reading as a MongoDB pipeline", Confidence: tr.Confidence}
	}
	return tr, &policy.MongoRequest{Op: policy.MongoAggregate, Collection: tr.Mongo.Collection, Pipeline: tr.Mongo.Pipeline}, nil
}

// mongoRows runs a translated pipeline and turns its documents into the
// translation's columns.
func (s *Server) mongoRows(ctx context.Context, b *proxy.Binding, mq *nlp.MongoQuery, mr *policy.MongoRequest, limit int) (*proxy.ResultInfo, [][]any, error) {
	var rows [][]any
	info, err := s.p.Mongo(ctx, b, mr, proxy.QueryOptions{ReadOnly: true, Limit: limit}, func(doc bson.D) error {
		raw, err := bson.Marshal(doc)
		if err != nil {
			return err
		}
		row := mq.Row(raw)
		for i, v := range row {
			if t, ok := v.(time.Time); ok {
				row[i] = t.UTC().Format(time.RFC3339Nano)
			}
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return info, nil, err
	}
	if len(rows) == 0 && mq.EmptyRow != nil {
		rows = append(rows, append([]any(nil), mq.EmptyRow...))
	}
	return info, rows, nil
}

// answerMongoQuestion translates a question on a MongoDB tenant and runs
// the pipeline under the caller's policy.
func (s *Server) answerMongoQuestion(ctx context.Context, b *proxy.Binding, req queryRequest) (*queryResponse, error) {
	resp := &queryResponse{QueryID: newID(), TenantID: b.Tenant.ID, Role: b.Role.Name, CreatedAt: time.Now().UTC(), Question: req.Query}
	tr, mr, err := s.translateMongo(ctx, b, req.Query)
	if err != nil {
		return nil, err
	}
	if tr.Confidence < nlp.AnswerThreshold {
		if !req.AllowLowConfidence {
			return nil, &nlp.Unanswerable{Reason: fmt.Sprintf("the best reading has confidence %.2f, under %.2f (%s); send allow_low_confidence: true to get it as a guess",
				tr.Confidence, nlp.AnswerThreshold, tr.Explanation), Confidence: tr.Confidence}
		}
		resp.LowConfidence = true
	}
	resp.Explanation, resp.Confidence, resp.Source = tr.Explanation, tr.Confidence, tr.Source
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	info, rows, err := s.mongoRows(ctx, b, tr.Mongo, mr, req.MaxResults)
	if err != nil {
		return nil, counted(err)
	}
	resp.GeneratedSQL = info.SQL
	resp.Columns = append([]string{}, tr.Mongo.Names...)
	resp.ColumnTypes = make([]string, len(resp.Columns))
	for i := range resp.ColumnTypes {
		resp.ColumnTypes[i] = "mixed"
	}
	resp.Rows = rows
	if resp.Rows == nil {
		resp.Rows = [][]any{}
	}
	resp.RowCount = len(resp.Rows)
	resp.Truncated = info.Truncated
	resp.tables = info.Tables
	resp.SecurityFiltered = info.Capped || len(info.Masked) > 0 || info.Rewritten
	resp.Analysis = &analysis{Source: resp.Source, PolicySQL: info.SQL, Capped: info.Capped, MaxRows: info.MaxRows, Masked: info.Masked, Rewritten: info.Rewritten}
	return resp, nil
}

// exportMongoQuestion exports the answer to a question on a MongoDB tenant.
func (s *Server) exportMongoQuestion(w http.ResponseWriter, r *http.Request, b *proxy.Binding, format string, req queryRequest) {
	if req.Query == "" {
		writeErr(w, fromError(mongoNotSQL(b)))
		return
	}
	if req.MaxResults <= 0 || req.MaxResults > s.cfg.MaxResults {
		req.MaxResults = s.cfg.MaxResults
	}
	tr, mr, err := s.translateMongo(r.Context(), b, req.Query)
	if err != nil {
		writeErr(w, fromError(err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StatementTimeout)
	defer cancel()
	info, rows, err := s.mongoRows(ctx, b, tr.Mongo, mr, req.MaxResults)
	if err != nil {
		writeErr(w, fromError(counted(err)))
		return
	}
	tb := &table{cols: append([]string{}, tr.Mongo.Names...), rows: rows}
	for range tb.cols {
		tb.types = append(tb.types, "mixed")
	}
	s.writeExport(w, b, format, tb, info)
}
