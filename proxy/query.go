package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Running statements for the admin API. A statement from the API takes the
// same way as a wire client's: policy.Check under the caller's binding, the
// tenant's pool, the role's column masks; only the framing differs. Values
// come back decoded from the text protocol: integers as int64, other
// numbers as json.Number (exact decimal text), booleans as bool, NULL as
// nil and everything else (dates, timestamps, text) as string.

// Column is one result column.
type Column struct {
	Name string `json:"name"`
	// Type is the backend's type name ("int4", "numeric", "varchar",
	// "DECIMAL", ...), for display only.
	Type string `json:"type"`
}

// ResultInfo describes a result streamed by QueryStream.
type ResultInfo struct {
	Columns []Column
	// SQL is the statement that ran (the policy's rewrite when it had one).
	SQL string
	// Rows is the number of rows handed to the callback.
	Rows int
	// Truncated reports that rows were withheld: the backend had more rows
	// than the caller's limit or the role's row cap.
	Truncated bool
	// Capped reports that the role's max_rows cap was injected or lowered.
	Capped bool
	// Rewritten reports that the policy rewrote the statement (row filters,
	// tenant isolation, LIMIT).
	Rewritten bool
	// MaxRows is that cap when Capped.
	MaxRows int
	// Masked lists the "table.column" masks of the role the statement read.
	Masked []string
	// Tables are the tables the statement read (for cache invalidation).
	Tables []string
	// PerCaller reports that the result depends on who asked (USER(),
	// CONNECTION_ID() filled in for the caller): it must not be cached
	// for others.
	PerCaller bool
	// Duration is the time from sending the statement to its last row.
	Duration time.Duration
}

// Result is a whole (bounded) result.
type Result struct {
	ResultInfo
	Values [][]any
}

// QueryOptions say how QueryStream runs a statement.
type QueryOptions struct {
	// ReadOnly refuses any statement whose class is not read (the NL path).
	ReadOnly bool
	// Limit stops handing rows to the callback after this many (0: none);
	// the rest are read and dropped.
	Limit int
	// OnColumns, when set, is called once the result's columns are known,
	// before the first row (a streaming export writes its header there).
	OnColumns func(cols []Column) error
	// Client is the caller's address, for the audit log.
	Client string
}

type clientKey struct{}

// WithClient returns ctx carrying the caller's address, which QueryStream
// writes to the audit log when QueryOptions.Client is empty.
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// RowFunc receives each row. The slice is reused between calls: copy what
// is kept. An error stops the statement and is returned by QueryStream.
type RowFunc func(row []any) error

// Dialect returns the SQL dialect of the tenant's engine.
func (t *TenantState) Dialect() policy.Dialect {
	switch t.Engine {
	case EngineMySQL:
		return policy.MySQL
	case EngineSQLite:
		return policy.SQLite
	}
	return policy.Postgres
}

