package pg

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// refusedSQL is sent to a backend to put its transaction into the failed
// state when the proxy refuses a statement inside a transaction (or after
// other messages of an extended-protocol batch), so that COMMIT, ROLLBACK
// and savepoints then behave exactly as if the backend had refused it. The
// backend's syntax error is replaced by the proxy's error.
const refusedSQL = "tenantproxy: statement refused"

// streamThreshold is the row size above which a backend message is copied to
// the client without being held in memory.
const streamThreshold = 64 * 1024

// expect is one response the relay waits for, in protocol order.
type expect struct {
	typ     byte   // '1' parse, '2' bind, '3' close, 'd' describe statement, 'p' describe portal, 'e' execute, 'Z' sync, 'h' flush marker
	synth   []byte // when set, bytes the proxy answers with itself; no backend message is consumed
	swallow bool   // the backend's response is for the proxy, not the client
	// replaceErr, when set, replaces the backend error this entry provokes.
	replaceErr []byte
	// prepared is the backend statement name a Parse adds; removed again if it fails.
	prepared string
	// closes is the backend statement name a Close evicts; known again if
	// the backend skips the Close.
	closes   string
	stmt     *stmt   // describe/execute: the statement concerned
	lookup   bool    // execute of the mask lookup: rows are recorded, not forwarded
	maskDesc bool    // describe the proxy added to learn which columns to mask
	mask     *masker // the masks of the statement this response belongs to
	rc       *rowCap // execute: the portal's row cap (capped.go), nil if none
}

// stmt is a client's prepared statement.
type stmt struct {
	sql       string
	paramOIDs []uint32
	dec       *policy.Decision
	bnd       *proxy.Binding // binding the decision was made under
	gen       uint64         // catalog generation read before the decision (proxy.CatalogGen)
	key       string         // backend statement name
}

// session is one authenticated client connection.
type session struct {
	srv *Server
	c   *conn
	b   *proxy.Binding
	// ctx ends when the session is closed (drain timeout, eviction): an
	// acquire, a replay or a ping under way stops.
	ctx  context.Context
	stop context.CancelFunc

	mu sync.Mutex // guards be, stmtSeq and stmtLive against the cancel and timer paths
	// stmtSeq numbers the statements the statement timer was armed for;
	// stmtLive is set while the one numbered stmtSeq runs.
	stmtSeq  uint64
	stmtLive bool
	be       *pool.Item[*pool.PGConn]
	bePool   *pool.Pool[*pool.PGConn] // the pool be came from (primary or a replica)
	// route is set before an acquire when what is about to run may go to
	// a read replica; rywUntil keeps reads on the primary after a write.
	route        bool
	rywUntil     time.Time
	batchAllRead bool // every statement of the batch so far only reads

	tx     byte // last ReadyForQuery status: 'I', 'T' or 'E'
	pinned bool // the backend holds state that cannot be replayed
	// listening is set by LISTEN: the backend connection is kept for the
	// notifications until UNLISTEN leaves it listening on no channel.
	listening  bool
	unlistened bool // an UNLISTEN ran since the channels were last counted
	beBusy     bool // a request is in flight on be
	stmts      map[string]*stmt
	// portals are the client's portals, each with the statement it was
	// bound from. They live until their transaction ends (an implicit
	// transaction ends at Sync), as in Postgres.
	portals map[string]*stmt
	// portalCaps holds the row cap of each capped portal (capped.go).
	portalCaps map[string]*rowCap
	// simpleCaps are the row caps of the statements of the simple query
	// being relayed, in order; capIdx is the one whose result is current.
	simpleCaps []rowCap
	capIdx     int

	startup  map[string]string // setting name -> SET statement from the startup packet
	settings map[string]string // current setting name -> SET statement
	stateKey string

	// batch under construction (extended protocol, until Sync)
	out      []byte
	exp      []expect
	skipping bool // an error happened: the rest of the batch up to Sync is skipped
	inBatch  bool // an extended-protocol batch began and its Sync has not come
	// syncedInCopy: the client's Sync after a COPY ended a batch that had
	// been flushed without one.
	syncedInCopy bool
	// batchStmts are the session statements (SET, pinning) the batch ran.
	batchStmts []policy.Stmt

	evicted atomic.Pointer[sqlerr.Error] // set when the session must close at its next idle point
	// waiting is set while the session waits for the client's next
	// message: waitInTx inside a transaction, waitIdle between them.
	waiting  atomic.Int32
	watch    *backendWatch // relays a listening backend's messages while the client is idle (listen.go)
	timedOut atomic.Bool   // the tenant's statement timeout cancelled the statement
	admitted func()        // uncounts the client from its tenant's connections
	unreg    func()
	br       *reader // frames from the backend
	brBuf    *[]byte // br's buffer from frameBufs while a backend is held

	aud proxy.Statement // the statement or batch being run, for Record (audit, metrics)
}

func newSession(srv *Server, c *conn, b *proxy.Binding, params map[string]string) (*session, error) {
	s := &session{
		srv: srv,
		c:   c,
		b:   b,
		tx:  'I',
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	for k, v := range params {
		switch k {
		case "user", "database", "replication":
			continue
		case "options":
			if strings.TrimSpace(v) != "" {
				return nil, sqlerr.New(sqlerr.Unsupported, "the startup parameter \"options\" is not supported by the proxy; use SET after connecting")
			}
			continue
		case "search_path", "role", "session_authorization":
			return nil, sqlerr.New(sqlerr.Permission, "the startup parameter %q may not be set through the proxy", k)
		case "client_encoding":
			if !safeClientEncoding(v) {
				return nil, sqlerr.New(sqlerr.Unsupported, "client_encoding %q is not supported by the proxy: use UTF8", v)
			}
		case "standard_conforming_strings":
			if b := strings.ToLower(strings.TrimSpace(v)); b != "on" && b != "true" && b != "1" && b != "yes" {
				return nil, sqlerr.New(sqlerr.Unsupported, "standard_conforming_strings %q is not supported by the proxy: it must stay on", v)
			}
		}
		put(&s.startup, strings.ToLower(k), "SET "+quoteIdent(strings.ToLower(k))+" = "+quoteLiteral(v))
	}
	for k, v := range s.startup {
		put(&s.settings, k, v)
	}
	s.stateKey = s.computeStateKey()
	return s, nil
}

// logger returns a logger with the session's attributes, made for each
// message logged (see conn.logger). It may be called from the cancel and
// timer paths, not under s.mu.
func (s *session) logger() *slog.Logger {
	s.mu.Lock()
	b := s.b
	s.mu.Unlock()
	return s.c.logger().With("tenant", b.Tenant.ID, "user", b.User.Name)
}

// debug logs at debug level, making a logger only when that level is on.
func (s *session) debug(msg string, args ...any) {
	if s.c.log.Enabled(ctxBackground, slog.LevelDebug) {
		s.logger().Debug(msg, args...)
	}
}

const (
	waitNone int32 = iota
	waitInTx
	waitIdle
)

// Evict asks the session to close with err: at its next idle point when
// the proxy shuts down (an open transaction may finish within the drain
// timeout), at once otherwise (a removed user or tenant).
func (s *session) Evict(err *sqlerr.Error) {
	s.evicted.CompareAndSwap(nil, err)
	if w := s.waiting.Load(); w == waitIdle || w == waitInTx && !waitsForIdle(err) {
		_ = s.c.nc.SetReadDeadline(time.Now())
	}
}

// waitsForIdle reports whether an eviction with err lets an open
// transaction finish first.
func waitsForIdle(err *sqlerr.Error) bool { return err.Kind == sqlerr.ShuttingDown }

// Bound returns the session's tenant and user.
func (s *session) Bound() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Tenant.ID, s.b.User.Name
}

