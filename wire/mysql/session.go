package mysql

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Command bytes (https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html).
const (
	comQuit            = 0x01
	comInitDB          = 0x02
	comQuery           = 0x03
	comFieldList       = 0x04
	comStatistics      = 0x09
	comPing            = 0x0e
	comChangeUser      = 0x11
	comStmtPrepare     = 0x16
	comStmtExecute     = 0x17
	comStmtSendLong    = 0x18
	comStmtClose       = 0x19
	comStmtReset       = 0x1a
	comSetOption       = 0x1b
	comStmtFetch       = 0x1c
	comResetConnection = 0x1f
)

// maxSettings bounds the settings kept for replay: beyond it a value
// computed from the variable's own replaces the earlier ones like any other.
const maxSettings = 64

// setting is one session variable assignment replayed on backends.
type setting struct {
	name string
	sql  string
}

// session is one authenticated client connection.
type session struct {
	srv       *Server
	c         *conn
	id        uint32
	log       *slog.Logger
	caps      uint32
	collation uint8

	mu  sync.Mutex // guards b, be and busy against KILL from other sessions
	b   *proxy.Binding
	be  *pool.Item[*pool.MySQLConn]
	bep *pool.Pool[*pool.MySQLConn] // the pool be came from
	// route is set before an acquire when what is about to run may go to
	// a read replica; rywUntil keeps reads on the primary after a write.
	route    bool
	rywUntil time.Time
	busy     bool // a command is in flight on be

	status   uint16      // server status last sent to the client
	pinned   bool        // the backend holds state that cannot be replayed
	holdWarn bool        // the last result had warnings: keep the backend for SHOW WARNINGS
	admitted func()      // uncounts the client from its tenant's connections
	timedOut atomic.Bool // the tenant's statement timeout killed the statement
	longData bool        // COM_STMT_SEND_LONG_DATA sent: keep the backend until execute
	cursor   bool        // a cursor is open on the backend (some stmt's cursorOpen)

	settings []setting
	stateKey string

	stmts    map[uint32]*stmt
	nextStmt uint32

	// proxyWarning is the proxy's own warning of the last statement (a
	// capped result), added to the backend's SHOW WARNINGS.
	proxyWarning string

	others []string // backend database names of the other MySQL tenants

	evicted atomic.Pointer[sqlerr.Error] // set when the session must close at its next idle point
	waiting atomic.Int32                 // waitBusy, waitIdle or waitInTx

	aud proxy.Statement // the statement being run, for Record (audit, metrics)

	// client is the client's address, formatted once: every statement's
	// audit record carries it.
	client string
	// Buffers reused from one command to the next, so that relaying a
	// statement allocates nothing when no rewrite or mask needs to: rw's
	// scratch holds a rewritten column definition, head the column
	// definitions held until the masks are decided (headEnds: where each
	// ends), cols what the relay keeps of them, sendBuf the command sent
	// to the backend.
	rw       rewriter
	head     []byte
	headEnds []int
	cols     []column
	sendBuf  []byte
}

func newSession(srv *Server, c *conn, id uint32, hs *handshakeResult) *session {
	s := &session{
		srv:       srv,
		c:         c,
		id:        id,
		caps:      hs.caps,
		collation: hs.collation,
		b:         hs.binding,
		status:    gmysql.SERVER_STATUS_AUTOCOMMIT,
		stmts:     make(map[uint32]*stmt),
		client:    c.nc.RemoteAddr().String(),
	}
	s.log = c.log.With("tenant", s.b.Tenant.ID, "user", s.b.User.Name)
	if sql := namesFor(hs.collation); sql != "" {
		s.settings = append(s.settings, setting{name: "names", sql: sql})
	}
	s.stateKey = s.computeStateKey()
	s.others = s.otherDatabases()
	return s
}

// namesFor returns the SET NAMES statement that gives a backend connection
// the client's handshake collation, or "" for the backends' own.
func namesFor(id uint8) string {
	if id == serverCollation || id == 0 {
		return ""
	}
	coll, err := charset.GetCollationByID(int(id))
	if err != nil || coll == nil {
		return ""
	}
	if strings.Contains(coll.Name, "_0900_") || id == 255 {
		// MySQL 8 collations MariaDB does not know: keep the charset.
		return "SET NAMES " + coll.CharsetName
	}
	return "SET NAMES " + coll.CharsetName + " COLLATE " + coll.Name
}

