// Package pg is tenantproxy's Postgres protocol (v3) front end: startup and
// TLS negotiation, SCRAM-SHA-256 authentication, the simple and extended
// query protocols, COPY, cancel requests and error encoding. Statements go
// through proxy for policy and backend pooling; backend messages are relayed
// frame by frame so results stream with bounded memory.
//
// Protocol reference: https://www.postgresql.org/docs/current/protocol-flow.html
package pg

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Startup request codes (https://www.postgresql.org/docs/current/protocol-message-formats.html).
const (
	codeSSLRequest    = 80877103
	codeGSSEncRequest = 80877104
	codeCancelRequest = 80877102
	protocolV3        = 3 << 16
	maxStartupLen     = 10000
	authTimeout       = 30 * time.Second
)

// Server accepts Postgres clients.
type Server struct {
	p    *proxy.Server
	tls  *tls.Config
	log  *slog.Logger
	seq  atomic.Uint64
	ln   proxy.Listener
	dumm scram.Verifier // verifier used to fail unknown users after a full exchange
	// names derives backend statement names (names.go).
	names stmtNames

	verifyToken      TokenFunc
	tokensOnLoopback bool
}

// TokenFunc checks an access token of the admin API and returns the user
// and tenant it was issued for.
type TokenFunc func(token string) (user, tenant string, err error)

// AcceptTokens lets clients give an access token of the admin API as their
// password. Tokens travel in clear, so the proxy asks for a cleartext
// password only over TLS, and on loopback connections when onLoopback is
// set; a cleartext password that is not a token is checked like any other.
func (s *Server) AcceptTokens(verify TokenFunc, onLoopback bool) {
	s.verifyToken, s.tokensOnLoopback = verify, onLoopback
}

// New returns a front end over p; tlsCfg may be nil (no TLS: SSLRequest gets 'N').
func New(p *proxy.Server, tlsCfg *tls.Config, log *slog.Logger) *Server {
	v, _ := scram.NewVerifier(fmt.Sprint(time.Now().UnixNano()), scram.DefaultIterations)
	return &Server{p: p, tls: tlsCfg, log: log.With("frontend", "postgres"), dumm: v, names: newStmtNames()}
}

// Serve accepts connections on ln until it is closed.
func (s *Server) Serve(ln net.Listener) error { return s.ln.Serve(ln, s.handle) }

// Wait waits for all client connections to end.
func (s *Server) Wait() { s.ln.Wait() }

// conn is one client connection during startup.
type conn struct {
	nc     net.Conn
	r      *reader
	w      *bufio.Writer // nil between answers (see writer)
	log    *slog.Logger  // the front end's; logger adds the connection's attributes
	id     uint64
	remote string // the client's address
}

// logger returns a logger with the connection's attributes. It is made
// for each message logged, which is rare: a logger kept per connection
// would cost an idle client more than its read and write buffers do.
func (c *conn) logger() *slog.Logger {
	return c.log.With("conn", c.id, "client", c.remote)
}

// clientWriteBuffer is the size of the write buffers of client connections.
const clientWriteBuffer = 32 * 1024

// clientWriters are the write buffers of client connections. A connection
// holds one only while it answers, so that idle connections (most of them,
// under transaction pooling) cost no write buffer.
var clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, clientWriteBuffer) }}

// writer returns the connection's write buffer, taking one if it holds
// none. It stays the connection's until flush.
func (c *conn) writer() *bufio.Writer {
	if c.w == nil {
		c.w = clientWriters.Get().(*bufio.Writer)
		c.w.Reset(c.nc)
	}
	return c.w
}

// flush sends what was written and gives the write buffer back. A buffer
// whose flush failed is dropped with the connection.
func (c *conn) flush() error {
	if c.w == nil {
		return nil
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	c.w.Reset(nil)
	clientWriters.Put(c.w)
	c.w = nil
	return nil
}

// idle gives back the buffers of a connection that has nothing to send and
// no unread bytes, before it waits for the client's next message. A body
// read before is no longer valid.
func (c *conn) idle() {
	if c.w != nil && c.w.Buffered() == 0 {
		_ = c.flush()
	}
	c.r.release()
}

func (c *conn) send(msgs ...pgproto3.BackendMessage) error {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			return err
		}
	}
	if _, err := c.writer().Write(buf); err != nil {
		return err
	}
	return c.flush()
}

// fatal sends err as a FATAL ErrorResponse.
func (c *conn) fatal(err error) {
	_ = c.send(errorResponse(err, "FATAL"))
}

func (s *Server) handle(nc net.Conn) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("connection_panic", "panic", fmt.Sprint(r))
		}
		_ = nc.Close()
	}()
	// The session runs from this shallow frame: an idle client's goroutine
	// waits with little of its stack in use, so that a stack grown while
	// answering can be shrunk by the collector (see session.run).
	if sess := s.open(nc); sess != nil {
		sess.run()
	}
}

