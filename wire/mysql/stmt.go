package mysql

import (
	"bytes"
	"encoding/binary"
	"errors"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// maxBackendStmts bounds the statements kept prepared on one backend
// connection (MySQL's max_prepared_stmt_count is server-wide).
const maxBackendStmts = 256

// stmt is a client's prepared statement. Its id is the client's; on each
// backend connection the checked text is prepared under the backend's own
// id (pool.MySQLConn.Prepared), re-prepared wherever an EXECUTE lands.
type stmt struct {
	sql     string
	dec     *policy.Decision
	bnd     *proxy.Binding // binding the decision was made under
	gen     uint64         // catalog generation read before the decision (proxy.CatalogGen)
	params  uint16
	columns uint16
	meta    bool // results may show database names (see isMeta)
	// showWarnings: the statement is SHOW WARNINGS (see isShowWarnings),
	// decided once with dec rather than matched at every execute.
	showWarnings bool
	// types are the parameter types of the last execute that sent them;
	// every execute is forwarded with them, since the backend connection
	// may not have seen them.
	types []byte
	// cursorOpen: the last execute opened a cursor (CURSOR_TYPE_READ_ONLY)
	// that COM_STMT_FETCH reads, with cursorCols (masks decided at execute).
	cursorOpen bool
	cursorCols []column
	cursorCaps *resultCaps // the cursor's row cap, counted across fetches
	// longData: COM_STMT_SEND_LONG_DATA sent, not yet consumed by an
	// execute (or dropped by a reset).
	longData bool
}

// check runs the policy on a statement text for the prepared-statement
// protocol.
func (s *session) checkPrepared(sql string) (*policy.Decision, error) {
	dec, err := s.srv.p.Check(s.b, policy.MySQL, sql)
	if err != nil {
		return nil, err
	}
	if len(dec.Stmts) == 0 {
		return nil, sqlerr.New(sqlerr.Syntax, "Query was empty")
	}
	if len(dec.Stmts) > 1 {
		return nil, sqlerr.New(sqlerr.Syntax, "You have an error in your SQL syntax: a prepared statement holds one statement")
	}
	st := dec.Stmts[0]
	if st.TenantSwitch != "" || st.Kind == "KILL" || st.ShowVar == "tenant" ||
		(st.Kind == "SHOW" && showDatabasesRe.MatchString(dec.SQL)) {
		return nil, sqlerr.New(sqlerr.Unsupported, "This command is not supported in the prepared statement protocol: send %s as a plain query", st.Kind)
	}
	if err := s.probe(dec); err != nil {
		return nil, err
	}
	dec.SQL = s.fill(dec)
	return dec, nil
}

// prepare answers COM_STMT_PREPARE with the backend's response under a
// client statement id.
func (s *session) prepare(sql string) error {
	// Only a refused or failed prepare is audited (and not counted as a
	// statement): the statement is recorded when executed.
	s.aud.Begin(proxy.ProtocolMySQL, s.client, s.b)
	s.aud.AddSQL(sql)
	defer s.srv.p.Record(&s.aud)
	// Read before the check: a newer snapshot used by the check only makes
	// the statement decide once more.
	gen, err := s.srv.p.CatalogGen(s.b)
	if err != nil {
		return s.fail(err)
	}
	dec, err := s.checkPrepared(sql)
	if err != nil {
		return s.fail(err)
	}
	if err := s.acquire(); err != nil {
		return s.fail(err)
	}
	be := s.be.Conn
	if err := s.send(append([]byte{comStmtPrepare}, dec.SQL...)); err != nil {
		return err
	}
	rw := s.rewriter()
	_, p, err := be.R.Next()
	if err != nil {
		return s.backendLost(err)
	}
	if len(p) > 0 && p[0] == 0xff {
		if _, err := s.relayErr(relayResult{}, p, rw); err != nil {
			return err
		}
		s.maybeRelease()
		return s.c.flush()
	}
	if len(p) < 12 || p[0] != 0x00 {
		return s.backendLost(errors.New("malformed COM_STMT_PREPARE response"))
	}
	bst := &pool.MySQLStmt{
		ID:      binary.LittleEndian.Uint32(p[1:]),
		Columns: binary.LittleEndian.Uint16(p[5:]),
		Params:  binary.LittleEndian.Uint16(p[7:]),
	}
	s.nextStmt++
	id := s.nextStmt
	out := append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(out[1:], id)
	if err := s.c.write(out); err != nil {
		return err
	}
	for _, n := range []uint16{bst.Params, bst.Columns} {
		if n == 0 {
			continue
		}
		for i := 0; i <= int(n); i++ { // n definitions and an EOF
			_, p, err := be.R.Next()
			if err != nil {
				return s.backendLost(err)
			}
			if i < int(n) {
				p, _ = rw.columnDef(p, false)
			}
			if err := s.c.write(p); err != nil {
				return err
			}
		}
	}
	s.done()
	s.keepBackendStmt(dec.SQL, bst)
	s.stmts[id] = &stmt{sql: sql, dec: dec, bnd: s.b, gen: gen, params: bst.Params, columns: bst.Columns, meta: isMeta(dec),
		showWarnings: isShowWarnings(dec)}
	s.maybeRelease()
	return s.c.flush()
}

// keepBackendStmt records a statement prepared on the current backend,
// closing the one it replaces and the oldest when there are too many.
func (s *session) keepBackendStmt(key string, bst *pool.MySQLStmt) {
	be := s.be.Conn
	if old, ok := be.Prepared[key]; ok && old.ID != bst.ID {
		s.closeBackendStmt(old.ID)
	}
	if len(be.Prepared) >= maxBackendStmts {
		for k, v := range be.Prepared {
			if k != key {
				s.closeBackendStmt(v.ID)
				delete(be.Prepared, k)
				break
			}
		}
	}
	be.Prepared[key] = bst
}

// closeBackendStmt sends COM_STMT_CLOSE (which has no response).
func (s *session) closeBackendStmt(id uint32) {
	be := s.be.Conn
	var p [5]byte
	p[0] = comStmtClose
	binary.LittleEndian.PutUint32(p[1:], id)
	_ = pool.WriteMySQLPacket(be.W, 0, p[:])
	_ = be.W.Flush()
}

// backendStmt returns the client statement and the backend statement
// serving it on the current backend, preparing it there when missing.
func (s *session) backendStmt(id uint32) (*stmt, *pool.MySQLStmt, error) {
	st, ok := s.stmts[id]
	if !ok {
		return nil, nil, sqlerr.New(sqlerr.InvalidValue, "Unknown prepared statement handler (%d) given to the proxy", id)
	}
	gen, err := s.srv.p.CatalogGen(s.b)
	if err != nil {
		return nil, nil, err
	}
	if st.bnd != s.b || st.gen != gen {
		// The session switched tenant since, or the catalog the decision
		// was made on changed (a view now reads a masked table): check
		// again.
		dec, err := s.checkPrepared(st.sql)
		if err != nil {
			return nil, nil, err
		}
		st.dec, st.bnd, st.gen, st.meta, st.showWarnings = dec, s.b, gen, isMeta(dec), isShowWarnings(dec)
	}
	s.route = s.routable(st.dec)
	err = s.acquire()
	s.route = false
	if err != nil {
		return nil, nil, err
	}
	if !st.dec.ReadOnly() {
		s.wrote()
	}
	be := s.be.Conn
	if bst, ok := be.Prepared[st.dec.SQL]; ok {
		return st, bst, nil
	}
	// Prepare it silently on this connection.
	if err := s.send(append([]byte{comStmtPrepare}, st.dec.SQL...)); err != nil {
		return nil, nil, err
	}
	_, p, err := be.R.Next()
	if err != nil {
		return nil, nil, s.backendLost(err)
	}
	if len(p) > 0 && p[0] == 0xff {
		s.done()
		return nil, nil, pool.ParseMySQLError(p)
	}
	if len(p) < 12 || p[0] != 0x00 {
		return nil, nil, s.backendLost(errors.New("malformed COM_STMT_PREPARE response"))
	}
	bst := &pool.MySQLStmt{
		ID:      binary.LittleEndian.Uint32(p[1:]),
		Columns: binary.LittleEndian.Uint16(p[5:]),
		Params:  binary.LittleEndian.Uint16(p[7:]),
	}
	skip := 0
	if bst.Params > 0 {
		skip += int(bst.Params) + 1
	}
	if bst.Columns > 0 {
		skip += int(bst.Columns) + 1
	}
	for i := 0; i < skip; i++ {
		if _, _, err := be.R.Next(); err != nil {
			return nil, nil, s.backendLost(err)
		}
	}
	s.done()
	s.keepBackendStmt(st.dec.SQL, bst)
	if bst.Params != st.params {
		return nil, nil, sqlerr.New(sqlerr.InvalidValue, "prepared statement %d changed on the backend (now %d parameters): prepare it again", id, bst.Params)
	}
	return st, bst, nil
}

// execute forwards COM_STMT_EXECUTE under the backend's statement id, with
// the parameter types included unless the backend statement was last bound
// to the same ones (it may have run for another client since, with others).
func (s *session) execute(p []byte) error {
	s.aud.Begin(proxy.ProtocolMySQL, s.client, s.b)
	defer s.srv.p.Record(&s.aud)
	if err := s.srv.p.Allow(s.b); err != nil {
		return s.fail(err)
	}
	if len(p) < 10 {
		return s.fail(sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_EXECUTE packet"))
	}
	id := binary.LittleEndian.Uint32(p[1:])
	st, ok := s.stmts[id]
	if !ok {
		return s.fail(sqlerr.New(sqlerr.InvalidValue, "Unknown prepared statement handler (%d) given to mysqld_stmt_execute", id))
	}
	s.aud.Add(st.dec, st.sql)
	n := int(st.params)
	flagPos := 10 + (n+7)/8 // new-params-bound flag, after the NULL bitmap
	sentTypes := false      // the client's packet carries the types
	if n > 0 {
		if len(p) <= flagPos {
			return s.fail(sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_EXECUTE packet"))
		}
		if sentTypes = p[flagPos] == 1; sentTypes {
			if len(p) < flagPos+1+2*n {
				return s.fail(sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_EXECUTE packet"))
			}
			st.types = append(st.types[:0], p[flagPos+1:flagPos+1+2*n]...)
		} else if st.types == nil {
			return s.fail(sqlerr.New(sqlerr.Protocol, "COM_STMT_EXECUTE without parameter types for statement %d", id))
		}
	}
	if !st.showWarnings {
		s.proxyWarning = ""
	}
	st, bst, err := s.backendStmt(id)
	if err != nil {
		var me *gmysql.MyError
		if errors.As(err, &me) || sqlerr.As(err) != nil {
			if sqlerr.Is(err, sqlerr.Unavailable) {
				return err
			}
			s.maybeRelease()
			return s.fail(err)
		}
		return err
	}
	// The packet goes out under the backend's statement id, on a copy (p
	// is the client reader's buffer).
	var pkt []byte
	if n > 0 && !sentTypes && !bytes.Equal(bst.Types, st.types) {
		pkt = append(s.sendBuf[:0], p[:flagPos]...)
		pkt = append(pkt, 1)
		pkt = append(pkt, st.types...)
		pkt = append(pkt, p[flagPos+1:]...)
	} else {
		pkt = append(s.sendBuf[:0], p...)
	}
	binary.LittleEndian.PutUint32(pkt[1:], bst.ID)
	// Until the backend answers, which types it holds is not known.
	bst.Types = bst.Types[:0]
	if err := s.send(pkt); err != nil {
		return err
	}
	s.keepSendBuf(pkt)
	txBefore := s.inTx()
	stop := s.statementTimer()
	// A new execute closes the statement's previous cursor on the backend.
	st.cursorOpen, st.cursorCols, st.cursorCaps = false, nil, nil
	s.syncCursor()
	caps := newResultCaps(st.dec)
	res, err := s.relay(relayOpts{binary: true, meta: st.meta, caps: caps, showWarnings: st.showWarnings,
		masked: st.dec.Masked, stmts: st.dec.Stmts, st: st})
	stop()
	if err != nil {
		return err
	}
	if n > 0 && !res.failed {
		// The backend statement ran with these types: the next execute
		// that has the same needs not send them again.
		bst.Types = append(bst.Types[:0], st.types...)
	}
	if st.cursorOpen {
		// The rows come with COM_STMT_FETCH, counted against the same cap.
		st.cursorCaps = newResultCaps(st.dec)
	}
	if caps.wasWithheld() {
		s.srv.p.Metrics.Capped.WithLabelValues(s.b.Tenant.ID).Inc()
		s.proxyWarning = capMessage(st.dec, s.b)
	}
	st.longData = false // the backend consumed it
	s.syncCursor()
	s.afterStatements(st.dec, res.ok, txBefore)
	s.maybeRelease()
	return s.c.flush()
}

func isShowWarnings(dec *policy.Decision) bool {
	return len(dec.Stmts) == 1 && showWarningsRe.MatchString(dec.SQL)
}

// sendLongData forwards COM_STMT_SEND_LONG_DATA (no response); the backend
// is kept until the statement is executed or reset.
func (s *session) sendLongData(p []byte) error {
	if len(p) < 7 {
		return sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_SEND_LONG_DATA packet")
	}
	id := binary.LittleEndian.Uint32(p[1:])
	st, bst, err := s.backendStmt(id)
	if err != nil {
		if sqlerr.Is(err, sqlerr.Unavailable) {
			return err
		}
		// No response is allowed: the error shows at execute, which fails
		// for lack of the data.
		s.log.Debug("send_long_data_failed", "error", err)
		return nil
	}
	pkt := append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(pkt[1:], bst.ID)
	if err := s.send(pkt); err != nil {
		return err
	}
	s.done()
	st.longData = true
	s.syncCursor()
	return nil
}

// closeStmt drops a client statement (COM_STMT_CLOSE has no response). The
// backend statements stay prepared for reuse.
func (s *session) closeStmt(body []byte) error {
	if len(body) < 4 {
		return sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_CLOSE packet")
	}
	id := binary.LittleEndian.Uint32(body)
	if st, ok := s.stmts[id]; ok && st.longData && s.be != nil {
		// The backend statement is shared with other clients: its
		// pending long data must not reach their execute.
		if bst, ok := s.be.Conn.Prepared[st.dec.SQL]; ok {
			pkt := []byte{comStmtReset, 0, 0, 0, 0}
			binary.LittleEndian.PutUint32(pkt[1:], bst.ID)
			if err := s.send(pkt); err != nil {
				return err
			}
			if _, p, err := s.be.Conn.R.Next(); err != nil {
				return s.backendLost(err)
			} else if len(p) == 0 || p[0] != 0x00 {
				s.log.Debug("stmt_reset_failed")
			}
			s.done()
		}
	}
	delete(s.stmts, id)
	s.syncCursor()
	s.maybeRelease()
	return nil
}

// resetStmt answers COM_STMT_RESET: forwarded when the current backend has
// the statement, else answered by the proxy (nothing to reset).
func (s *session) resetStmt(p []byte) error {
	if len(p) < 5 {
		return s.fail(sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_RESET packet"))
	}
	id := binary.LittleEndian.Uint32(p[1:])
	st, ok := s.stmts[id]
	if !ok {
		return s.fail(sqlerr.New(sqlerr.InvalidValue, "Unknown prepared statement handler (%d) given to mysqld_stmt_reset", id))
	}
	st.longData = false
	st.cursorOpen, st.cursorCols = false, nil
	s.syncCursor()
	if s.be == nil {
		return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
	}
	bst, ok := s.be.Conn.Prepared[st.dec.SQL]
	if !ok {
		s.maybeRelease()
		return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
	}
	pkt := append([]byte(nil), p[:5]...)
	binary.LittleEndian.PutUint32(pkt[1:], bst.ID)
	if err := s.send(pkt); err != nil {
		return err
	}
	if _, err := s.relay(relayOpts{}); err != nil {
		return err
	}
	s.maybeRelease()
	return s.c.flush()
}

// fetch forwards COM_STMT_FETCH for the open cursor.
func (s *session) fetch(p []byte) error {
	if len(p) < 9 {
		return s.fail(sqlerr.New(sqlerr.Protocol, "Malformed COM_STMT_FETCH packet"))
	}
	id := binary.LittleEndian.Uint32(p[1:])
	st, ok := s.stmts[id]
	if !ok || s.be == nil || !st.cursorOpen {
		return s.fail(sqlerr.New(sqlerr.InvalidValue, "The statement (%d) has no open cursor", id))
	}
	if st.bnd != s.b {
		return s.fail(staleErr(id))
	}
	bst, ok := s.be.Conn.Prepared[st.dec.SQL]
	if !ok {
		return s.fail(sqlerr.New(sqlerr.InvalidValue, "The statement (%d) has no open cursor", id))
	}
	pkt := append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(pkt[1:], bst.ID)
	if err := s.send(pkt); err != nil {
		return err
	}
	withheld := st.cursorCaps.wasWithheld()
	if _, err := s.relay(relayOpts{binary: true, fetch: true, meta: st.meta, caps: st.cursorCaps, masked: st.dec.Masked, stmts: st.dec.Stmts, st: st}); err != nil {
		return err
	}
	if !withheld && st.cursorCaps.wasWithheld() {
		s.srv.p.Metrics.Capped.WithLabelValues(s.b.Tenant.ID).Inc()
		s.proxyWarning = capMessage(st.dec, s.b)
	}
	s.maybeRelease()
	return s.c.flush()
}

// fieldList answers COM_FIELD_LIST after checking the table under the
// session's role.
func (s *session) fieldList(body []byte) error {
	i := 0
	for i < len(body) && body[i] != 0 {
		i++
	}
	table := string(body[:i])
	if table == "" {
		return s.fail(sqlerr.New(sqlerr.Syntax, "COM_FIELD_LIST needs a table name"))
	}
	if _, err := s.srv.p.Check(s.b, policy.MySQL, "SHOW COLUMNS FROM "+quoteIdent(table)); err != nil {
		return s.fail(err)
	}
	if err := s.acquire(); err != nil {
		return s.fail(err)
	}
	if err := s.send(append([]byte{comFieldList}, body...)); err != nil {
		return err
	}
	if _, err := s.relay(relayOpts{fieldList: true}); err != nil {
		return err
	}
	s.maybeRelease()
	return s.c.flush()
}

func quoteIdent(s string) string {
	out := []byte{'`'}
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			out = append(out, '`')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}