// Query runs sql for binding b and returns at most limit rows (0: all). It
// refuses everything but a single read statement.
func (s *Server) Query(ctx context.Context, b *Binding, sql string, limit int) (*Result, error) {
	res := &Result{}
	info, err := s.QueryStream(ctx, b, sql, QueryOptions{ReadOnly: true, Limit: limit}, func(row []any) error {
		res.Values = append(res.Values, append([]any(nil), row...))
		return nil
	})
	if info != nil {
		res.ResultInfo = *info
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// QueryStream checks sql under b's role, runs it on b's tenant pool and
// hands every row to fn. Cancelling ctx cancels the statement on the
// backend (CancelRequest / KILL QUERY).
func (s *Server) QueryStream(ctx context.Context, b *Binding, sql string, opt QueryOptions, fn RowFunc) (*ResultInfo, error) {
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
	aud.AddSQL(sql)
	defer s.Record(&aud)
	dec, err := s.Check(b, t.Dialect(), sql)
	if err != nil {
		aud.Fail(err, "")
		s.recordError(t.ID, err)
		return nil, err
	}
	aud.Add(dec, "")
	if len(dec.Stmts) != 1 {
		err := sqlerr.New(sqlerr.Unsupported, "the API runs exactly one statement, got %d", len(dec.Stmts))
		aud.Fail(err, "")
		s.recordError(t.ID, err)
		return nil, err
	}
	st := dec.Stmts[0]
	if opt.ReadOnly && st.Class != policy.ClassRead {
		err := sqlerr.New(sqlerr.Permission, "permission denied: only read statements may run here, got %s", st.Kind)
		aud.Fail(err, "")
		s.recordError(t.ID, err)
		return nil, err
	}
	if st.TenantSwitch != "" || st.Set != nil || st.ShowVar != "" || st.Pins || st.KillID != 0 {
		err := sqlerr.New(sqlerr.Unsupported, "%s cannot run from the API", st.Kind)
		aud.Fail(err, "")
		s.recordError(t.ID, err)
		return nil, err
	}
	info := &ResultInfo{SQL: dec.SQL, Capped: dec.Capped, MaxRows: dec.MaxRows, Masked: dec.Masked, Rewritten: dec.Rewritten, Tables: st.Tables, PerCaller: len(dec.Subst) > 0}
	start := time.Now()
	r := &runner{role: b.Role, masked: dec.Masked, limit: opt.Limit, fn: fn, info: info, onCols: opt.OnColumns}
	err = s.runDecision(ctx, b, dec, client, r)
	info.Duration = time.Since(start)
	if r.capLimit && info.Truncated && s.Metrics != nil {
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

// runDecision runs the one statement of dec, checked for b, as a client's
// would run: the policy's text (with USER() and CONNECTION_ID() filled in
// for the caller), its masks, and the role's row cap counted so that r
// knows whether rows were withheld.
func (s *Server) runDecision(ctx context.Context, b *Binding, dec *policy.Decision, client string, r *runner) error {
	t := b.Tenant
	st := dec.Stmts[0]
	r.stmt = &st
	if st.Cap > 0 && (r.limit == 0 || st.Cap <= r.limit) {
		// The backend was given LIMIT Cap+1: a row past the cap means rows
		// were withheld (see policy.Stmt.Cap).
		r.limit, r.capLimit = st.Cap, true
	}
	switch {
	case t.PGPool != nil:
		return s.runPG(ctx, t, dec.SQL, r)
	case t.MySQLPool != nil:
		// USER() and CONNECTION_ID() answer for the caller, as on the wire.
		host, _, err := net.SplitHostPort(client)
		if err != nil {
			host = client
		}
		return s.runMySQL(ctx, t, dec.Fill(0, b.User.Name, host), r)
	case t.SQLitePool != nil:
		r.outMasks = dec.OutputMasks
		return s.runSQLite(ctx, t, dec.SQL, st.Class == policy.ClassRead, r)
	}
	return sqlerr.New(sqlerr.Unavailable, "tenant %q has no backend pool", t.ID)
}

// SystemQuery runs sql, which the proxy itself wrote (catalog
// introspection), on tenant t's pool without a role: no policy check, no
// masks. Never pass it text that came from a client.
func (s *Server) SystemQuery(ctx context.Context, t *TenantState, sql string, fn RowFunc) (*ResultInfo, error) {
	info := &ResultInfo{SQL: sql}
	r := &runner{fn: fn, info: info}
	var err error
	switch {
	case t.PGPool != nil:
		err = s.runPG(ctx, t, sql, r)
	case t.MySQLPool != nil:
		err = s.runMySQL(ctx, t, sql, r)
	case t.SQLitePool != nil:
		err = s.runSQLite(ctx, t, sql, true, r)
	default:
		err = sqlerr.New(sqlerr.Unavailable, "tenant %q has no backend pool", t.ID)
	}
	return info, err
}

// Tenant returns the live tenant id, if configured.
func (s *Server) Tenant(id string) (*TenantState, bool) {
	t, ok := s.reg.Load().tenants[id]
	return t, ok
}

func (s *Server) recordError(tenant string, err error) {
	if s.Metrics == nil {
		return
	}
	state := "XX000"
	var pe *pgconn.PgError
	switch e := sqlerr.As(err); {
	case e != nil:
		state = e.SQLState()
	case errors.As(err, &pe):
		state = pe.Code
	}
	s.Metrics.Error(tenant, state, err)
}

// runner hands decoded, masked rows to the callback.
type runner struct {
	role   *policy.Role
	masked []string
	limit  int
	// capLimit: limit is the role's row cap rather than the caller's.
	capLimit bool
	fn       RowFunc
	info     *ResultInfo
	stop     error // the callback's error
	onCols   func([]Column) error

	maskIdx []maskCol
	row     []any
	// outMasks are the masked output positions the policy decided on the
	// tree (SQLite, which reports no column origin).
	outMasks []int
	// stmt is the analysed statement (MySQL: masks are decided from its
	// Output, which the column definitions must confirm).
	stmt *policy.Stmt
}

// mysqlMasks decides which result columns are masked, as the MySQL front
// end does: by position from the analysed select list, which the column
// definitions must confirm (a disagreement refuses the result); without
// one, every column whose original name or label is that of a masked
// column of a table the statement reads. A definition naming a masked
// table.column is masked in any case.
func mysqlMasks(cols []mysqlCol, st *policy.Stmt, masked map[string]bool) ([]bool, error) {
	out := make([]bool, len(cols))
	if len(masked) == 0 {
		return out, nil
	}
	for i, c := range cols {
		out[i] = masked[strings.ToLower(c.orgTable+"."+c.orgName)]
	}
	if st != nil && st.Output != nil {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.orgName
		}
		m, err := st.Output.Masks(names)
		if err != nil {
			return nil, sqlerr.Wrap(sqlerr.Permission, err, "permission denied: the result's columns do not match the statement the proxy checked (masked columns could not be placed); the statement was refused")
		}
		for i := range out {
			out[i] = out[i] || m[i]
		}
		return out, nil
	}
	names := map[string]bool{}
	for mk := range masked {
		t, c, _ := strings.Cut(mk, ".")
		if st == nil || slices.ContainsFunc(st.Tables, func(x string) bool { return strings.EqualFold(x, t) }) {
			names[c] = true
		}
	}
	for i, c := range cols {
		out[i] = out[i] || names[strings.ToLower(c.orgName)] || names[strings.ToLower(c.name)]
	}
	return out, nil
}

// maskCol is one column of the current result to mask.
type maskCol struct {
	index int
	text  bool // a text-like type: masked with a string, else NULL
}

// columns reports the result's columns to the OnColumns hook.
func (r *runner) columns() {
	if r.onCols != nil && r.stop == nil {
		if err := r.onCols(r.info.Columns); err != nil {
			r.stop = err
		}
		r.onCols = nil
	}
}

func (r *runner) deliver() {
	if r.stop != nil {
		return
	}
	if r.limit > 0 && r.info.Rows >= r.limit {
		r.info.Truncated = true
		return
	}
	for _, m := range r.maskIdx {
		if m.index < len(r.row) && r.row[m.index] != nil {
			v := MaskValue(r.role.Mask, m.text, []byte(fmt.Sprint(r.row[m.index])))
			if v == nil {
				r.row[m.index] = nil
			} else {
				r.row[m.index] = string(v)
			}
		}
	}
	r.info.Rows++
	if err := r.fn(r.row); err != nil {
		r.stop = err
	}
}

// MaskValue is what a client sees in place of a masked value: "****" for
// stars, a hex SHA-256 prefix for hash, and NULL for the null style or a
// value that is not text.
func MaskValue(style string, text bool, v []byte) []byte {
	if !text || style == policy.MaskNull {
		return nil
	}
	if style == policy.MaskHash {
		h := sha256.Sum256(v)
		return []byte(hex.EncodeToString(h[:8]))
	}
	return []byte("****")
}

// watchCancel cancels the backend statement when ctx ends before done is
// closed, and bounds the connection's I/O a little past ctx's deadline.
func watchCancel(ctx context.Context, cancel func(context.Context) error) (done func() (cancelled bool)) {
	// state: 0 running, 1 finished, 2 cancelling. Whichever of the end of
	// the statement and ctx comes first wins, so a cancel is never sent
	// after the statement ended (it could hit the connection's next user).
	var state atomic.Int32
	ch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if state.CompareAndSwap(0, 2) {
				cctx, c := context.WithTimeout(context.Background(), 5*time.Second)
				_ = cancel(cctx)
				c()
			}
		case <-ch:
		}
	}()
	return func() bool {
		close(ch)
		return !state.CompareAndSwap(0, 1)
	}
}

// --- Postgres ---

// pgMaskLookup finds the OIDs and column numbers of masked columns, run in
// the same simple Query as the statement.
const pgMaskLookup = `SELECT a.attrelid::int8, a.attnum::int4, c.relname::text, a.attname::text FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE a.attnum > 0 AND c.relname = ANY(%s::text[]) AND a.attname = ANY(%s::text[]);`

// pgTextTypes are the type OIDs whose values can be replaced by a string.
var pgTextTypes = map[uint32]bool{25: true, 1043: true, 1042: true, 19: true, 705: true}

// pgTypeNames names the common type OIDs.
var pgTypeNames = map[uint32]string{16: "bool", 20: "int8", 21: "int2", 23: "int4", 25: "text", 700: "float4",
	701: "float8", 1043: "varchar", 1042: "bpchar", 1082: "date", 1114: "timestamp", 1184: "timestamptz",
	1700: "numeric", 19: "name", 26: "oid", 2950: "uuid", 114: "json", 3802: "jsonb", 1083: "time", 17: "bytea"}

func pgQuoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func pgTextArray(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgQuoteLiteral(n)
	}
	return "ARRAY[" + strings.Join(q, ",") + "]"
}