// open runs the startup and authentication of a client connection and
// returns its session, or nil when the connection is to end (the client
// has been told why).
func (s *Server) open(nc net.Conn) *session {
	c := &conn{
		nc:     nc,
		r:      newClientReader(nc, s.p.MaxMessageSize()),
		log:    s.log,
		id:     s.seq.Add(1),
		remote: nc.RemoteAddr().String(),
	}
	_ = nc.SetDeadline(time.Now().Add(authTimeout))
	startup, err := s.negotiate(c)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, errQuiet) {
			if c.log.Enabled(ctxBackground, slog.LevelDebug) {
				c.logger().Debug("startup_failed", "error", err)
			}
			if sqlerr.As(err) != nil {
				s.p.Metrics.Error("", sqlState(err), err)
			}
			c.fatal(err)
		}
		return nil
	}
	b, err := s.authenticate(c, startup)
	if sqlerr.Is(err, sqlerr.AuthFailed) {
		s.p.LoginFailed("postgres", startup.Parameters["user"], nc.RemoteAddr().String())
	} else if err == nil {
		s.p.LoginSucceeded(b.User.Name)
	}
	if err != nil {
		c.logger().Info("auth_failed", "user", startup.Parameters["user"], "error", err)
		s.p.Metrics.Error("", sqlState(err), err)
		c.fatal(err)
		return nil
	}
	_ = nc.SetDeadline(time.Time{})
	proxy.Authenticated(nc)
	sess, err := newSession(s, c, b, startup.Parameters)
	if err != nil {
		s.p.Metrics.Error(b.Tenant.ID, sqlState(err), err)
		c.fatal(err)
		return nil
	}
	return sess
}

// errQuiet ends a connection without an error message (cancel requests).
var errQuiet = errors.New("quiet close")

// negotiate handles SSLRequest, GSSENCRequest and CancelRequest until the
// StartupMessage arrives.
func (s *Server) negotiate(c *conn) (*pgproto3.StartupMessage, error) {
	tlsDone := false
	for {
		var lenb [4]byte
		if err := c.r.readFull(lenb[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint32(lenb[:])) - 4
		if n < 4 || n > maxStartupLen {
			return nil, sqlerr.New(sqlerr.Protocol, "invalid startup packet length %d", n+4)
		}
		body, err := c.r.body(n)
		if err != nil {
			return nil, err
		}
		code := binary.BigEndian.Uint32(body[:4])
		switch code {
		case codeSSLRequest:
			if tlsDone {
				return nil, sqlerr.New(sqlerr.Protocol, "SSLRequest received twice")
			}
			if s.tls == nil {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return nil, err
				}
				continue
			}
			if c.r.buffered() > 0 {
				return nil, sqlerr.New(sqlerr.Protocol, "data received before the TLS handshake")
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return nil, err
			}
			tc := tls.Server(c.nc, s.tls)
			if err := tc.Handshake(); err != nil {
				return nil, fmt.Errorf("%w: tls handshake: %v", errQuiet, err)
			}
			c.nc = tc
			c.r.reset(tc)
			tlsDone = true
		case codeGSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case codeCancelRequest:
			var m pgproto3.CancelRequest
			if err := m.Decode(body); err == nil && len(m.SecretKey) == 4 {
				s.p.Cancel(m.ProcessID, binary.BigEndian.Uint32(m.SecretKey))
			}
			return nil, errQuiet
		default:
			if code>>16 != 3 {
				return nil, sqlerr.New(sqlerr.Unsupported, "unsupported frontend protocol %d.%d: the proxy speaks 3.0", code>>16, code&0xffff)
			}
			if code != protocolV3 {
				// A newer 3.x client: answer that we speak 3.0; it carries on.
				binary.BigEndian.PutUint32(body[:4], protocolV3)
				if err := c.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0}); err != nil {
					return nil, err
				}
			}
			var m pgproto3.StartupMessage
			if err := m.Decode(body); err != nil {
				return nil, sqlerr.New(sqlerr.Protocol, "invalid startup packet: %v", err)
			}
			return &m, nil
		}
	}
}