// otherDatabases lists the backend database names of the other MySQL
// tenants, which results of metadata queries must never show.
func (s *session) otherDatabases() []string {
	var out []string
	own := s.b.Tenant.Scope.Database
	for _, t := range s.srv.p.Tenants() {
		if t.Engine != proxy.EngineMySQL || t.MySQL == nil || t.MySQL.Database == "" {
			continue
		}
		if !strings.EqualFold(t.MySQL.Database, own) {
			out = append(out, t.MySQL.Database)
		}
	}
	return out
}

// Evict asks the session to close at its next idle point with err.
func (s *session) Evict(err *sqlerr.Error) {
	s.evicted.CompareAndSwap(nil, err)
	// A drain lets an open transaction finish (the session closes at its
	// next idle point); other evictions close a waiting session at once.
	if w := s.waiting.Load(); w == waitIdle || w == waitInTx && err.Kind != sqlerr.ShuttingDown {
		_ = s.c.nc.SetReadDeadline(time.Now())
	}
}

// What the session is waiting for a client command in (Evict reads it).
const (
	waitBusy int32 = iota
	waitIdle
	waitInTx
)

// Bound returns the session's tenant and user.
func (s *session) Bound() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Tenant.ID, s.b.User.Name
}

// Close closes the client connection now.
func (s *session) Close() error { return s.c.nc.Close() }

var _ proxy.Client = (*session)(nil)

func (s *session) run() {
	untrack, err := s.srv.p.Track(s)
	if err != nil {
		s.srv.p.Metrics.Error(s.b.Tenant.ID, mysqlState(err), err)
		_ = s.c.writeErr(err)
		return
	}
	defer untrack()
	admitted, err := s.srv.p.Admit(s.b)
	if err != nil {
		s.srv.p.Metrics.Error(s.b.Tenant.ID, mysqlState(err), err)
		_ = s.c.writeErr(err)
		return
	}
	s.admitted = admitted
	defer func() { s.admitted() }()
	s.srv.sessMu.Lock()
	s.srv.sessions[s.id] = s
	s.srv.sessMu.Unlock()
	defer func() {
		s.srv.sessMu.Lock()
		delete(s.srv.sessions, s.id)
		s.srv.sessMu.Unlock()
	}()
	if err := s.c.write(okPacket(0, 0, s.replyStatus(), 0, "")); err != nil {
		return
	}
	if err := s.c.flush(); err != nil {
		return
	}
	tenant := s.b.Tenant.ID
	s.srv.p.Metrics.Clients.WithLabelValues(tenant, "mysql").Inc()
	defer func() { s.srv.p.Metrics.Clients.WithLabelValues(s.b.Tenant.ID, "mysql").Dec() }()
	defer s.end()

	for {
		if s.idle() {
			s.waiting.Store(waitIdle)
		} else {
			s.waiting.Store(waitInTx)
		}
		if e := s.evicted.Load(); e != nil && s.idle() {
			s.c.seq = 0
			_ = s.c.writeErr(e)
			return
		}
		s.c.seq = 0
		p, err := s.c.read()
		s.waiting.Store(waitBusy)
		if err != nil {
			var ne net.Error
			if e := s.evicted.Load(); e != nil && errors.As(err, &ne) && ne.Timeout() {
				s.c.seq = 1
				_ = s.c.writeErr(e)
			} else if e := sqlerr.As(err); e != nil {
				s.srv.p.Metrics.Error(s.b.Tenant.ID, e.MySQLState(), e)
				_ = s.c.writeErr(e)
			}
			return
		}
		if len(p) == 0 {
			e := sqlerr.New(sqlerr.Protocol, "Malformed packet: empty command")
			s.srv.p.Metrics.Error(s.b.Tenant.ID, e.MySQLState(), e)
			_ = s.c.writeErr(e)
			return
		}
		if err := s.command(p); err != nil {
			// A proxy error (a lost backend wraps the backend's EOF) is
			// told to the client; the client's own EOF ends quietly.
			e := sqlerr.As(err)
			if e == nil && (errors.Is(err, errQuit) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
				return
			}
			if e != nil {
				s.srv.p.Metrics.Error(s.b.Tenant.ID, e.MySQLState(), e)
				_ = s.c.writeErr(e)
			} else {
				s.log.Debug("connection_closed", "error", err)
			}
			return
		}
		s.c.r.Shrink()
	}
}

var errQuit = errors.New("quit")

