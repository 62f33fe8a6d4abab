// Package mysql is tenantproxy's MySQL protocol front end: the connection
// phase (handshake, TLS, mysql_native_password and caching_sha2_password
// authentication), the command phase (COM_QUERY with multiple statements,
// prepared statements, COM_FIELD_LIST, COM_PING, COM_RESET_CONNECTION,
// COM_SET_OPTION, COM_QUIT), KILL QUERY, and error encoding with MySQL error
// numbers and SQLSTATEs. Statements go through proxy for policy and backend
// pooling; backend packets are relayed one by one so results stream with
// bounded memory.
//
// It uses go-mysql's protocol package (constants, scrambles, error type)
// and its client for backend connections, but its own packet framing and
// command loop rather than go-mysql's server.Conn, which buffers whole
// result sets, cannot advertise CLIENT_MULTI_STATEMENTS, always switches
// clients to one auth method and reads packets of any size.
//
// Protocol reference:
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basics.html
package mysql

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// ServerVersion is the version string sent in the handshake before any
// MySQL backend connection told the proxy what the backends run. 5.7.19 is
// the last version before MySQL 5.7.20 renamed tx_isolation, so drivers
// ask for the variable MariaDB 10.x and MySQL 5.7 both have; once a backend
// was reached the greeting carries its own version (greetingVersion).
const ServerVersion = "5.7.19-tenantproxy"

// greetingVersion is the version the handshake announces: the backends'
// own, as the last backend connection reported it.
func (s *Server) greetingVersion() string {
	if v := s.p.MySQLServerVersion(); v != "" {
		return v
	}
	return ServerVersion
}

const (
	authTimeout = 30 * time.Second
	// maxHandshakePacket bounds packets before authentication.
	maxHandshakePacket = 64 * 1024
	// serverCollation is announced in the handshake (utf8mb4_general_ci).
	serverCollation = 45
)

// serverCaps are the capabilities the proxy offers. Not offered: compression,
// LOCAL INFILE, CLIENT_DEPRECATE_EOF (backends are opened without it and
// packets are relayed unchanged), session tracking, query attributes,
// CLIENT_FOUND_ROWS (it is a backend connection property).
const serverCaps = gmysql.CLIENT_LONG_PASSWORD | gmysql.CLIENT_LONG_FLAG | gmysql.CLIENT_CONNECT_WITH_DB |
	gmysql.CLIENT_PROTOCOL_41 | gmysql.CLIENT_INTERACTIVE | gmysql.CLIENT_TRANSACTIONS |
	gmysql.CLIENT_SECURE_CONNECTION | gmysql.CLIENT_MULTI_STATEMENTS | gmysql.CLIENT_MULTI_RESULTS |
	gmysql.CLIENT_PS_MULTI_RESULTS | gmysql.CLIENT_PLUGIN_AUTH | gmysql.CLIENT_CONNECT_ATTRS |
	gmysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | gmysql.CLIENT_IGNORE_SPACE

// Server accepts MySQL clients.
type Server struct {
	p   *proxy.Server
	tls *tls.Config
	log *slog.Logger
	ln  proxy.Listener

	verifyToken func(token string) (user, tenant string, err error)
	next        atomic.Uint32

	sessMu   sync.Mutex
	sessions map[uint32]*session // proxy connection id -> session, for KILL

	// shaCache holds SHA256(SHA256(password)) of users who completed a
	// caching_sha2_password full authentication: their next logins take the
	// fast path, as in MySQL.
	shaMu    sync.Mutex
	shaCache map[string][32]byte

	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyPEM  []byte
	keyErr  error
}

// New returns a front end over p; tlsCfg may be nil (no TLS offered).
func New(p *proxy.Server, tlsCfg *tls.Config, log *slog.Logger) *Server {
	s := &Server{
		p:        p,
		tls:      tlsCfg,
		log:      log.With("frontend", "mysql"),
		sessions: make(map[uint32]*session),
		shaCache: make(map[string][32]byte),
	}
	p.SetKillFunc(s.killLocal)
	return s
}

// killLocal kills (the statement of) this front end's connection id when it
// belongs to user on tenant, for a KILL another proxy of the fleet
// forwarded; it reports whether it did.
func (s *Server) killLocal(id uint32, user, tenant string, query bool) bool {
	s.sessMu.Lock()
	t := s.sessions[id]
	s.sessMu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	same := t.b.User.Name == user && t.b.Tenant.ID == tenant
	t.mu.Unlock()
	if !same {
		return false
	}
	if query {
		t.killQuery()
	} else {
		_ = t.c.nc.Close()
	}
	return true
}