// Close closes the client connection now, and breaks off whatever the
// session waits for on its backend.
func (s *session) Close() error {
	s.stop()
	s.mu.Lock()
	if s.be != nil {
		_ = s.be.Conn.Conn.SetDeadline(time.Now())
	}
	s.mu.Unlock()
	return s.c.nc.Close()
}

var _ proxy.Client = (*session)(nil)

// run serves the session until the client or the proxy ends it. Its loop
// waits for each message with a shallow stack: little more than the read
// is in use while the client is idle, so that a stack grown while
// answering is shrunk by the collector and an idle connection keeps a
// small one. The work around the wait is in beforeWait and serve.
func (s *session) run() {
	defer s.stop()
	untrack, ok := s.start()
	if !ok {
		return
	}
	defer s.finish(untrack)
	for {
		if !s.beforeWait() {
			return
		}
		if !s.serve(s.c.r.wait()) {
			return
		}
	}
}

// start registers the session and greets the client; false ends it (the
// client has been told why).
func (s *session) start() (untrack func(), ok bool) {
	untrack, err := s.srv.p.Track(s)
	if err != nil {
		s.srv.p.Metrics.Error(s.b.Tenant.ID, sqlState(err), err)
		s.c.fatal(err)
		return nil, false
	}
	admitted, err := s.srv.p.Admit(s.b)
	if err != nil {
		s.srv.p.Metrics.Error(s.b.Tenant.ID, sqlState(err), err)
		s.c.fatal(err)
		untrack()
		return nil, false
	}
	s.admitted = admitted
	if err := s.greet(); err != nil {
		s.srv.p.Metrics.Error(s.b.Tenant.ID, sqlState(err), err)
		s.c.fatal(err)
		s.admitted()
		untrack()
		return nil, false
	}
	s.srv.p.Metrics.Clients.WithLabelValues(s.b.Tenant.ID, "postgres").Inc()
	return untrack, true
}

// finish undoes start once the session ends.
func (s *session) finish(untrack func()) {
	defer untrack()
	defer func() { s.admitted() }()
	defer func() { s.srv.p.Metrics.Clients.WithLabelValues(s.b.Tenant.ID, "postgres").Dec() }()
	defer s.end()
	s.unreg()
}

// beforeWait readies the session for the client's next message: an
// eviction due now ends it (false), idle buffers are given back, and a
// listening backend is watched meanwhile.
func (s *session) beforeWait() bool {
	// A drain closes a session between transactions only: one idle
	// inside a transaction may still finish it.
	idle := s.idle()
	if idle {
		s.waiting.Store(waitIdle)
	} else {
		s.waiting.Store(waitInTx)
	}
	if e := s.evicted.Load(); e != nil && (idle || !waitsForIdle(e)) {
		s.c.fatal(e)
		return false
	}
	s.c.idle()
	s.watch = s.watchBackend()
	return true
}

// serve reads and handles the client's next message once its first bytes
// came (or waitErr ended the wait); false ends the session.
func (s *session) serve(waitErr error) bool {
	var typ byte
	var n int
	err := waitErr
	if err == nil {
		typ, n, err = s.c.r.header()
	}
	s.waiting.Store(waitNone)
	if watch := s.watch; watch != nil {
		s.watch = nil
		if werr := watch.stop(); werr != nil {
			if e := sqlerr.As(s.backendLost(werr)); e != nil {
				s.srv.p.Metrics.Error(s.b.Tenant.ID, e.SQLState(), e)
				s.c.fatal(e)
			}
			return false
		}
	}
	if err != nil {
		var ne net.Error
		if e := s.evicted.Load(); e != nil && errors.As(err, &ne) && ne.Timeout() {
			s.c.fatal(e)
		} else if e := sqlerr.As(err); e != nil {
			s.srv.p.Metrics.Error(s.b.Tenant.ID, e.SQLState(), e)
			s.c.fatal(e)
		}
		return false
	}
	body, err := s.c.r.body(n)
	if err != nil {
		return false
	}
	if err := s.handle(typ, body); err != nil {
		// A proxy error (a lost backend wraps the backend's EOF) is
		// told to the client; the client's own EOF ends quietly.
		e := sqlerr.As(err)
		if e == nil && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, errTerminate)) {
			return false
		}
		if e != nil {
			s.srv.p.Metrics.Error(s.b.Tenant.ID, e.SQLState(), e)
			s.c.fatal(e)
		} else {
			s.debug("connection_closed", "error", err)
		}
		return false
	}
	return true
}

// idle reports whether nothing is in flight and no transaction is open.
func (s *session) idle() bool {
	return s.tx == 'I' && len(s.exp) == 0 && len(s.out) == 0
}

var errTerminate = errors.New("terminate")

// greet sends AuthenticationOk, the parameters, the cancel key and the first
// ReadyForQuery.
func (s *session) greet() error {
	params := s.b.Tenant.ServerParams()
	if params == nil {
		// Learn the backend's parameters from a first connection.
		if err := s.acquire(); err != nil {
			return err
		}
		s.releaseBackend()
		params = s.b.Tenant.ServerParams()
	}
	msgs := []pgproto3.BackendMessage{&pgproto3.AuthenticationOk{}}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := params[k]
		switch k {
		case "session_authorization":
			v = s.b.User.Name
		case "is_superuser":
			v = "off"
		}
		if sv, ok := s.startupValue(k); ok {
			v = sv
		}
		msgs = append(msgs, &pgproto3.ParameterStatus{Name: k, Value: v})
	}
	pid, secret, unreg := s.srv.p.NewCancelKey(s.cancel)
	s.unreg = unreg
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], secret)
	msgs = append(msgs, &pgproto3.BackendKeyData{ProcessID: pid, SecretKey: key[:]}, &pgproto3.ReadyForQuery{TxStatus: 'I'})
	return s.c.send(msgs...)
}

// startupValue returns the value the client asked for at startup.
func (s *session) startupValue(name string) (string, bool) {
	stmt, ok := s.startup[strings.ToLower(name)]
	if !ok {
		return "", false
	}
	_, v, _ := strings.Cut(stmt, " = ")
	return unquoteLiteral(v), true
}

// statementTimer starts the tenant's statement timeout for what is about to
// be relayed; the returned function stops it.
func (s *session) statementTimer() func() {
	s.timedOut.Store(false)
	if s.b.StatementTimeout() <= 0 {
		return func() {}
	}
	s.mu.Lock()
	s.stmtSeq++
	seq, it := s.stmtSeq, s.be
	s.stmtLive = true
	s.mu.Unlock()
	// live reports, under s.mu, whether the statement the timer was armed
	// for still runs on the connection it started on.
	live := func() bool { return s.stmtLive && s.stmtSeq == seq && s.be == it && it != nil }
	stop := s.b.StatementTimer(func() {
		s.mu.Lock()
		ok := live()
		if ok {
			s.timedOut.Store(true)
			it.Conn.MarkCancelled()
		}
		s.mu.Unlock()
		if ok {
			ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
			defer stop()
			if err := it.Conn.Cancel(ctx); err != nil {
				s.logger().Warn("cancel_failed", "error", err)
			}
		}
	}, func() {
		// The backend did not answer the cancel (paused, unreachable):
		// break its connection so the relay returns. Only that statement's
		// connection, and only while it still runs it.
		s.mu.Lock()
		if live() {
			_ = it.Conn.Conn.Close()
		}
		s.mu.Unlock()
	})
	return func() {
		s.mu.Lock()
		s.stmtLive = false
		s.mu.Unlock()
		stop()
	}
}