func (s *Server) runPG(ctx context.Context, t *TenantState, sql string, r *runner) error {
	it, err := t.PGPool.Acquire(ctx)
	if err != nil {
		return err
	}
	be := it.Conn
	clean := false
	defer func() {
		if clean {
			t.PGPool.Release(it)
		} else {
			t.PGPool.Discard(it)
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		_ = be.Conn.SetDeadline(dl.Add(10 * time.Second))
		defer func() { _ = be.Conn.SetDeadline(time.Time{}) }()
	}
	stopWatch := watchCancel(ctx, be.Cancel)
	defer func() {
		if stopWatch() {
			clean = false // a cancel was sent: the connection is not reused
		}
	}()

	// The mask lookup goes first so that its CommandComplete ends it.
	var text strings.Builder
	var want map[string]bool
	lookup := len(r.masked) > 0
	if lookup {
		want = make(map[string]bool)
		var tables, cols []string
		for _, m := range r.masked {
			tb, c, ok := strings.Cut(m, ".")
			if !ok {
				continue
			}
			tables, cols = append(tables, tb), append(cols, c)
			want[m] = true
		}
		fmt.Fprintf(&text, pgMaskLookup, pgTextArray(tables), pgTextArray(cols))
	}
	if be.State != "" {
		text.WriteString("RESET ALL;")
	}
	text.WriteString(sql)
	msg, err := (&pgproto3.Query{String: text.String()}).Encode(nil)
	if err != nil {
		return sqlerr.Wrap(sqlerr.Internal, err, "cannot encode the statement")
	}
	if _, err := be.W.Write(msg); err != nil {
		return s.pgLost(t, ctx, err)
	}
	if err := be.W.Flush(); err != nil {
		return s.pgLost(t, ctx, err)
	}
	maskOIDs := map[uint64]bool{}
	inLookup := lookup
	var fields []pgproto3.FieldDescription
	var types []uint32
	var firstErr error
	sawUserResult := false
	for {
		typ, body, err := pool.ReadPGMessage(be.R, 1<<30)
		if err != nil {
			return s.pgLost(t, ctx, err)
		}
		switch typ {
		case 'T':
			var rd pgproto3.RowDescription
			if err := rd.Decode(body); err != nil {
				return sqlerr.Wrap(sqlerr.Internal, err, "bad row description from the backend")
			}
			if inLookup {
				continue
			}
			sawUserResult = true
			fields = rd.Fields
			types = types[:0]
			r.info.Columns = r.info.Columns[:0]
			r.maskIdx = r.maskIdx[:0]
			for i, f := range fields {
				types = append(types, f.DataTypeOID)
				name := pgTypeNames[f.DataTypeOID]
				if name == "" {
					name = fmt.Sprintf("oid:%d", f.DataTypeOID)
				}
				r.info.Columns = append(r.info.Columns, Column{Name: string(f.Name), Type: name})
				if f.TableOID != 0 && maskOIDs[uint64(f.TableOID)<<16|uint64(f.TableAttributeNumber)] {
					r.maskIdx = append(r.maskIdx, maskCol{index: i, text: pgTextTypes[f.DataTypeOID]})
				}
			}
			r.columns()
			if r.stop != nil {
				return r.stop
			}
		case 'D':
			var row pgproto3.DataRow
			if err := row.Decode(body); err != nil {
				return sqlerr.Wrap(sqlerr.Internal, err, "bad data row from the backend")
			}
			if inLookup {
				if len(row.Values) == 4 && want[string(row.Values[2])+"."+string(row.Values[3])] {
					oid, att := atoi(row.Values[0]), atoi(row.Values[1])
					maskOIDs[uint64(oid)<<16|uint64(att)] = true
				}
				continue
			}
			r.row = r.row[:0]
			for i, v := range row.Values {
				var ty uint32
				if i < len(types) {
					ty = types[i]
				}
				r.row = append(r.row, pgValue(ty, v))
			}
			r.deliver()
			if r.stop != nil {
				// The caller is gone: the connection is abandoned mid-result.
				return r.stop
			}
		case 'C':
			if inLookup {
				inLookup = false
			}
		case 'I':
			if !inLookup {
				sawUserResult = true
			}
		case 'E':
			if firstErr == nil {
				var e pgproto3.ErrorResponse
				if err := e.Decode(body); err == nil {
					firstErr = pgErr(&e)
				} else {
					firstErr = sqlerr.Wrap(sqlerr.Internal, err, "bad error from the backend")
				}
			}
		case 'Z':
			be.State = ""
			if len(body) != 1 || body[0] != 'I' {
				return sqlerr.New(sqlerr.Internal, "backend left in transaction state %q", body)
			}
			clean = true
			if firstErr != nil {
				if ctx.Err() != nil {
					return ctxError(ctx, t.ID)
				}
				return firstErr
			}
			_ = sawUserResult
			return nil
		}
	}
}

func atoi(b []byte) int64 {
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	return n
}

func (s *Server) pgLost(t *TenantState, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx, t.ID)
	}
	return sqlerr.Wrap(sqlerr.Unavailable, err, "lost the backend connection of tenant %q", t.ID)
}