// AcceptTokens lets clients give an access token of the admin API as their
// password with mysql_clear_password, which the proxy accepts over TLS only.
// verify returns the user and tenant the token was issued for.
func (s *Server) AcceptTokens(verify func(token string) (user, tenant string, err error)) {
	s.verifyToken = verify
}

// Serve accepts connections on ln until it is closed.
func (s *Server) Serve(ln net.Listener) error { return s.ln.Serve(ln, s.handle) }

// Wait waits for all client connections to end.
func (s *Server) Wait() { s.ln.Wait() }

// rsaKey returns the key pair for caching_sha2_password's RSA exchange:
// the TLS certificate's RSA key when there is one, else a key generated
// once per process.
func (s *Server) rsaKey() (*rsa.PrivateKey, []byte, error) {
	s.keyOnce.Do(func() {
		if s.tls != nil {
			for _, c := range s.tls.Certificates {
				if k, ok := c.PrivateKey.(*rsa.PrivateKey); ok {
					s.key = k
					break
				}
			}
		}
		if s.key == nil {
			s.key, s.keyErr = rsa.GenerateKey(rand.Reader, 2048)
			if s.keyErr != nil {
				return
			}
		}
		der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
		if err != nil {
			s.keyErr = err
			return
		}
		s.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	})
	return s.key, s.keyPEM, s.keyErr
}

// conn is one client connection's framing.
type conn struct {
	nc  net.Conn
	r   *pool.PacketReader
	br  *bufio.Reader
	w   *bufio.Writer // nil between responses (see write)
	seq byte
	log *slog.Logger
}

// clientReadBuffer is the read buffer of a client connection: commands are
// small, and a large one is read past the buffer, straight into the packet.
const clientReadBuffer = 4 * 1024

// writers are the write buffers of client connections. A connection holds
// one only while it answers a command, so that idle connections (most of
// them, under transaction pooling) cost no write buffer.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32*1024) }}

func newConn(nc net.Conn, max int) *conn {
	br := bufio.NewReaderSize(nc, clientReadBuffer)
	return &conn{nc: nc, br: br, r: pool.NewPacketReader(br, max)}
}

// read reads the next client packet and checks its sequence id.
func (c *conn) read() ([]byte, error) {
	seq, p, err := c.r.Next()
	if err != nil {
		if errors.Is(err, pool.ErrPacketTooLarge) {
			return nil, sqlerr.Wrap(sqlerr.Protocol, err, "Got a packet bigger than the proxy's maximum message size")
		}
		return nil, err
	}
	if seq != c.seq {
		return nil, sqlerr.New(sqlerr.Protocol, "Got packets out of order (sequence %d, expected %d)", seq, c.seq)
	}
	c.seq++
	return p, nil
}

// write buffers one packet, taking a write buffer if the connection holds
// none.
func (c *conn) write(payload []byte) error {
	if c.w == nil {
		c.w = writers.Get().(*bufio.Writer)
		c.w.Reset(c.nc)
	}
	if err := pool.WriteMySQLPacket(c.w, c.seq, payload); err != nil {
		return err
	}
	c.seq += byte(pool.MySQLPacketCount(len(payload)))
	return nil
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
	writers.Put(c.w)
	c.w = nil
	return nil
}

// writeErr sends err as an ERR packet and flushes.
func (c *conn) writeErr(err error) error {
	if werr := c.write(errPacket(err)); werr != nil {
		return werr
	}
	return c.flush()
}

func (s *Server) handle(nc net.Conn) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("connection_panic", "panic", fmt.Sprint(r))
		}
		_ = nc.Close()
	}()
	id := s.p.NewConnID(s.next.Add(1))
	c := newConn(nc, maxHandshakePacket)
	c.log = s.log.With("conn", id, "client", nc.RemoteAddr().String())
	_ = nc.SetDeadline(time.Now().Add(authTimeout))
	hs, err := s.handshake(c, id)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, errQuiet) {
			c.log.Debug("handshake_failed", "error", err)
			if sqlerr.As(err) != nil {
				s.p.Metrics.Error("", mysqlState(err), err)
				_ = c.writeErr(err)
			}
		}
		return
	}
	_ = nc.SetDeadline(time.Time{})
	proxy.Authenticated(nc)
	c.r = pool.NewPacketReader(c.br, s.p.MaxMessageSize())
	sess := newSession(s, c, id, hs)
	sess.run()
}

// errQuiet ends a connection without an error message.
var errQuiet = errors.New("quiet close")