// cancel forwards a CancelRequest to the backend serving the session.
func (s *session) cancel() {
	// The lock is not held across the network: a paused backend must not
	// block the session. A cancel that arrives just after the statement
	// ended can only hit this session's next statement on the connection, as
	// in Postgres itself: the connection is never handed to another client.
	s.mu.Lock()
	be := s.be
	if be != nil {
		// Marked under the lock that release takes: the connection is
		// discarded rather than handed to another client the late cancel
		// could hit.
		be.Conn.MarkCancelled()
	}
	s.mu.Unlock()
	if be == nil {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := be.Conn.Cancel(ctx); err != nil {
		s.logger().Warn("cancel_failed", "error", err)
	}
}

func (s *session) handle(typ byte, body []byte) error {
	if err := s.rebind(); err != nil {
		return err
	}
	switch typ {
	case 'Q':
		return s.simpleQuery(body)
	case 'P':
		return s.parse(body)
	case 'B':
		return s.bind(body)
	case 'D':
		return s.describe(body)
	case 'E':
		return s.execute(body)
	case 'C':
		return s.closeMsg(body)
	case 'S':
		return s.sync()
	case 'H':
		return s.flush()
	case 'X':
		return errTerminate
	case 'd', 'c', 'f':
		// Copy messages outside COPY: the backend would ignore them after
		// a failed COPY; so does the proxy.
		return nil
	case 'F':
		return s.refuseInBatch(sqlerr.New(sqlerr.Unsupported, "the function call protocol message is not supported by the proxy"), true)
	default:
		return sqlerr.New(sqlerr.Protocol, "invalid frontend message type %q", typ)
	}
}

// ---- simple query ----

func (s *session) simpleQuery(body []byte) error {
	sql, _, err := cstring(body)
	if err != nil {
		return sqlerr.New(sqlerr.Protocol, "invalid Query message")
	}
	if s.skipping {
		// After an error Postgres discards every message up to Sync.
		return nil
	}
	if len(s.exp) > 0 || len(s.out) > 0 {
		return sqlerr.New(sqlerr.Protocol, "Query received before Sync ended an extended-protocol batch")
	}
	if s.inBatch {
		// A query after a Flush: the batch so far is done.
		s.srv.p.Record(&s.aud)
		s.inBatch = false
	}
	s.aud.Begin(proxy.ProtocolPostgres, s.c.remote, s.b)
	s.aud.AddSQL(sql)
	defer s.srv.p.Record(&s.aud)
	if err := s.srv.p.Allow(s.b); err != nil {
		return s.refuseSimple(err)
	}
	if inner, ok := proxy.ExplainPolicyText(policy.Postgres, sql); ok { // explain.go
		return s.explainPolicy(inner)
	}
	dec, err := s.srv.p.Check(s.b, policy.Postgres, sql)
	if err != nil {
		return s.refuseSimple(err)
	}
	s.aud.Add(dec, "")
	if len(dec.Stmts) == 0 {
		return s.c.send(&pgproto3.EmptyQueryResponse{}, &pgproto3.ReadyForQuery{TxStatus: s.tx})
	}
	if handled, err := s.intercept(dec); handled || err != nil {
		return err
	}
	if dec.MaskOutput && s.tx == 'E' {
		// The lookup of the masked columns cannot run in a failed
		// transaction, and statements after a ROLLBACK in the same text
		// would read unmasked.
		return s.refuseSimple(sqlerr.New(sqlerr.ActiveTransaction, "current transaction is aborted: end it before reading a table with masked columns"))
	}
	s.route = s.routable(dec)
	err = s.acquire()
	s.route = false
	if err != nil {
		return s.refuseSimple(err)
	}
	if !dec.ReadOnly() {
		s.wrote()
	}
	txBefore := s.tx
	s.out, s.exp = s.out[:0], s.exp[:0]
	var mk *masker
	if dec.MaskOutput {
		// Only a statement whose result may carry a masked column needs the
		// lookup of their origins; the policy refused every other use.
		mk = newMasker(s.b.Role.Mask, dec.Masked)
		out, exp := s.maskLookup(mk)
		s.out = append(append(s.out, out...), 'S', 0, 0, 0, 4)
		s.exp = append(append(s.exp, exp...), expect{typ: 'Z', swallow: true})
	}
	s.out = appendQuery(s.out, dec.SQL)
	s.exp = append(s.exp, expect{typ: 'Z', mask: mk})
	s.simpleCaps, s.capIdx = s.simpleCaps[:0], 0
	for _, st := range dec.Stmts {
		s.simpleCaps = append(s.simpleCaps, rowCap{max: st.Cap})
	}
	stop := s.statementTimer()
	failed, err := s.relay()
	stop()
	s.simpleCaps = s.simpleCaps[:0]
	if err != nil {
		return err
	}
	s.afterStatements(dec, failed, txBefore)
	s.maybeRelease()
	return s.c.flush()
}

// refuseSimple answers a refused simple query. Inside a transaction the
// backend's transaction is failed too, so it ends as Postgres would end it.
func (s *session) refuseSimple(err error) error {
	s.srv.p.Metrics.Error(s.b.Tenant.ID, sqlState(err), err)
	s.aud.Fail(err, "")
	er := encodeMsg(errorResponse(err, "ERROR"))
	if s.be != nil && s.tx != 'I' {
		s.out = appendQuery(s.out[:0], refusedSQL)
		s.exp = append(s.exp[:0], expect{typ: 'Z', replaceErr: er})
		if _, err := s.relay(); err != nil {
			return err
		}
		return s.c.flush()
	}
	if _, err := s.c.writer().Write(er); err != nil {
		return err
	}
	return s.c.send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
}

// intercept answers the proxy's own statements: SET tenant and SHOW tenant.
func (s *session) intercept(dec *policy.Decision) (bool, error) {
	var sw, show bool
	for _, st := range dec.Stmts {
		sw = sw || st.TenantSwitch != ""
		show = show || st.ShowVar == "tenant"
	}
	if !sw && !show {
		return false, nil
	}
	if len(dec.Stmts) > 1 {
		return true, s.refuseSimple(sqlerr.New(sqlerr.Unsupported, "SET tenant and SHOW tenant must be sent as statements of their own"))
	}
	st := dec.Stmts[0]
	if show {
		return true, s.c.send(
			&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("tenant"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}},
			&pgproto3.DataRow{Values: [][]byte{[]byte(s.b.Tenant.ID)}},
			&pgproto3.CommandComplete{CommandTag: []byte("SHOW")},
			&pgproto3.ReadyForQuery{TxStatus: s.tx},
		)
	}
	if s.tx != 'I' {
		return true, s.refuseSimple(sqlerr.New(sqlerr.ActiveTransaction, "SET tenant cannot run inside a transaction block"))
	}
	nb, err := s.srv.p.Switch(s.b, st.TenantSwitch, proxy.EnginePostgres)
	if err != nil {
		return true, s.refuseSimple(err)
	}
	admitted, err := s.srv.p.Admit(nb)
	if err != nil {
		return true, s.refuseSimple(err)
	}
	s.admitted()
	s.admitted = admitted
	if s.be != nil {
		s.mu.Lock()
		if s.isPinned() {
			s.bePool.Discard(s.be)
		} else {
			s.bePool.Release(s.be)
		}
		s.be = nil
		s.mu.Unlock()
	}
	s.pinned, s.listening = false, false
	s.clearPortals()
	s.srv.p.Metrics.Clients.WithLabelValues(s.b.Tenant.ID, "postgres").Dec()
	s.srv.p.Metrics.Clients.WithLabelValues(nb.Tenant.ID, "postgres").Inc()
	s.logger().Info("tenant_switched", "from", s.b.Tenant.ID, "to", nb.Tenant.ID)
	s.mu.Lock()
	s.b = nb
	s.mu.Unlock()
	return true, s.c.send(
		&pgproto3.CommandComplete{CommandTag: []byte("SET")},
		&pgproto3.ReadyForQuery{TxStatus: s.tx},
	)
}