func ctxError(ctx context.Context, tenant string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sqlerr.New(sqlerr.StatementTimeout, "canceling statement due to statement timeout on tenant %q", tenant)
	}
	return sqlerr.New(sqlerr.Canceled, "canceling statement due to user request")
}

func pgErr(e *pgproto3.ErrorResponse) *pgconn.PgError {
	return &pgconn.PgError{Severity: e.Severity, Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint,
		Position: e.Position, TableName: e.TableName, ColumnName: e.ColumnName, ConstraintName: e.ConstraintName}
}

// pgValue decodes a text-format value of type oid.
// intValue is an integer column's text value as a number, or the text
// when it does not parse.
func intValue(v []byte) any {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return string(v)
	}
	return n
}

func pgValue(oid uint32, v []byte) any {
	if v == nil {
		return nil
	}
	switch oid {
	case 20, 21, 23, 26:
		return intValue(v)
	case 700, 701, 1700:
		s := string(v)
		if s == "NaN" || strings.Contains(s, "Infinity") {
			return s
		}
		return json.Number(s)
	case 16:
		return len(v) > 0 && v[0] == 't'
	}
	return string(v)
}

// --- MySQL ---

const (
	mysqlComQuery   = 0x03
	mysqlMoreResult = 0x0008
)

func (s *Server) runMySQL(ctx context.Context, t *TenantState, sql string, r *runner) error {
	it, err := t.MySQLPool.Acquire(ctx)
	if err != nil {
		return err
	}
	be := it.Conn
	clean := false
	defer func() {
		if clean {
			t.MySQLPool.Release(it)
		} else {
			t.MySQLPool.Discard(it)
		}
	}()
	if be.State != "" {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := be.Reset(rctx)
		cancel()
		if err != nil {
			return sqlerr.Wrap(sqlerr.Unavailable, err, "cannot reset a backend connection of tenant %q", t.ID)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = be.Conn.SetDeadline(dl.Add(10 * time.Second))
		defer func() { _ = be.Conn.SetDeadline(time.Time{}) }()
	}
	stopWatch := watchCancel(ctx, be.Kill)
	defer func() {
		if stopWatch() {
			clean = false // a cancel was sent: the connection is not reused
		}
	}()
	masked := make(map[string]bool, len(r.masked))
	for _, m := range r.masked {
		masked[strings.ToLower(m)] = true
	}
	if err := pool.WriteMySQLPacket(be.W, 0, append([]byte{mysqlComQuery}, sql...)); err != nil {
		return s.myLost(t, ctx, err)
	}
	if err := be.W.Flush(); err != nil {
		return s.myLost(t, ctx, err)
	}
	first := true
	for {
		_, p, err := be.R.Next()
		if err != nil {
			return s.myLost(t, ctx, err)
		}
		if len(p) == 0 {
			return sqlerr.New(sqlerr.Internal, "empty packet from the backend")
		}
		switch p[0] {
		case 0xff:
			clean = true
			if ctx.Err() != nil {
				return ctxError(ctx, t.ID)
			}
			return pool.ParseMySQLError(p)
		case 0x00:
			// OK: a statement without a result set.
			more := okMoreResults(p)
			if !more {
				clean = true
				return nil
			}
			continue
		case 0xfb:
			return sqlerr.New(sqlerr.Unsupported, "LOAD DATA LOCAL INFILE is not supported")
		}
		n, _ := lenencInt(p)
		cols := make([]mysqlCol, 0, n)
		for i := uint64(0); i < n; i++ {
			_, cp, err := be.R.Next()
			if err != nil {
				return s.myLost(t, ctx, err)
			}
			cols = append(cols, parseMySQLColumn(cp))
		}
		if _, p, err = be.R.Next(); err != nil { // EOF after the column definitions
			return s.myLost(t, ctx, err)
		}
		if first {
			r.info.Columns = r.info.Columns[:0]
			r.maskIdx = r.maskIdx[:0]
			mset, merr := mysqlMasks(cols, r.stmt, masked)
			if merr != nil {
				return merr // the rest of the reply is unread: the connection is discarded
			}
			for i, c := range cols {
				r.info.Columns = append(r.info.Columns, Column{Name: c.name, Type: mysqlTypeName(c.typ)})
				if mset[i] {
					r.maskIdx = append(r.maskIdx, maskCol{index: i, text: mysqlTextType(c.typ)})
				}
			}
			r.columns()
			if r.stop != nil {
				return r.stop
			}
		}
		var more bool
		for {
			_, p, err := be.R.Next()
			if err != nil {
				return s.myLost(t, ctx, err)
			}
			if len(p) > 0 && p[0] == 0xfe && len(p) < 9 {
				if len(p) >= 5 {
					more = binary.LittleEndian.Uint16(p[3:5])&mysqlMoreResult != 0
				}
				break
			}
			if len(p) > 0 && p[0] == 0xff {
				clean = true
				if ctx.Err() != nil {
					return ctxError(ctx, t.ID)
				}
				return pool.ParseMySQLError(p)
			}
			if !first {
				continue
			}
			r.row = r.row[:0]
			rest := p
			for i := range cols {
				if len(rest) > 0 && rest[0] == 0xfb {
					r.row = append(r.row, nil)
					rest = rest[1:]
					continue
				}
				v, n := lenencBytes(rest)
				rest = rest[n:]
				r.row = append(r.row, mysqlValue(cols[i], v))
			}
			r.deliver()
			if r.stop != nil {
				return r.stop
			}
		}
		first = false
		if !more {
			be.R.Shrink()
			clean = true
			return nil
		}
	}
}

func (s *Server) myLost(t *TenantState, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx, t.ID)
	}
	return sqlerr.Wrap(sqlerr.Unavailable, err, "lost the backend connection of tenant %q", t.ID)
}