// authenticate runs SCRAM-SHA-256 and binds the session to its tenant.
func (s *Server) authenticate(c *conn, m *pgproto3.StartupMessage) (*proxy.Binding, error) {
	userName := m.Parameters["user"]
	if userName == "" {
		return nil, sqlerr.New(sqlerr.AuthFailed, "no user name given in the startup packet")
	}
	if m.Parameters["replication"] != "" && m.Parameters["replication"] != "false" {
		return nil, sqlerr.New(sqlerr.Unsupported, "replication connections are not supported by the proxy")
	}
	if err := s.p.LoginAllowed("postgres", userName, c.nc.RemoteAddr().String()); err != nil {
		return nil, err
	}
	u, known := s.p.User(userName)
	v := s.dumm
	if known {
		v = u.Verifier
	}
	authFailed := sqlerr.New(sqlerr.AuthFailed, "password authentication failed for user %q", userName)
	if s.verifyToken != nil && (isTLS(c.nc) || s.tokensOnLoopback && isLoopback(c.nc)) {
		return s.authenticateCleartext(c, m, u, v, authFailed)
	}
	if err := c.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scram.Mechanism}}); err != nil {
		return nil, err
	}
	typ, body, err := c.r.next()
	if err != nil {
		return nil, err
	}
	if typ != 'p' {
		return nil, sqlerr.New(sqlerr.Protocol, "expected SASLInitialResponse, got message type %q", typ)
	}
	var init pgproto3.SASLInitialResponse
	if err := init.Decode(body); err != nil {
		return nil, sqlerr.New(sqlerr.Protocol, "invalid SASLInitialResponse: %v", err)
	}
	if init.AuthMechanism != scram.Mechanism {
		return nil, sqlerr.New(sqlerr.Protocol, "unsupported SASL mechanism %q: use SCRAM-SHA-256", init.AuthMechanism)
	}
	conv := scram.NewConversation(v)
	first, err := conv.First(init.Data)
	if err != nil {
		return nil, sqlerr.Wrap(sqlerr.Protocol, err, "invalid SCRAM client-first-message: %v", err)
	}
	if err := c.send(&pgproto3.AuthenticationSASLContinue{Data: first}); err != nil {
		return nil, err
	}
	typ, body, err = c.r.next()
	if err != nil {
		return nil, err
	}
	if typ != 'p' {
		return nil, sqlerr.New(sqlerr.Protocol, "expected SASLResponse, got message type %q", typ)
	}
	var resp pgproto3.SASLResponse
	if err := resp.Decode(body); err != nil {
		return nil, sqlerr.New(sqlerr.Protocol, "invalid SASLResponse: %v", err)
	}
	final, err := conv.Final(resp.Data)
	if err != nil || !known {
		return nil, authFailed
	}
	if err := c.send(&pgproto3.AuthenticationSASLFinal{Data: final}); err != nil {
		return nil, err
	}
	return s.p.Bind(u, m.Parameters["database"], proxy.EnginePostgres)
}

// authenticateCleartext asks for the password in clear and accepts either
// the user's password or an access token issued to that user.
func (s *Server) authenticateCleartext(c *conn, m *pgproto3.StartupMessage, u *proxy.User, v scram.Verifier, authFailed error) (*proxy.Binding, error) {
	if err := c.send(&pgproto3.AuthenticationCleartextPassword{}); err != nil {
		return nil, err
	}
	typ, body, err := c.r.next()
	if err != nil {
		return nil, err
	}
	if typ != 'p' {
		return nil, sqlerr.New(sqlerr.Protocol, "expected PasswordMessage, got message type %q", typ)
	}
	var pm pgproto3.PasswordMessage
	if err := pm.Decode(body); err != nil {
		return nil, sqlerr.New(sqlerr.Protocol, "invalid PasswordMessage: %v", err)
	}
	tenant := m.Parameters["database"]
	if looksLikeToken(pm.Password) {
		user, tokTenant, err := s.verifyToken(pm.Password)
		if err != nil || u == nil || user != u.Name {
			return nil, authFailed
		}
		if tenant == "" {
			tenant = tokTenant
		}
		if tokTenant != tenant {
			return nil, sqlerr.New(sqlerr.NoRoleOnTenant, "the access token was issued for another tenant than %q", tenant)
		}
	} else if !v.Check(pm.Password) || u == nil {
		return nil, authFailed
	}
	// AuthenticationOk follows with the rest of the greeting.
	return s.p.Bind(u, tenant, proxy.EnginePostgres)
}

// looksLikeToken reports whether a password has the shape of a JWT.
func looksLikeToken(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

func isTLS(nc net.Conn) bool {
	_, ok := nc.(*tls.Conn)
	return ok
}

func isLoopback(nc net.Conn) bool {
	a, ok := nc.RemoteAddr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// sqlState is the SQLSTATE err is reported with.
func sqlState(err error) string {
	if e := sqlerr.As(err); e != nil {
		return e.SQLState()
	}
	return "XX000"
}

// errorResponse encodes err for the client.
func errorResponse(err error, severity string) *pgproto3.ErrorResponse {
	e := sqlerr.As(err)
	if e == nil {
		e = sqlerr.Wrap(sqlerr.Internal, err, "internal error: %v", err)
	}
	return &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                e.SQLState(),
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
	}
}

// ctxBackground is the context of backend I/O not tied to a statement.
var ctxBackground = context.Background()