// afterStatements updates session state once statements have run.
func (s *session) afterStatements(dec *policy.Decision, failed bool, txBefore byte) {
	for _, st := range dec.Stmts {
		switch {
		case st.Kind == "LISTEN" && !failed:
			s.listening = true
		case (st.Kind == "UNLISTEN" || st.Set != nil && st.Set.Kind == policy.SetDiscard) && !failed:
			// DISCARD ALL unlistens too.
			s.unlistened = true
		case st.Pins:
			s.pin("statement " + st.Kind)
		}
		if st.Set == nil {
			if strings.HasPrefix(st.Kind, "DEALLOCATE") && !failed {
				s.forgetBackendStatements()
			}
			continue
		}
		if st.Set.Local {
			continue
		}
		if failed {
			continue
		}
		if txBefore != 'I' || s.tx != 'I' {
			// Its fate depends on how the transaction ends: keep the
			// connection rather than guess.
			s.pin("SET inside a transaction")
			continue
		}
		s.applySet(st.Set)
	}
}

func (s *session) applySet(v *policy.SetVar) {
	switch v.Kind {
	case policy.SetValue:
		put(&s.settings, v.Name, v.SQL)
	case policy.SetDefault:
		if st, ok := s.startup[v.Name]; ok {
			put(&s.settings, v.Name, st)
		} else {
			delete(s.settings, v.Name)
		}
	case policy.SetResetAll:
		s.resetSettings()
	case policy.SetDiscard:
		s.resetSettings()
		s.stmts = nil
		s.forgetBackendStatements()
	}
	s.stateKey = s.computeStateKey()
	if s.be != nil {
		s.be.Conn.State = s.stateKey
	}
}

func (s *session) resetSettings() {
	s.settings = nil
	for k, v := range s.startup {
		put(&s.settings, k, v)
	}
}

// put sets (*m)[k] to v, making the map on first use: the session's maps
// are made only when something goes in (an idle session that never
// prepared a statement holds none).
func put[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = make(map[string]V)
	}
	(*m)[k] = v
}

// forgetBackendStatements records that the backend dropped its prepared
// statements (DISCARD ALL, DEALLOCATE).
func (s *session) forgetBackendStatements() {
	if s.be != nil {
		s.be.Conn.Prepared.Clear()
		s.be.Conn.Unnamed = ""
	}
}

// isPinned reports whether the backend connection must stay with the
// session.
func (s *session) isPinned() bool { return s.pinned || s.listening }

func (s *session) pin(reason string) {
	if !s.pinned {
		s.debug("session_pinned", "reason", reason)
	}
	s.pinned = true
}

func (s *session) computeStateKey() string {
	if len(s.settings) == 0 {
		return ""
	}
	names := make([]string, 0, len(s.settings))
	for k := range s.settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(s.settings[k])
		b.WriteString(";\n")
	}
	return b.String()
}

// ---- extended protocol ----

func (s *session) beginBatch() {
	if len(s.exp) == 0 && len(s.out) == 0 && !s.inBatch {
		s.inBatch = true
		s.batchStmts = s.batchStmts[:0]
		s.batchAllRead = true
		s.aud.Begin(proxy.ProtocolPostgres, s.c.remote, s.b)
	}
}

// refuseInBatch records an error at this point of an extended-protocol batch:
// the rest of the batch up to Sync is skipped, as Postgres does.
func (s *session) refuseInBatch(err error, count bool) error {
	s.beginBatch()
	if count {
		s.srv.p.Metrics.Error(s.b.Tenant.ID, sqlState(err), err)
	}
	s.aud.Fail(err, "")
	er := encodeMsg(errorResponse(err, "ERROR"))
	s.skipping = true
	if s.be != nil {
		// Fail the backend's implicit or explicit transaction at this point.
		s.out = appendMsg(s.out, &pgproto3.Parse{Query: refusedSQL})
		s.be.Conn.Unnamed = ""
		s.exp = append(s.exp, expect{typ: '1', replaceErr: er})
		return nil
	}
	s.exp = append(s.exp, expect{synth: er})
	return nil
}

func (s *session) parse(body []byte) error {
	if s.skipping {
		return nil
	}
	s.beginBatch()
	var m pgproto3.Parse
	if err := m.Decode(body); err != nil {
		return sqlerr.New(sqlerr.Protocol, "invalid Parse message: %v", err)
	}
	if _, dup := s.stmts[m.Name]; dup && m.Name != "" {
		return s.refuseInBatch(&sqlerr.Error{Kind: sqlerr.Syntax, Message: fmt.Sprintf("prepared statement %q already exists", m.Name)}, true)
	}
	st, err := s.prepare(m.Query, m.ParameterOIDs)
	if err != nil {
		s.aud.AddSQL(m.Query)
		return s.refuseInBatch(err, true)
	}
	if m.Name != "" && s.be == nil {
		// Outside a transaction a named statement is prepared lazily, on
		// whichever backend serves its first Bind or Describe: preparing
		// needs no backend connection (clients that prepare synchronously
		// while another of their connections holds one cannot deadlock the
		// pool), at the price of reporting errors the parser cannot see,
		// such as a missing table, at that first use.
		put(&s.stmts, m.Name, st)
		s.exp = append(s.exp, expect{synth: encodeMsg(&pgproto3.ParseComplete{})})
		s.noteBatch(st)
		return nil
	}
	s.noteBatch(st)
	prev, had := s.stmts[m.Name]
	put(&s.stmts, m.Name, st) // known to the look at the rest of the batch
	if err := s.acquireFor(st); err != nil {
		if had {
			put(&s.stmts, m.Name, prev)
		} else {
			delete(s.stmts, m.Name)
		}
		return s.refuseInBatch(err, true)
	}
	be := s.be.Conn
	if m.Name == "" {
		s.out = appendMsg(s.out, &pgproto3.Parse{Query: st.dec.SQL, ParameterOIDs: st.paramOIDs})
		be.Unnamed = st.key
		s.exp = append(s.exp, expect{typ: '1'})
		return nil
	}
	if be.Prepared.Has(st.key) {
		be.Prepared.Touch(st.key)
		s.exp = append(s.exp, expect{synth: encodeMsg(&pgproto3.ParseComplete{})})
		return nil
	}
	s.out, s.exp = s.closeEvicted(s.out, s.exp, be.Prepared.Add(st.key, s.portalUses))
	s.out = appendMsg(s.out, &pgproto3.Parse{Name: st.key, Query: st.dec.SQL, ParameterOIDs: st.paramOIDs})
	s.exp = append(s.exp, expect{typ: '1', prepared: st.key})
	return nil
}

// portalUses reports whether an open portal of the client was bound from
// the backend statement name: closing the statement would close the portal.
func (s *session) portalUses(name string) bool {
	for _, st := range s.portals {
		if st.key == name {
			return true
		}
	}
	return false
}

// closeEvicted adds the Close of each backend statement evicted from the
// connection's bounded set; their CloseComplete is for the proxy.
func (s *session) closeEvicted(out []byte, exp []expect, names []string) ([]byte, []expect) {
	for _, n := range names {
		out = appendMsg(out, &pgproto3.Close{ObjectType: 'S', Name: n})
		exp = append(exp, expect{typ: '3', swallow: true, closes: n})
	}
	return out, exp
}

// prepare checks a statement's text under the current binding.
func (s *session) prepare(sql string, oids []uint32) (*stmt, error) {
	// Read before the check: a newer snapshot used by the check only makes
	// statement decide once more.
	gen, err := s.srv.p.CatalogGen(s.b)
	if err != nil {
		return nil, err
	}
	dec, err := s.srv.p.Check(s.b, policy.Postgres, sql)
	if err != nil {
		return nil, err
	}
	for _, st := range dec.Stmts {
		if st.TenantSwitch != "" || st.ShowVar == "tenant" {
			return nil, sqlerr.New(sqlerr.Unsupported, "SET tenant and SHOW tenant must be sent as simple queries")
		}
	}
	return &stmt{
		sql:       sql,
		paramOIDs: append([]uint32(nil), oids...),
		dec:       dec,
		bnd:       s.b,
		gen:       gen,
		key:       s.srv.names.statement(dec.SQL, oids),
	}, nil
}