func okMoreResults(p []byte) bool {
	rest := p[1:]
	_, n := lenencInt(rest)
	rest = rest[n:]
	_, n = lenencInt(rest)
	rest = rest[n:]
	if len(rest) < 2 {
		return false
	}
	return binary.LittleEndian.Uint16(rest[:2])&mysqlMoreResult != 0
}

type mysqlCol struct {
	name, orgTable, orgName string
	typ                     byte
	flags                   uint16
	charset                 uint16
}

func parseMySQLColumn(p []byte) mysqlCol {
	var c mysqlCol
	var parts [6]string
	for i := range parts {
		v, n := lenencBytes(p)
		parts[i] = string(v)
		p = p[n:]
	}
	c.orgTable, c.name, c.orgName = parts[3], parts[4], parts[5]
	_, n := lenencInt(p) // length of fixed fields (0x0c)
	p = p[n:]
	if len(p) >= 10 {
		c.charset = binary.LittleEndian.Uint16(p[0:2])
		c.typ = p[6]
		c.flags = binary.LittleEndian.Uint16(p[7:9])
	}
	return c
}

func lenencInt(p []byte) (uint64, int) {
	if len(p) == 0 {
		return 0, 0
	}
	switch p[0] {
	case 0xfc:
		if len(p) < 3 {
			return 0, len(p)
		}
		return uint64(binary.LittleEndian.Uint16(p[1:3])), 3
	case 0xfd:
		if len(p) < 4 {
			return 0, len(p)
		}
		return uint64(p[1]) | uint64(p[2])<<8 | uint64(p[3])<<16, 4
	case 0xfe:
		if len(p) < 9 {
			return 0, len(p)
		}
		return binary.LittleEndian.Uint64(p[1:9]), 9
	}
	return uint64(p[0]), 1
}