// idle reports whether the session holds no transaction or backend state.
func (s *session) idle() bool {
	return s.status&gmysql.SERVER_STATUS_IN_TRANS == 0 && !s.longData && !s.cursor
}

// command runs one client command. A returned error ends the connection;
// statement errors are answered with ERR packets and return nil.
func (s *session) command(p []byte) error {
	if err := s.rebind(); err != nil {
		return err
	}
	cmd, body := p[0], p[1:]
	switch cmd {
	case comQuit:
		return errQuit
	case comQuery:
		return s.query(string(body))
	case comInitDB:
		return s.useTenant(string(body))
	case comPing:
		return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
	case comFieldList:
		return s.fieldList(body)
	case comStmtPrepare:
		return s.prepare(string(body))
	case comStmtExecute:
		return s.execute(p)
	case comStmtSendLong:
		return s.sendLongData(p)
	case comStmtClose:
		return s.closeStmt(body)
	case comStmtReset:
		return s.resetStmt(p)
	case comStmtFetch:
		return s.fetch(p)
	case comSetOption:
		if len(body) != 2 {
			return s.fail(sqlerr.New(sqlerr.Protocol, "Malformed COM_SET_OPTION packet"))
		}
		switch binary.LittleEndian.Uint16(body) {
		case 0:
			s.caps |= gmysql.CLIENT_MULTI_STATEMENTS
		case 1:
			s.caps &^= gmysql.CLIENT_MULTI_STATEMENTS
		default:
			return s.fail(sqlerr.New(sqlerr.InvalidValue, "Unknown COM_SET_OPTION option"))
		}
		return s.reply(eofPacket(0, s.replyStatus()))
	case comResetConnection:
		return s.resetConnection()
	case comChangeUser:
		return s.fail(sqlerr.New(sqlerr.Unsupported, "COM_CHANGE_USER is not supported by the proxy: open a new connection"))
	case comStatistics:
		return s.fail(sqlerr.New(sqlerr.Unsupported, "COM_STATISTICS is not supported by the proxy"))
	default:
		return s.fail(sqlerr.New(sqlerr.Unsupported, "command 0x%02x is not supported by the proxy", cmd))
	}
}

// reply sends one packet and flushes.
func (s *session) reply(p []byte) error {
	if err := s.c.write(p); err != nil {
		return err
	}
	return s.c.flush()
}

// fail answers a statement error: the connection stays open.
func (s *session) fail(err error) error {
	s.srv.p.Metrics.Error(s.b.Tenant.ID, mysqlState(err), err)
	s.aud.Fail(err, "")
	return s.reply(errPacket(err))
}

var (
	showDatabasesRe = regexp.MustCompile(`(?is)^\s*show\s+(databases|schemas)\b`)
	showWarningsRe  = regexp.MustCompile(`(?is)^\s*show\s+warnings\b`)
	metaRe          = regexp.MustCompile(`(?i)information_schema|performance_schema|database\s*\(|schema\s*\(`)
)

// query runs a COM_QUERY text.
func (s *session) query(sql string) error {
	s.aud.Begin(proxy.ProtocolMySQL, s.client, s.b)
	s.aud.AddSQL(sql)
	defer s.srv.p.Record(&s.aud)
	if err := s.srv.p.Allow(s.b); err != nil {
		return s.fail(err)
	}
	if inner, ok := proxy.ExplainPolicyText(policy.MySQL, sql); ok { // explain.go
		return s.explainPolicy(inner)
	}
	dec, err := s.srv.p.Check(s.b, policy.MySQL, sql)
	if err != nil {
		return s.fail(err)
	}
	s.aud.Add(dec, "")
	if len(dec.Stmts) == 0 {
		return s.fail(sqlerr.New(sqlerr.Syntax, "Query was empty"))
	}
	if len(dec.Stmts) > 1 && s.caps&gmysql.CLIENT_MULTI_STATEMENTS == 0 {
		return s.fail(sqlerr.New(sqlerr.Syntax,
			"You have an error in your SQL syntax: several statements in one query need CLIENT_MULTI_STATEMENTS"))
	}
	if handled, err := s.intercept(dec); handled || err != nil {
		return err
	}
	if err := s.probe(dec); err != nil {
		return s.fail(err)
	}
	showWarnings := len(dec.Stmts) == 1 && showWarningsRe.MatchString(dec.SQL)
	if !showWarnings {
		s.proxyWarning = ""
	}
	s.route = s.routable(dec)
	err = s.acquire()
	s.route = false
	if err != nil {
		return s.fail(err)
	}
	if !dec.ReadOnly() {
		s.wrote()
	}
	q := append(append(s.sendBuf[:0], comQuery), s.fill(dec)...)
	if err := s.send(q); err != nil {
		return err
	}
	s.keepSendBuf(q)
	txBefore := s.inTx()
	defer s.statementTimer()()
	caps := newResultCaps(dec)
	res, err := s.relay(relayOpts{
		meta:         isMeta(dec),
		caps:         caps,
		showWarnings: showWarnings,
		masked:       dec.Masked,
		stmts:        dec.Stmts,
	})
	if err != nil {
		return err
	}
	if caps.wasWithheld() {
		s.srv.p.Metrics.Capped.WithLabelValues(s.b.Tenant.ID).Inc()
		s.proxyWarning = capMessage(dec, s.b)
	}
	s.afterStatements(dec, res.ok, txBefore)
	s.maybeRelease()
	return s.c.flush()
}