// statement returns a client statement ready on the current backend,
// adding the Parse it needs there.
func (s *session) statement(name string) (*stmt, error) {
	st, ok := s.stmts[name]
	if !ok {
		if name == "" {
			return nil, &sqlerr.Error{Kind: sqlerr.Syntax, Message: "unnamed prepared statement does not exist"}
		}
		return nil, &sqlerr.Error{Kind: sqlerr.Syntax, Message: fmt.Sprintf("prepared statement %q does not exist", name)}
	}
	gen, err := s.srv.p.CatalogGen(s.b)
	if err != nil {
		return nil, err
	}
	if st.bnd != s.b || st.gen != gen {
		// The session switched tenant since, or the catalog the decision
		// was made on changed: check again.
		nst, err := s.prepare(st.sql, st.paramOIDs)
		if err != nil {
			return nil, err
		}
		put(&s.stmts, name, nst)
		st = nst
	}
	s.noteBatch(st)
	if err := s.acquireFor(st); err != nil {
		return nil, err
	}
	be := s.be.Conn
	if name == "" {
		if be.Unnamed != st.key {
			s.out = appendMsg(s.out, &pgproto3.Parse{Query: st.dec.SQL, ParameterOIDs: st.paramOIDs})
			be.Unnamed = st.key
			s.exp = append(s.exp, expect{typ: '1', swallow: true})
		}
		return st, nil
	}
	if be.Prepared.Has(st.key) {
		be.Prepared.Touch(st.key)
		return st, nil
	}
	s.out, s.exp = s.closeEvicted(s.out, s.exp, be.Prepared.Add(st.key, s.portalUses))
	s.out = appendMsg(s.out, &pgproto3.Parse{Name: st.key, Query: st.dec.SQL, ParameterOIDs: st.paramOIDs})
	s.exp = append(s.exp, expect{typ: '1', swallow: true, prepared: st.key})
	return st, nil
}

func (s *session) bind(body []byte) error {
	if s.skipping {
		return nil
	}
	s.beginBatch()
	var m pgproto3.Bind
	if err := m.Decode(body); err != nil {
		return sqlerr.New(sqlerr.Protocol, "invalid Bind message: %v", err)
	}
	if _, dup := s.portals[m.DestinationPortal]; dup && m.DestinationPortal != "" {
		return s.refuseInBatch(&sqlerr.Error{Kind: sqlerr.Syntax, Message: fmt.Sprintf("portal %q already exists", m.DestinationPortal)}, true)
	}
	st, err := s.statement(m.PreparedStatement)
	if err != nil {
		return s.refuseInBatch(err, true)
	}
	if m.PreparedStatement != "" {
		m.PreparedStatement = st.key
	}
	client := m.DestinationPortal
	m.DestinationPortal = s.srv.names.portal(client)
	s.out = appendMsg(s.out, &m)
	m.DestinationPortal = client
	put(&s.portals, m.DestinationPortal, st)
	if rc := newRowCap(st); rc != nil {
		put(&s.portalCaps, m.DestinationPortal, rc)
	} else {
		delete(s.portalCaps, m.DestinationPortal)
	}
	s.exp = append(s.exp, expect{typ: '2'})
	return nil
}

func (s *session) describe(body []byte) error {
	if s.skipping {
		return nil
	}
	s.beginBatch()
	var m pgproto3.Describe
	if err := m.Decode(body); err != nil {
		return sqlerr.New(sqlerr.Protocol, "invalid Describe message: %v", err)
	}
	if m.ObjectType == 'S' {
		st, err := s.statement(m.Name)
		if err != nil {
			return s.refuseInBatch(err, true)
		}
		if m.Name != "" {
			m.Name = st.key
		}
		s.out = appendMsg(s.out, &m)
		s.exp = append(s.exp, expect{typ: 'd', stmt: st})
		return nil
	}
	if err := s.acquireFor(s.portals[m.Name]); err != nil {
		return s.refuseInBatch(err, true)
	}
	st, bound := s.portals[m.Name]
	if bound {
		m.Name = s.srv.names.portal(m.Name)
	} // else a SQL cursor the client declared: described under its own name
	s.out = appendMsg(s.out, &m)
	s.exp = append(s.exp, expect{typ: 'p', stmt: st})
	return nil
}

func (s *session) execute(body []byte) error {
	if s.skipping {
		return nil
	}
	s.beginBatch()
	var m pgproto3.Execute
	if err := m.Decode(body); err != nil {
		return sqlerr.New(sqlerr.Protocol, "invalid Execute message: %v", err)
	}
	if err := s.srv.p.Allow(s.b); err != nil {
		return s.refuseInBatch(err, true)
	}
	st, ok := s.portals[m.Portal]
	if !ok || st == nil {
		// Every Execute must carry its statement's analysis: a portal the
		// proxy did not bind (a SQL cursor is one too) is not run.
		return s.refuseInBatch(&sqlerr.Error{Kind: sqlerr.Syntax, Message: fmt.Sprintf("portal %q does not exist", m.Portal)}, true)
	}
	if st.bnd != s.b {
		// Bound under the session's previous binding (a reload changed it).
		return s.refuseInBatch(staleErr(m.Portal), true)
	}
	if err := s.acquireFor(st); err != nil {
		return s.refuseInBatch(err, true)
	}
	s.aud.Add(st.dec, st.sql)
	for _, x := range st.dec.Stmts {
		if x.Set != nil || x.Pins || x.Kind == "LISTEN" || x.Kind == "UNLISTEN" || strings.HasPrefix(x.Kind, "DEALLOCATE") {
			s.batchStmts = append(s.batchStmts, x)
		}
	}
	var mk *masker
	if st.dec.MaskOutput {
		// Each statement has a lookup of its own, right before it (the
		// transaction state may change within the batch).
		mk = newMasker(s.b.Role.Mask, st.dec.Masked)
		out, exp := s.maskLookup(mk)
		s.out = append(s.out, out...)
		s.exp = append(s.exp, exp...)
		s.out = appendMsg(s.out, &pgproto3.Describe{ObjectType: 'P', Name: s.srv.names.portal(m.Portal)})
		s.exp = append(s.exp, expect{typ: 'p', swallow: true, maskDesc: true, mask: mk})
	}
	s.out = appendMsg(s.out, &pgproto3.Execute{Portal: s.srv.names.portal(m.Portal), MaxRows: m.MaxRows})
	s.exp = append(s.exp, expect{typ: 'e', stmt: st, mask: mk, rc: s.portalCaps[m.Portal]})
	return nil
}

func (s *session) closeMsg(body []byte) error {
	if s.skipping {
		return nil
	}
	s.beginBatch()
	var m pgproto3.Close
	if err := m.Decode(body); err != nil {
		return sqlerr.New(sqlerr.Protocol, "invalid Close message: %v", err)
	}
	_, bound := s.portals[m.Name]
	if m.ObjectType == 'S' {
		delete(s.stmts, m.Name)
	} else {
		delete(s.portals, m.Name)
		delete(s.portalCaps, m.Name)
	}
	if m.ObjectType == 'S' || s.be == nil {
		// Statements stay prepared on the backend for reuse; the client's
		// name is dropped. Closing a missing portal is not an error.
		s.exp = append(s.exp, expect{synth: encodeMsg(&pgproto3.CloseComplete{})})
		return nil
	}
	if bound {
		m.Name = s.srv.names.portal(m.Name) // a portal the client bound (statements returned above)
	}
	s.out = appendMsg(s.out, &m)
	s.exp = append(s.exp, expect{typ: '3'})
	return nil
}