func lenencBytes(p []byte) ([]byte, int) {
	l, n := lenencInt(p)
	if uint64(len(p)-n) < l {
		return p[n:], len(p)
	}
	return p[n : n+int(l)], n + int(l)
}

func mysqlTextType(t byte) bool {
	switch t {
	case gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_VAR_STRING, gmysql.MYSQL_TYPE_STRING,
		gmysql.MYSQL_TYPE_BLOB, gmysql.MYSQL_TYPE_TINY_BLOB, gmysql.MYSQL_TYPE_MEDIUM_BLOB, gmysql.MYSQL_TYPE_LONG_BLOB,
		gmysql.MYSQL_TYPE_ENUM, gmysql.MYSQL_TYPE_SET, gmysql.MYSQL_TYPE_JSON:
		return true
	}
	return false
}

func mysqlTypeName(t byte) string {
	switch t {
	case gmysql.MYSQL_TYPE_TINY:
		return "TINYINT"
	case gmysql.MYSQL_TYPE_SHORT:
		return "SMALLINT"
	case gmysql.MYSQL_TYPE_INT24:
		return "MEDIUMINT"
	case gmysql.MYSQL_TYPE_LONG:
		return "INT"
	case gmysql.MYSQL_TYPE_LONGLONG:
		return "BIGINT"
	case gmysql.MYSQL_TYPE_DECIMAL, gmysql.MYSQL_TYPE_NEWDECIMAL:
		return "DECIMAL"
	case gmysql.MYSQL_TYPE_FLOAT:
		return "FLOAT"
	case gmysql.MYSQL_TYPE_DOUBLE:
		return "DOUBLE"
	case gmysql.MYSQL_TYPE_DATE, gmysql.MYSQL_TYPE_NEWDATE:
		return "DATE"
	case gmysql.MYSQL_TYPE_DATETIME:
		return "DATETIME"
	case gmysql.MYSQL_TYPE_TIMESTAMP:
		return "TIMESTAMP"
	case gmysql.MYSQL_TYPE_TIME:
		return "TIME"
	case gmysql.MYSQL_TYPE_YEAR:
		return "YEAR"
	case gmysql.MYSQL_TYPE_JSON:
		return "JSON"
	case gmysql.MYSQL_TYPE_BIT:
		return "BIT"
	}
	if mysqlTextType(t) {
		return "VARCHAR"
	}
	return fmt.Sprintf("TYPE%d", t)
}

// mysqlValue decodes a text-protocol value of column c.
func mysqlValue(c mysqlCol, v []byte) any {
	switch c.typ {
	case gmysql.MYSQL_TYPE_TINY, gmysql.MYSQL_TYPE_SHORT, gmysql.MYSQL_TYPE_INT24, gmysql.MYSQL_TYPE_LONG,
		gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_YEAR:
		if c.flags&gmysql.UNSIGNED_FLAG != 0 && c.typ == gmysql.MYSQL_TYPE_LONGLONG {
			return json.Number(string(v))
		}
		return intValue(v)
	case gmysql.MYSQL_TYPE_DECIMAL, gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_FLOAT, gmysql.MYSQL_TYPE_DOUBLE:
		return json.Number(string(v))
	}
	return string(v)
}