// probe refuses a metadata query that names another tenant's backend
// database (information_schema probing): the rows it would filter on are
// dropped anyway, but columns other than the database name would show.
func (s *session) probe(dec *policy.Decision) error {
	if !isMeta(dec) {
		return nil
	}
	for _, o := range s.others {
		if containsIdent([]byte(dec.SQL), []byte(o)) {
			return sqlerr.New(sqlerr.CrossTenant, "Access denied: the statement refers to a database outside tenant %q", s.b.Tenant.ID)
		}
	}
	return nil
}

// fill returns the text to send for dec: CONNECTION_ID() becomes the
// proxy's connection id (the one the handshake gave the client and KILL
// takes) and USER() the client's user, at the places the policy marked on
// the parse tree (never inside a string literal).
func (s *session) fill(dec *policy.Decision) string {
	if len(dec.Subst) == 0 {
		return dec.SQL
	}
	host, _, err := net.SplitHostPort(s.client)
	if err != nil {
		host = "localhost"
	}
	return dec.Fill(s.id, s.b.User.Name, host)
}

// isMeta reports whether a statement's results may show database names:
// those are rewritten and filtered row by row.
func isMeta(dec *policy.Decision) bool {
	if metaText(dec.SQL) {
		return true
	}
	for _, st := range dec.Stmts {
		if strings.HasPrefix(st.Kind, "SHOW") {
			return true
		}
	}
	return false
}

// metaText reports whether metaRe matches sql. ASCII text is scanned
// without the regexp, which cost more than the cached policy check of a
// statement; text with other bytes (whose case folding the regexp knows)
// goes to the regexp.
func metaText(sql string) bool {
	for i := 0; i < len(sql); i++ {
		if sql[i] >= 0x80 {
			return metaRe.MatchString(sql)
		}
	}
	if indexFoldASCII(sql, "information_schema", 0) >= 0 || indexFoldASCII(sql, "performance_schema", 0) >= 0 {
		return true
	}
	for _, word := range []string{"database", "schema"} {
		for i := indexFoldASCII(sql, word, 0); i >= 0; i = indexFoldASCII(sql, word, i+1) {
			j := i + len(word)
			for j < len(sql) && isRegexpSpace(sql[j]) {
				j++
			}
			if j < len(sql) && sql[j] == '(' {
				return true
			}
		}
	}
	return false
}

// isRegexpSpace is the regexp's \s: [\t\n\f\r ].
func isRegexpSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// indexFoldASCII returns the first index from "from" on where the
// lower-case ASCII word occurs in s, ignoring ASCII case, or -1.
func indexFoldASCII(s, word string, from int) int {
	for i := from; i+len(word) <= len(s); i++ {
		j := 0
		for j < len(word) && lowerASCII(s[i+j]) == word[j] {
			j++
		}
		if j == len(word) {
			return i
		}
	}
	return -1
}

func capMessage(dec *policy.Decision, b *proxy.Binding) string {
	return "result limited to " + itoa(dec.MaxRows) + " rows for role '" + b.Role.Name + "'"
}