func (s *session) sync() error {
	s.beginBatch()
	defer s.srv.p.Record(&s.aud)
	s.skipping = false
	s.inBatch = false
	txBefore := s.tx
	if s.be == nil {
		// Nothing reached a backend: answer from the proxy.
		s.exp = append(s.exp, expect{synth: encodeMsg(&pgproto3.ReadyForQuery{TxStatus: s.tx})})
		if s.tx == 'I' {
			s.clearPortals()
		}
		if _, err := s.relay(); err != nil {
			return err
		}
		return s.c.flush()
	}
	s.out = append(s.out, 'S', 0, 0, 0, 4)
	s.exp = append(s.exp, expect{typ: 'Z'})
	stop := s.statementTimer()
	failed, err := s.relay()
	stop()
	if err != nil {
		return err
	}
	s.endBatch(failed, txBefore)
	return s.c.flush()
}

// endBatch updates the session once a batch's Sync was answered.
func (s *session) endBatch(failed bool, txBefore byte) {
	s.syncedInCopy = false
	s.afterStatements(&policy.Decision{Stmts: s.batchStmts}, failed, txBefore)
	if !s.batchAllRead {
		s.wrote()
	}
	s.maybeRelease()
}

func (s *session) flush() error {
	if s.be != nil && len(s.out) > 0 {
		s.out = append(s.out, 'H', 0, 0, 0, 4)
	}
	txBefore := s.tx
	stop := s.statementTimer()
	failed, err := s.relay()
	stop()
	if err != nil {
		return err
	}
	if s.syncedInCopy {
		// The client's Sync came within a COPY: the batch is over.
		s.skipping, s.inBatch = false, false
		s.endBatch(failed, txBefore)
		s.srv.p.Record(&s.aud)
	}
	return s.c.flush()
}

// ---- backend ----

// Read routing. A read outside a transaction may run on a read replica of
// the tenant: a simple query whose statements all only read, or an
// extended-protocol batch whose every statement up to its Sync only reads
// (the rest of the batch is looked at in the client's read buffer; when the
// Sync is not there yet, the batch goes to the primary). After a write the
// session reads from the primary for the tenant's read_after_write window,
// unless the primary is down.

// routable reports whether dec may run on a replica now.
func (s *session) routable(dec *policy.Decision) bool {
	t := s.b.Tenant
	if len(t.PGReplicas) == 0 || s.tx != 'I' || s.isPinned() || s.be != nil || t.Pool.Mode == pool.ModeSession || !dec.ReadOnly() {
		return false
	}
	return !time.Now().Before(s.rywUntil) || t.PGPool.Health().Breaker == "open"
}

// wrote starts the read-after-write window.
func (s *session) wrote() {
	if len(s.b.Tenant.PGReplicas) > 0 {
		s.rywUntil = time.Now().Add(s.b.Tenant.ReadAfterWrite)
	}
}

// noteBatch records a statement of the extended-protocol batch.
func (s *session) noteBatch(st *stmt) {
	if !st.dec.ReadOnly() {
		s.batchAllRead = false
	}
}

// acquireFor acquires for a statement of an extended-protocol batch.
func (s *session) acquireFor(st *stmt) error {
	if s.be == nil && st != nil && s.batchAllRead && s.routable(st.dec) && s.restOfBatchReadOnly() {
		s.route = true
		defer func() { s.route = false }()
	}
	return s.acquire()
}

// restOfBatchReadOnly looks at the client's buffered messages up to the
// batch's Sync: true only if the Sync is there and every statement before
// it only reads. The client reader waits for the next bytes in a small
// buffer (frame.go), so a batch may be buffered up to a message it ended
// within: the rest of that message is read, since the client must send it
// before it can expect an answer (not after a Flush, whose answer it may
// be waiting for). A batch whose buffered part ends between two messages
// without its Sync goes to the primary.
func (s *session) restOfBatchReadOnly() bool {
	r := s.c.r.r
	if r == nil {
		return false
	}
	parsed := map[string]bool{} // statements parsed (read-only) further on in the batch
	flushed := false
	for off := 0; ; {
		buf, err := r.Peek(r.Buffered())
		if err != nil {
			return false
		}
		buf = buf[off:]
		if len(buf) == 0 {
			return false
		}
		need := 5
		if len(buf) >= 5 {
			n := int(binary.BigEndian.Uint32(buf[1:5])) - 4
			if n < 0 || n > s.c.r.max {
				return false
			}
			need = 5 + n
		}
		if need > len(buf) {
			// Within a message: read its rest (from a buffered
			// message's start, it must fit the read buffer).
			if flushed || off+need > r.Size() {
				return false
			}
			if _, err := r.Peek(off + need); err != nil {
				return false
			}
			continue // Peek may have moved the buffered bytes
		}
		typ, body := buf[0], buf[5:need]
		off += need
		switch typ {
		case 'S':
			return true
		case 'P':
			var m pgproto3.Parse
			if m.Decode(body) != nil {
				return false
			}
			dec, err := s.srv.p.Check(s.b, policy.Postgres, m.Query)
			if err != nil || !dec.ReadOnly() {
				return false
			}
			parsed[m.Name] = true
		case 'B':
			var m pgproto3.Bind
			if m.Decode(body) != nil {
				return false
			}
			if parsed[m.PreparedStatement] {
				continue
			}
			st := s.stmts[m.PreparedStatement]
			if st == nil || !st.dec.ReadOnly() {
				return false
			}
		case 'H':
			flushed = true
		case 'D', 'E', 'C':
		default:
			return false
		}
	}
}

// acquire makes sure the session holds a backend connection with its
// settings applied.
func (s *session) acquire() error {
	if s.be != nil {
		return nil
	}
	// The session's own context: closing the session stops an acquire or
	// a replay under way, and a statement needs no context of its own.
	ctx := s.ctx
	p := s.b.Tenant.PGPool
	var it *pool.Item[*pool.PGConn]
	if s.route {
		// A read outside a transaction: a healthy replica, falling back
		// to the primary when it cannot give a connection.
		if rp := s.b.Tenant.ReadPool(); rp != nil {
			if rit, err := rp.Acquire(ctx); err == nil {
				p, it = rp, rit
			}
		}
	}
	if it == nil {
		var err error
		if it, err = p.Acquire(ctx); err != nil {
			return err
		}
	}
	if err := s.applyState(ctx, it.Conn); err != nil {
		p.Discard(it)
		return err
	}
	s.mu.Lock()
	s.be, s.bePool = it, p
	if s.ctx.Err() != nil {
		// Closed meanwhile: nothing may wait on this connection.
		_ = it.Conn.Conn.SetDeadline(time.Now())
	}
	s.mu.Unlock()
	// One frame reader per session, pointed at whichever backend
	// connection it holds. Its buffer comes from a pool while the session
	// holds a backend: no allocation per statement, and an idle client
	// holds none.
	if s.br == nil {
		s.br = &reader{max: 1 << 30}
	}
	s.br.r = it.Conn.R
	if s.brBuf == nil {
		s.brBuf = frameBufs.Get().(*[]byte)
		s.br.buf = (*s.brBuf)[:0]
	}
	return nil
}

// frameBufs holds the frame buffers of the sessions not holding a backend.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// putFrameBuf gives back the pooled buffer p, now b (the reader may have
// replaced it with a larger one); one grown past a large row is left to
// the collector.
func putFrameBuf(p *[]byte, b []byte) {
	if cap(b) <= 64*1024 {
		*p = b[:0]
		frameBufs.Put(p)
	}
}

// replayTimeout bounds the replay of session settings on a backend
// connection: a dead backend must not hold a client forever.
const replayTimeout = 10 * time.Second