// intercept answers the statements the proxy handles itself: USE, KILL,
// SHOW DATABASES and SELECT @@tenant.
func (s *session) intercept(dec *policy.Decision) (bool, error) {
	special := false
	for _, st := range dec.Stmts {
		if st.TenantSwitch != "" || st.Kind == "KILL" || st.ShowVar == "tenant" {
			special = true
		}
	}
	showDBs := len(dec.Stmts) == 1 && dec.Stmts[0].Kind == "SHOW" && showDatabasesRe.MatchString(dec.SQL)
	if !special && !showDBs {
		return false, nil
	}
	if len(dec.Stmts) > 1 {
		return true, s.fail(sqlerr.New(sqlerr.Unsupported, "USE, KILL and SELECT @@tenant must be sent as statements of their own"))
	}
	st := dec.Stmts[0]
	switch {
	case showDBs:
		return true, s.singleColumn("Database", "SCHEMA_NAME", "SCHEMATA", s.b.Tenant.ID)
	case st.ShowVar == "tenant":
		return true, s.singleColumn("@@tenant", "", "", s.b.Tenant.ID)
	case st.TenantSwitch != "":
		return true, s.useTenant(st.TenantSwitch)
	default:
		return true, s.kill(st.KillID, st.KillQuery)
	}
}

// singleColumn answers a one-row, one-column text result.
func (s *session) singleColumn(name, orgName, table, value string) error {
	schema := ""
	if table != "" {
		schema = "information_schema"
	}
	if err := s.c.write([]byte{1}); err != nil {
		return err
	}
	if err := s.c.write(columnDef(schema, table, name, orgName, 0xfd)); err != nil {
		return err
	}
	if err := s.c.write(eofPacket(0, s.replyStatus())); err != nil {
		return err
	}
	if err := s.c.write(gmysql.PutLengthEncodedString([]byte(value))); err != nil {
		return err
	}
	return s.reply(eofPacket(0, s.replyStatus()))
}

// useTenant switches the session to another tenant (USE / COM_INIT_DB).
func (s *session) useTenant(id string) error {
	id = strings.Trim(strings.TrimSpace(id), "`")
	if id == s.b.Tenant.ID {
		return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
	}
	if s.inTx() {
		return s.fail(sqlerr.New(sqlerr.ActiveTransaction, "cannot switch tenant inside a transaction"))
	}
	nb, err := s.srv.p.Switch(s.b, id, proxy.EngineMySQL)
	if err != nil {
		return s.fail(err)
	}
	admitted, err := s.srv.p.Admit(nb)
	if err != nil {
		return s.fail(err)
	}
	s.admitted()
	s.admitted = admitted
	s.dropBackend()
	s.pinned, s.holdWarn = false, false
	s.closeCursors()
	s.proxyWarning = ""
	s.srv.p.Metrics.Clients.WithLabelValues(s.b.Tenant.ID, "mysql").Dec()
	s.srv.p.Metrics.Clients.WithLabelValues(nb.Tenant.ID, "mysql").Inc()
	s.log.Info("tenant_switched", "from", s.b.Tenant.ID, "to", nb.Tenant.ID)
	s.mu.Lock()
	s.b = nb
	s.mu.Unlock()
	s.log = s.c.log.With("tenant", nb.Tenant.ID, "user", nb.User.Name)
	s.others = s.otherDatabases()
	// User variables and other pinned state stayed with the old backend.
	return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
}

// kill runs KILL [QUERY|CONNECTION] id against one of the proxy's own
// connection ids, allowed only for the same user on the same tenant.
func (s *session) kill(id uint64, queryOnly bool) error {
	s.srv.sessMu.Lock()
	t := s.srv.sessions[uint32(id)]
	s.srv.sessMu.Unlock()
	if id > 0xffffffff {
		t = nil
	}
	if t != nil && t != s {
		t.mu.Lock()
		same := t.b.User.Name == s.b.User.Name && t.b.Tenant.ID == s.b.Tenant.ID
		t.mu.Unlock()
		if !same {
			t = nil
		}
	}
	if t == nil && id <= 0xffffffff && s.srv.p.ForwardKill(uint32(id), s.b.User.Name, s.b.Tenant.ID, queryOnly) {
		return s.reply(okPacket(0, 0, s.status, 0, "")) // a connection of another proxy of the fleet
	}
	if t == nil {
		return s.fail(sqlerr.New(sqlerr.Privilege, "Unknown thread id: %d (or not one of your connections on tenant %q)", id, s.b.Tenant.ID))
	}
	if t == s {
		if queryOnly {
			return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
		}
		_ = s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
		return errQuit
	}
	if queryOnly {
		t.killQuery()
	} else {
		_ = t.c.nc.Close()
	}
	return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
}