// applyState replays the session's settings on a backend connection that
// does not have them.
func (s *session) applyState(ctx context.Context, be *pool.PGConn) error {
	if be.State == s.stateKey {
		return nil
	}
	_ = be.Conn.SetDeadline(time.Now().Add(replayTimeout))
	stop := context.AfterFunc(ctx, func() { _ = be.Conn.SetDeadline(time.Now()) })
	defer func() {
		if stop() {
			_ = be.Conn.SetDeadline(time.Time{})
		}
	}()
	q := "RESET ALL;\n" + s.stateKey
	if _, err := be.W.Write(appendQuery(nil, q)); err != nil {
		return err
	}
	if err := be.W.Flush(); err != nil {
		return err
	}
	be.Unnamed = ""
	var failure error
	for {
		typ, body, err := pool.ReadPGMessage(be.R, 1<<20)
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			var e pgproto3.ErrorResponse
			_ = e.Decode(body)
			failure = sqlerr.New(sqlerr.InvalidValue, "cannot restore session setting on a backend connection: %s", e.Message)
		case 'Z':
			if failure != nil {
				return failure
			}
			be.State = s.stateKey
			return nil
		}
	}
}

// maybeRelease gives the backend back at the end of a transaction.
func (s *session) maybeRelease() {
	if err := s.listenerCheck(); err != nil {
		// The LISTENs are lost with the connection: the session closes
		// rather than wait for notifications that cannot come.
		if e := sqlerr.As(err); e != nil {
			s.evicted.CompareAndSwap(nil, e)
		}
		return
	}
	if s.be == nil || s.tx != 'I' || s.isPinned() || len(s.exp) > 0 || len(s.out) > 0 {
		return
	}
	if s.b.Tenant.Pool.Mode == pool.ModeSession {
		return
	}
	s.releaseBackend()
}

func (s *session) releaseBackend() {
	s.mu.Lock()
	it := s.be
	s.be = nil
	s.mu.Unlock()
	if s.brBuf != nil {
		// Nothing read from the backend is referenced any more: the
		// relay's frames were copied to the client's buffer.
		putFrameBuf(s.brBuf, s.br.buf)
		s.brBuf, s.br.buf = nil, nil
	}
	if it.Conn.R.Buffered() > 0 {
		s.bePool.Discard(it)
		return
	}
	s.bePool.Release(it)
}

// end returns or discards the backend when the client goes away.
func (s *session) end() {
	if s.be == nil {
		return
	}
	p := s.bePool
	if s.isPinned() || s.beBusy {
		s.mu.Lock()
		p.Discard(s.be)
		s.be = nil
		s.mu.Unlock()
		return
	}
	if s.tx != 'I' {
		be := s.be.Conn
		_ = be.Conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = be.W.Write(appendQuery(nil, "ROLLBACK"))
		ok := be.W.Flush() == nil
		for ok {
			typ, body, err := pool.ReadPGMessage(be.R, 1<<20)
			if err != nil {
				ok = false
				break
			}
			if typ == 'Z' {
				ok = len(body) == 1 && body[0] == 'I'
				break
			}
		}
		_ = be.Conn.SetDeadline(time.Time{})
		if !ok {
			s.mu.Lock()
			p.Discard(s.be)
			s.be = nil
			s.mu.Unlock()
			return
		}
		s.tx = 'I'
	}
	s.releaseBackend()
}

// relay sends the batch and forwards the backend's answers to the client
// until every expected response has arrived. It reports whether the backend
// returned an error.
func (s *session) relay() (failed bool, err error) {
	// The queue is consumed from its front, which leaves s.exp at the end
	// of its array: the next batch starts again at the array's start, so
	// queuing a response allocates nothing once the array has grown.
	queue := s.exp[:0]
	defer func() {
		s.out = s.out[:0]
		clear(queue[:cap(queue)]) // drop the statements and masks it held
		s.exp = queue
	}()
	if len(s.out) > 0 {
		s.beBusy = true
		be := s.be.Conn
		if _, err := be.W.Write(s.out); err != nil {
			return false, s.backendLost(err)
		}
		if err := be.W.Flush(); err != nil {
			return false, s.backendLost(err)
		}
	}
	// The write buffer is held until the caller's flush: w stays valid.
	w := s.c.writer()
	for len(s.exp) > 0 {
		head := &s.exp[0]
		if head.synth != nil {
			if _, err := w.Write(head.synth); err != nil {
				return failed, err
			}
			s.exp = s.exp[1:]
			continue
		}
		typ, n, err := s.br.header()
		if err != nil {
			return failed, s.backendLost(err)
		}
		if typ == 'D' && n > streamThreshold && !head.lookup && (head.mask == nil || head.mask.ready && !head.mask.active()) {
			dst := w
			if rc := s.resultCap(head); rc != nil && !rc.keep() {
				dst = bufio.NewWriterSize(io.Discard, 512) // withheld
			}
			if err := s.br.copyFrame(dst, typ, n); err != nil {
				return failed, s.backendLost(err)
			}
			continue
		}
		body, err := s.br.body(n)
		if err != nil {
			return failed, s.backendLost(err)
		}
		forward := true
		switch typ {
		case 'D':
			forward = !head.swallow
			if rc := s.resultCap(head); rc != nil && !rc.keep() {
				forward = false
				break
			}
			switch {
			case head.lookup:
				if err := head.mask.record(body); err != nil {
					return failed, s.abortBackend(err)
				}
			case head.mask != nil && !head.mask.ready:
				// Rows whose columns were not described: nothing tells
				// which of them to mask.
				return failed, s.abortBackend(errUndecodable("result without a row description"))
			case head.mask.active():
				if body, err = head.mask.row(body); err != nil {
					return failed, s.abortBackend(err)
				}
			}
		case 'A', 'S':
			// Notifications and parameter changes are the client's,
			// whichever response they arrive within.
		case 'N', 't', 'd', 'c':
			forward = !head.swallow
		case 'E':
			failed = true
			if head.replaceErr == nil && s.timedOut.Load() && errorCode(body) == "57014" {
				head.replaceErr = encodeMsg(errorResponse(sqlerr.New(sqlerr.StatementTimeout,
					"canceling statement due to statement timeout (%s for tenant %q)", s.b.StatementTimeout(), s.b.Tenant.ID), "ERROR"))
			}
			if head.replaceErr == nil {
				s.srv.p.Metrics.Error(s.b.Tenant.ID, errorCode(body), nil)
				s.aud.Fail(nil, errorCode(body))
			} else if s.timedOut.Load() {
				te := sqlerr.New(sqlerr.StatementTimeout, "timeout")
				s.srv.p.Metrics.Error(s.b.Tenant.ID, "57014", te)
				s.aud.Fail(te, "")
			}
			if head.replaceErr != nil {
				if _, err := w.Write(head.replaceErr); err != nil {
					return failed, err
				}
				forward = false
			}
			s.skipAfterError()
		case '1', '2', '3', 'n', 'C', 'I', 's':
			forward = !head.swallow
			if typ == 'C' && forward && !head.lookup {
				if rc := s.resultCap(head); rc != nil {
					var notice []byte
					if body, notice = rc.complete(body, s.b.Role.Name); notice != nil {
						s.srv.p.Metrics.Capped.WithLabelValues(s.b.Tenant.ID).Inc()
						if _, err := w.Write(notice); err != nil {
							return failed, err
						}
					}
				}
				s.aud.Rows += proxy.TagRows(body)
			}
			if typ == 'n' && head.maskDesc {
				head.mask.ready = true // no rows to mask
			}
			if (typ == 'C' || typ == 'I' || typ == 's') && !head.lookup {
				head.mask.endResult()
			}
			if typ == 's' {
				if rc := s.resultCap(head); rc != nil {
					rc.suspended()
				}
			}
			if (typ == 'C' || typ == 'I') && head.typ == 'Z' && !head.lookup && !head.swallow {
				s.capIdx++
			}
			if head.typ != 'Z' {
				s.exp = s.exp[1:]
			}
		case 'T':
			forward = !head.swallow
			if head.mask != nil && (head.maskDesc || head.typ == 'Z') {
				if err := head.mask.columns(body); err != nil {
					return failed, s.abortBackend(err)
				}
			}
			if head.typ == 'd' || head.typ == 'p' {
				s.exp = s.exp[1:]
			}
		case 'G':
			// CopyInResponse: stream the client's data to the backend.
			if err := writeFrame(w, typ, body); err != nil {
				return failed, err
			}
			if err := w.Flush(); err != nil {
				return failed, err
			}
			if err := s.copyIn(head.typ == 'e'); err != nil {
				return failed, err
			}
			continue
		case 'H':
			// CopyOutResponse: data and CopyDone follow as ordinary frames.
		case 'W':
			return failed, s.backendLost(errors.New("COPY BOTH is not supported"))
		case 'Z':
			if len(body) == 1 {
				s.tx = body[0]
			}
			// It answers the first Sync still expected; anything expected
			// before it will not come.
			i := 0
			for i < len(s.exp) && s.exp[i].typ != 'Z' {
				i++
			}
			if i == len(s.exp) {
				return failed, s.abortBackend(sqlerr.New(sqlerr.Internal, "the backend of tenant %q answered a Sync that was not sent", s.b.Tenant.ID))
			}
			forward = !s.exp[i].swallow
			s.exp = s.exp[i+1:]
			if s.tx == 'I' {
				// The transaction ended, and its portals with it.
				s.clearPortals()
			}
		}
		if forward {
			if err := writeFrame(w, typ, body); err != nil {
				return failed, err
			}
		}
	}
	s.beBusy = false
	return failed, nil
}