// statementTimer starts the tenant's statement timeout for the command just
// sent; the returned function stops it. Without a timeout it starts no
// timer and allocates nothing.
func (s *session) statementTimer() func() {
	s.timedOut.Store(false)
	if s.b.StatementTimeout() <= 0 {
		return noTimer
	}
	stop := s.b.StatementTimer(func() {
		s.timedOut.Store(true)
		s.killQuery()
	}, func() {
		// The backend did not answer the kill (paused, unreachable):
		// break its connection so the relay returns.
		s.mu.Lock()
		if s.be != nil {
			_ = s.be.Conn.Conn.Close()
		}
		s.mu.Unlock()
	})
	return func() { stop() }
}

func noTimer() {}

// killQuery stops the statement the session is running on its backend.
func (s *session) killQuery() {
	// The lock is not held across the network: a paused backend must not
	// block the session.
	s.mu.Lock()
	be := s.be
	busy := s.busy
	if be != nil && busy {
		// Marked under the lock that release takes: the connection is
		// discarded rather than handed to another client the late kill
		// could hit.
		be.Conn.MarkCancelled()
	}
	s.mu.Unlock()
	if be == nil || !busy {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := be.Conn.Kill(ctx); err != nil {
		s.log.Warn("kill_query_failed", "error", err)
	}
}

// resetConnection answers COM_RESET_CONNECTION: the session's state goes
// back to what it was after the handshake.
func (s *session) resetConnection() error {
	if s.be != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.be.Conn.Reset(ctx)
		cancel()
		s.mu.Lock()
		if err != nil {
			s.bep.Discard(s.be)
		} else {
			s.bep.Release(s.be)
		}
		s.be = nil
		s.mu.Unlock()
	}
	s.pinned, s.holdWarn, s.longData, s.cursor = false, false, false, false
	s.proxyWarning = ""
	s.settings = s.settings[:0]
	if sql := namesFor(s.collation); sql != "" {
		s.settings = append(s.settings, setting{name: "names", sql: sql})
	}
	s.stateKey = s.computeStateKey()
	s.stmts = make(map[uint32]*stmt)
	s.status = gmysql.SERVER_STATUS_AUTOCOMMIT
	return s.reply(okPacket(0, 0, s.replyStatus(), 0, ""))
}

func (s *session) inTx() bool { return s.status&gmysql.SERVER_STATUS_IN_TRANS != 0 }

// replyStatus is the server status for the proxy's own OK and EOF packets:
// the transaction state, without the flags that belong to one statement's
// result (a cursor, its last row, more results).
func (s *session) replyStatus() uint16 {
	return s.status &^ (gmysql.SERVER_STATUS_CURSOR_EXISTS | gmysql.SERVER_STATUS_LAST_ROW_SEND |
		gmysql.SERVER_MORE_RESULTS_EXISTS)
}

// syncCursor sets s.cursor and s.longData from the statements' open
// cursors and pending long data.
func (s *session) syncCursor() {
	s.cursor, s.longData = false, false
	for _, st := range s.stmts {
		s.cursor = s.cursor || st.cursorOpen
		s.longData = s.longData || st.longData
	}
}

// closeCursors forgets every statement's cursor (the backend is reset or
// given up).
func (s *session) closeCursors() {
	for _, st := range s.stmts {
		st.cursorOpen, st.cursorCols, st.longData = false, nil, false
	}
	s.cursor, s.longData = false, false
}

// afterStatements updates session state once statements have run; ok is
// the number of statements that completed without error.
func (s *session) afterStatements(dec *policy.Decision, ok int, txBefore bool) {
	for i, st := range dec.Stmts {
		if st.Pins || st.Kind == "LOCK TABLES" {
			s.pin("statement " + st.Kind)
		}
		if st.Set == nil || i >= ok {
			continue
		}
		if strings.Contains(st.Set.Name, "one_shot") || st.Set.Local {
			// SET TRANSACTION ... applies to the next transaction only.
			s.pin("SET TRANSACTION")
			continue
		}
		if txBefore || s.inTx() {
			s.pin("SET inside a transaction")
			continue
		}
		s.applySet(st.Set)
	}
}

func (s *session) applySet(v *policy.SetVar) {
	// A value computed from the variable's own (sql_mode =
	// CONCAT(@@sql_mode, ...)) builds on the earlier settings: they stay,
	// to be replayed before it.
	if !strings.Contains(v.SQL, "=CONCAT") || v.Kind != policy.SetValue || len(s.settings) >= maxSettings {
		kept := s.settings[:0]
		for _, x := range s.settings {
			if x.name != v.Name {
				kept = append(kept, x)
			}
		}
		s.settings = kept
	}
	if v.Kind == policy.SetValue {
		s.settings = append(s.settings, setting{name: v.Name, sql: v.SQL})
	}
	// SetDefault: a reset backend has the default; the entry is dropped.
	s.stateKey = s.computeStateKey()
	if s.be != nil {
		if v.Kind == policy.SetDefault {
			// The backend now has the default, which the replay of the
			// remaining entries on a reset connection gives too, but the
			// connection's own history differs: mark it for a reset.
			s.be.Conn.State = "\x00dirty"
		} else {
			s.be.Conn.State = s.stateKey
		}
	}
}

func (s *session) pin(reason string) {
	if !s.pinned {
		s.log.Debug("session_pinned", "reason", reason)
	}
	s.pinned = true
}

func (s *session) computeStateKey() string {
	var b strings.Builder
	for i, x := range s.settings {
		if i > 0 {
			b.WriteString(";\n")
		}
		b.WriteString(x.sql)
	}
	return b.String()
}

// ---- backend ----

// Read routing, as on the Postgres side: a statement that only reads, run
// outside a transaction by a session that holds no state, goes to the
// tenant's healthy replica with the fewest connections in use; after a
// write the session reads from the primary for read_after_write, unless the
// primary is down.

// routable reports whether dec may run on a replica now.
func (s *session) routable(dec *policy.Decision) bool {
	t := s.b.Tenant
	if len(t.MySQLReplicas) == 0 || s.be != nil || s.inTx() || s.pinned || s.holdWarn || s.longData || s.cursor ||
		t.Pool.Mode == pool.ModeSession || !dec.ReadOnly() {
		return false
	}
	return !time.Now().Before(s.rywUntil) || t.MySQLPool.Health().Breaker == "open"
}

// wrote starts the read-after-write window.
func (s *session) wrote() {
	if len(s.b.Tenant.MySQLReplicas) > 0 {
		s.rywUntil = time.Now().Add(s.b.Tenant.ReadAfterWrite)
	}
}

// acquire makes sure the session holds a backend connection with its
// settings applied.
func (s *session) acquire() error {
	if s.be != nil {
		return nil
	}
	p := s.b.Tenant.MySQLPool
	if p == nil {
		return sqlerr.New(sqlerr.Internal, "tenant %q has no MySQL pool", s.b.Tenant.ID)
	}
	var it *pool.Item[*pool.MySQLConn]
	if s.route {
		// A read outside a transaction: a healthy replica, falling back
		// to the primary when it cannot give a connection.
		if rp := s.b.Tenant.MySQLReadPool(); rp != nil {
			if rit, err := rp.Acquire(context.Background()); err == nil {
				p, it = rp, rit
			}
		}
	}
	if it == nil {
		var err error
		if it, err = p.Acquire(context.Background()); err != nil {
			return err
		}
	}
	if err := s.applyState(it.Conn); err != nil {
		p.Discard(it)
		return err
	}
	s.mu.Lock()
	s.be, s.bep = it, p
	s.mu.Unlock()
	return nil
}