// skipAfterError drops what the batch expected after an error: Postgres
// skips the rest of the batch until Sync. The bookkeeping of the skipped
// messages is undone. Without a Sync in the batch (it ended with Flush),
// the proxy skips the client's messages up to its Sync too.
func (s *session) skipAfterError() {
	be := s.be.Conn
	be.Unnamed = ""
	if head := s.exp[0]; head.prepared != "" {
		be.Prepared.Delete(head.prepared)
	}
	i := 1
	if s.exp[0].typ == 'Z' {
		i = 0
	}
	for ; i < len(s.exp) && s.exp[i].typ != 'Z'; i++ {
		if e := s.exp[i]; e.prepared != "" {
			be.Prepared.Delete(e.prepared)
		} else if e.closes != "" {
			be.Prepared.Restore(e.closes)
		}
	}
	if i == len(s.exp) {
		s.skipping = true
	}
	if s.exp[0].typ == 'Z' {
		return
	}
	s.exp = s.exp[i:]
}

// abortBackend ends the statement with err when the proxy cannot go on
// relaying the backend's answer: the backend connection is discarded and
// the client told.
func (s *session) abortBackend(err error) error {
	if s.be != nil {
		s.mu.Lock()
		s.bePool.Discard(s.be)
		s.be = nil
		s.mu.Unlock()
	}
	s.beBusy = false
	s.logger().Warn("statement_aborted", "error", err)
	return err
}

// copyIn forwards CopyData, CopyDone and CopyFail from the client. A COPY
// run by an Execute (extended protocol) needs a Sync after its CopyDone or
// CopyFail: the backend ignores a Sync that arrives during the copy (libpq
// sends one with the Execute and another after CopyDone), so the client's
// next Sync is forwarded too, and expected when the batch had none.
func (s *session) copyIn(extended bool) error {
	be := s.be.Conn
	done := false
	for {
		typ, n, err := s.c.r.header()
		if err != nil {
			return err
		}
		switch typ {
		case 'd':
			if err := s.c.r.copyFrame(be.W, typ, n); err != nil {
				return err
			}
		case 'c', 'f':
			body, err := s.c.r.body(n)
			if err != nil {
				return err
			}
			if done {
				continue // dropped, as Postgres drops them after the copy
			}
			if err := writeFrame(be.W, typ, body); err != nil {
				return s.backendLost(err)
			}
			if err := be.W.Flush(); err != nil {
				return s.backendLost(err)
			}
			if !extended {
				return nil
			}
			done = true
		case 'H':
			if _, err := s.c.r.body(n); err != nil {
				return err
			}
		case 'S':
			if _, err := s.c.r.body(n); err != nil {
				return err
			}
			if !done {
				continue // ignored during the copy, as Postgres does
			}
			if _, err := be.W.Write([]byte{'S', 0, 0, 0, 4}); err != nil {
				return s.backendLost(err)
			}
			if err := be.W.Flush(); err != nil {
				return s.backendLost(err)
			}
			if !slices.ContainsFunc(s.exp, func(e expect) bool { return e.typ == 'Z' }) {
				s.exp = append(s.exp, expect{typ: 'Z'})
				s.syncedInCopy = true
			}
			return nil
		default:
			if done {
				return sqlerr.New(sqlerr.Protocol, "expected Sync after the end of COPY FROM STDIN, got message type %q", typ)
			}
			return sqlerr.New(sqlerr.Protocol, "unexpected message type %q during COPY FROM STDIN", typ)
		}
	}
}

// backendLost discards a broken backend; the client is told and closed.
func (s *session) backendLost(err error) error {
	if s.be != nil {
		s.mu.Lock()
		s.bePool.Fail(s.be, err)
		s.be = nil
		s.mu.Unlock()
	}
	s.beBusy = false
	s.logger().Warn("backend_lost", "error", err)
	return sqlerr.Wrap(sqlerr.Unavailable, err, "lost the connection to the backend of tenant %q", s.b.Tenant.ID)
}

// ---- encoding helpers ----

// errorCode returns the SQLSTATE field of an ErrorResponse body.
func errorCode(body []byte) string {
	for len(body) > 1 {
		field := body[0]
		v, rest, err := cstring(body[1:])
		if err != nil {
			break
		}
		if field == 'C' {
			return v
		}
		body = rest
	}
	return "XX000"
}

// writeFrame builds the header in the writer's own buffer: a header array
// passed to Write would escape, an allocation per relayed frame.
func writeFrame(w *bufio.Writer, typ byte, body []byte) error {
	if w.Available() < 5 {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	hdr := w.AvailableBuffer()[:5]
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)+4))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

func appendQuery(dst []byte, sql string) []byte {
	dst = append(dst, 'Q', 0, 0, 0, 0)
	start := len(dst) - 4
	dst = append(dst, sql...)
	dst = append(dst, 0)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// appendMsg appends the encoding of one of the proxy's own messages.
func appendMsg(dst []byte, m interface{ Encode([]byte) ([]byte, error) }) []byte {
	b, err := m.Encode(dst)
	if err != nil {
		panic(err) // only our own well-formed messages are encoded here
	}
	return b
}

func encodeMsg(m pgproto3.BackendMessage) []byte {
	b, err := m.Encode(nil)
	if err != nil {
		panic(err) // only our own well-formed messages are encoded here
	}
	return b
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func unquoteLiteral(s string) string {
	s = strings.TrimPrefix(strings.TrimSuffix(s, "'"), "'")
	return strings.ReplaceAll(s, "''", "'")
}

// safeClientEncoding reports whether the proxy's parser reads text in
// encoding enc as the server will. Client-only multibyte encodings (SJIS,
// BIG5, GBK, GB18030, UHC, JOHAB) can hide a quote or backslash byte inside a
// character, so the proxy refuses them.
func safeClientEncoding(enc string) bool {
	e := strings.ToUpper(strings.NewReplacer("-", "", "_", "", "'", "", " ", "").Replace(enc))
	switch e {
	case "UTF8", "UNICODE", "SQLASCII", "LATIN1", "ISO88591", "DEFAULT":
		return true
	}
	return false
}