// applyState gives a backend connection the session's settings: a
// connection with other settings is reset first (COM_RESET_CONNECTION).
func (s *session) applyState(be *pool.MySQLConn) error {
	if be.State == s.stateKey {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if be.State != "" {
		if err := be.Reset(ctx); err != nil {
			return sqlerr.Wrap(sqlerr.Unavailable, err, "cannot reset a backend connection of tenant %q", s.b.Tenant.ID)
		}
	}
	if s.stateKey != "" {
		if err := execInternal(ctx, be, s.stateKey); err != nil {
			var me *gmysql.MyError
			if errors.As(err, &me) {
				return sqlerr.Wrap(sqlerr.InvalidValue, err, "cannot restore a session setting on a backend connection: %s", me.Message)
			}
			return sqlerr.Wrap(sqlerr.Unavailable, err, "cannot restore session settings on a backend connection of tenant %q", s.b.Tenant.ID)
		}
	}
	be.State = s.stateKey
	return nil
}

// send writes one command packet to the backend.
func (s *session) send(p []byte) error {
	s.mu.Lock()
	s.busy = true
	s.mu.Unlock()
	be := s.be.Conn
	if err := pool.WriteMySQLPacket(be.W, 0, p); err != nil {
		return s.backendLost(err)
	}
	if err := be.W.Flush(); err != nil {
		return s.backendLost(err)
	}
	return nil
}

// keepSendBuf keeps the buffer of a command sent for the next one, unless
// it grew large (a big statement or long parameters).
func (s *session) keepSendBuf(b []byte) {
	if cap(b) > 64<<10 {
		s.sendBuf = nil
		return
	}
	s.sendBuf = b[:0]
}

// done marks the end of a command on the backend.
func (s *session) done() {
	s.mu.Lock()
	s.busy = false
	s.mu.Unlock()
}

// maybeRelease gives the backend back at the end of a transaction.
func (s *session) maybeRelease() {
	if s.be == nil || s.inTx() || s.pinned || s.holdWarn || s.longData || s.cursor {
		return
	}
	if s.bep.Config().Mode == pool.ModeSession {
		return
	}
	s.releaseBackend()
}

func (s *session) releaseBackend() {
	s.mu.Lock()
	it, p := s.be, s.bep
	s.be = nil
	s.mu.Unlock()
	if it.Conn.R.Buffered() > 0 {
		p.Discard(it)
		return
	}
	p.Release(it)
}

// dropBackend gives back the backend on a tenant switch: reset first when
// it holds state of the session's own.
func (s *session) dropBackend() {
	if s.be == nil {
		return
	}
	if s.pinned || s.longData || s.cursor {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.be.Conn.Reset(ctx)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.bep.Discard(s.be)
			s.be = nil
			s.mu.Unlock()
			return
		}
	}
	s.releaseBackend()
}

// end returns or discards the backend when the client goes away. A
// backend in the middle of a command is discarded; one in a transaction or
// holding pinned state is reset (COM_RESET_CONNECTION rolls back) before it
// goes back to the pool.
func (s *session) end() {
	if s.be == nil {
		return
	}
	s.mu.Lock()
	busy := s.busy
	s.mu.Unlock()
	if busy {
		s.mu.Lock()
		s.bep.Discard(s.be)
		s.be = nil
		s.mu.Unlock()
		return
	}
	if s.inTx() || s.pinned || s.longData || s.cursor || s.bep.Config().Mode == pool.ModeSession {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := s.be.Conn.Reset(ctx)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.bep.Discard(s.be)
			s.be = nil
			s.mu.Unlock()
			return
		}
	}
	s.releaseBackend()
}

// backendLost discards a broken backend; the client is told and closed.
func (s *session) backendLost(err error) error {
	s.mu.Lock()
	if s.be != nil {
		s.bep.Fail(s.be, err)
		s.be = nil
	}
	s.busy = false
	s.mu.Unlock()
	s.log.Warn("backend_lost", "error", err)
	return sqlerr.Wrap(sqlerr.Unavailable, err, "Lost connection to the backend of tenant %q", s.b.Tenant.ID)
}

// execInternal runs the proxy's own statements on a backend connection and
// discards their results; the first error is returned.
func execInternal(ctx context.Context, be *pool.MySQLConn, sql string) error {
	if d, ok := ctx.Deadline(); ok {
		_ = be.Conn.SetDeadline(d)
		defer func() { _ = be.Conn.SetDeadline(time.Time{}) }()
	}
	if err := pool.WriteMySQLPacket(be.W, 0, append([]byte{comQuery}, sql...)); err != nil {
		return err
	}
	if err := be.W.Flush(); err != nil {
		return err
	}
	var first error
	for {
		_, p, err := be.R.Next()
		if err != nil {
			return err
		}
		if len(p) == 0 {
			return errors.New("mysql: empty packet from backend")
		}
		switch p[0] {
		case 0x00:
			st := okStatus(p)
			if st&gmysql.SERVER_MORE_RESULTS_EXISTS == 0 {
				return first
			}
		case 0xff:
			if first == nil {
				first = pool.ParseMySQLError(p)
			}
			return first
		default:
			// A result set: skip to its final EOF.
			eofs := 0
			for eofs < 2 {
				_, p, err = be.R.Next()
				if err != nil {
					return err
				}
				if len(p) > 0 && p[0] == 0xff {
					return pool.ParseMySQLError(p)
				}
				if isEOF(p) {
					eofs++
					if eofs == 2 && eofStatus(p)&gmysql.SERVER_MORE_RESULTS_EXISTS == 0 {
						return first
					}
				}
			}
		}
	}
}
