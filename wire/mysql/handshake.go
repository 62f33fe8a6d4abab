package mysql

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Authentication plugins.
const (
	pluginNative      = "mysql_native_password"
	pluginCachingSHA2 = "caching_sha2_password"
	pluginClear       = "mysql_clear_password"
)

// greetingPlugin is the plugin the initial handshake proposes, as MariaDB
// servers (and MySQL 5.7, whose version the proxy announces) do. Every
// client speaks it; a client that prefers caching_sha2_password answers with
// that plugin's name and is switched to it (see authenticate). Proposing
// caching_sha2_password instead, as MySQL 8 does, breaks stock MariaDB
// clients over plain TCP: Connector/C with its default ssl=on sends the
// password in clear text at full authentication, and Connector/J refuses to
// fetch the RSA key without allowPublicKeyRetrieval.
const greetingPlugin = pluginNative

// handshakeResponse is the decoded HandshakeResponse41.
type handshakeResponse struct {
	caps      uint32
	collation uint8
	user      string
	auth      []byte
	db        string
	plugin    string
	ssl       bool // an SSLRequest (the short packet before TLS)
}

// handshakeResult is what the connection phase hands the session.
type handshakeResult struct {
	binding   *proxy.Binding
	caps      uint32
	collation uint8
	tls       bool
}

// scramble returns 20 random bytes without NUL or '$', as MySQL servers send.
func scramble() []byte {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] &= 0x7f
		if b[i] == 0 || b[i] == '$' {
			b[i] = 'x'
		}
	}
	return b
}

// initialHandshake builds Protocol::HandshakeV10.
func initialHandshake(version string, id uint32, salt []byte, caps uint32) []byte {
	p := make([]byte, 0, 128)
	p = append(p, 10)
	p = append(p, version...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint32(p, id)
	p = append(p, salt[:8]...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, serverCollation)
	p = binary.LittleEndian.AppendUint16(p, gmysql.SERVER_STATUS_AUTOCOMMIT)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, byte(len(salt)+1))
	p = append(p, make([]byte, 10)...)
	p = append(p, salt[8:]...)
	p = append(p, 0)
	p = append(p, greetingPlugin...)
	p = append(p, 0)
	return p
}

// parseHandshakeResponse decodes a HandshakeResponse41 or SSLRequest. Every
// read is bounds-checked: a malformed packet is a protocol error.
func parseHandshakeResponse(p []byte) (*handshakeResponse, error) {
	bad := func(what string) error {
		return sqlerr.New(sqlerr.Protocol, "Bad handshake: %s", what)
	}
	if len(p) < 32 {
		return nil, bad("packet too short")
	}
	h := &handshakeResponse{caps: binary.LittleEndian.Uint32(p), collation: p[8]}
	if h.caps&gmysql.CLIENT_PROTOCOL_41 == 0 {
		return nil, sqlerr.New(sqlerr.Unsupported, "the proxy needs a client speaking protocol 4.1")
	}
	if len(p) == 32 {
		if h.caps&gmysql.CLIENT_SSL == 0 {
			return nil, bad("packet too short")
		}
		h.ssl = true
		return h, nil
	}
	pos := 32
	cstr := func() (string, bool) {
		i := bytes.IndexByte(p[pos:], 0)
		if i < 0 {
			return "", false
		}
		s := string(p[pos : pos+i])
		pos += i + 1
		return s, true
	}
	var ok bool
	if h.user, ok = cstr(); !ok {
		return nil, bad("user name not terminated")
	}
	switch {
	case h.caps&gmysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0:
		n, isNull, k := lenencInt(p[pos:])
		if k == 0 || isNull || n > uint64(len(p)-pos-k) {
			return nil, bad("invalid auth data length")
		}
		pos += k
		h.auth = append([]byte(nil), p[pos:pos+int(n)]...)
		pos += int(n)
	case h.caps&gmysql.CLIENT_SECURE_CONNECTION != 0:
		if pos >= len(p) {
			return nil, bad("missing auth data length")
		}
		n := int(p[pos])
		pos++
		if n > len(p)-pos {
			return nil, bad("invalid auth data length")
		}
		h.auth = append([]byte(nil), p[pos:pos+n]...)
		pos += n
	default:
		s, ok := cstr()
		if !ok {
			return nil, bad("auth data not terminated")
		}
		h.auth = []byte(s)
	}
	if h.caps&gmysql.CLIENT_CONNECT_WITH_DB != 0 && pos < len(p) {
		if h.db, ok = cstr(); !ok {
			return nil, bad("database name not terminated")
		}
	}
	if h.caps&gmysql.CLIENT_PLUGIN_AUTH != 0 && pos < len(p) {
		if h.plugin, ok = cstr(); !ok {
			// Some old clients omit the terminator at the end of the packet.
			h.plugin = string(p[pos:])
			pos = len(p)
		}
	}
	if h.plugin == "" {
		h.plugin = pluginNative
	}
	// Connection attributes (CLIENT_CONNECT_ATTRS) follow; the proxy does
	// not use them.
	return h, nil
}

// bufferedConn reads through the bufio.Reader that may hold bytes already
// read from the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// handshake runs the connection phase: greeting, optional TLS, the auth
// exchange and the tenant binding, up to the final OK.
func (s *Server) handshake(c *conn, id uint32) (*handshakeResult, error) {
	caps := uint32(serverCaps)
	if s.tls != nil {
		caps |= gmysql.CLIENT_SSL
	}
	salt := scramble()
	c.seq = 0
	if err := c.write(initialHandshake(s.greetingVersion(), id, salt, caps)); err != nil {
		return nil, err
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	p, err := c.read()
	if err != nil {
		return nil, err
	}
	h, err := parseHandshakeResponse(p)
	if err != nil {
		return nil, err
	}
	isTLS := false
	if h.ssl {
		if s.tls == nil {
			return nil, sqlerr.New(sqlerr.Protocol, "SSL connection requested but the proxy has no TLS configured")
		}
		// The client sends its TLS ClientHello right after the SSLRequest
		// (there is no answer to wait for): it may already be buffered.
		tc := tls.Server(&bufferedConn{Conn: c.nc, r: c.br}, s.tls)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("%w: tls handshake: %v", errQuiet, err)
		}
		c.nc = tc
		c.br = bufio.NewReaderSize(tc, clientReadBuffer)
		c.r = pool.NewPacketReader(c.br, maxHandshakePacket)
		if err := c.flush(); err != nil { // nothing is pending: the greeting went out
			return nil, err
		}
		isTLS = true
		if p, err = c.read(); err != nil {
			return nil, err
		}
		if h, err = parseHandshakeResponse(p); err != nil {
			return nil, err
		}
		if h.ssl {
			return nil, sqlerr.New(sqlerr.Protocol, "SSLRequest received twice")
		}
	}
	if h.caps&gmysql.CLIENT_SECURE_CONNECTION == 0 {
		return nil, sqlerr.New(sqlerr.Unsupported, "the proxy needs a client supporting CLIENT_SECURE_CONNECTION")
	}
	if h.user == "" {
		return nil, sqlerr.New(sqlerr.AuthFailed, "Access denied: no user name given")
	}
	if !safeCharset(h.collation) {
		return nil, sqlerr.New(sqlerr.Unsupported, "the character set of collation %d is not supported by the proxy: use utf8mb4", h.collation)
	}
	if err := s.p.LoginAllowed("mysql", h.user, c.nc.RemoteAddr().String()); err != nil {
		return nil, err
	}
	u, known := s.p.User(h.user)
	tokTenant, err := s.authenticate(c, h, u, known, salt, isTLS)
	if err != nil {
		if sqlerr.Is(err, sqlerr.AuthFailed) {
			s.p.LoginFailed("mysql", h.user, c.nc.RemoteAddr().String())
		}
		c.log.Info("auth_failed", "user", h.user, "error", err)
		return nil, err
	}
	s.p.LoginSucceeded(h.user)
	if tokTenant != "" {
		if h.db == "" {
			h.db = tokTenant
		} else if h.db != tokTenant {
			return nil, sqlerr.New(sqlerr.NoRoleOnTenant, "Access denied: the access token was issued for another tenant than '%s'", h.db)
		}
	}
	b, err := s.p.Bind(u, h.db, proxy.EngineMySQL)
	if err != nil {
		return nil, err
	}
	return &handshakeResult{binding: b, caps: h.caps & caps, collation: h.collation, tls: isTLS}, nil
}

// safeCharset reports whether the proxy's parser reads text in the
// character set of collation id as the server will: multibyte sets such as
// gbk, big5 and sjis can hide a quote or backslash byte inside a character.
func safeCharset(id uint8) bool {
	if id == 0 {
		return true
	}
	coll, err := charset.GetCollationByID(int(id))
	if err != nil || coll == nil {
		return false
	}
	switch strings.ToLower(coll.CharsetName) {
	case "utf8", "utf8mb3", "utf8mb4", "latin1", "ascii", "binary":
		return true
	}
	return false
}

// authenticate runs the auth exchange as MariaDB and MySQL servers do for an
// account whose plugin is the one the client chose (the proxy holds the
// password and can check either):
//
//   - mysql_native_password and caching_sha2_password are used as the client
//     sent them. A client whose plugin is not the greeting's sends no data
//     for it (libmysqlclient and Connector/C: the greeting's scramble "was
//     prepared for a different plugin") and waits for an AuthSwitchRequest to
//     its own plugin, which the proxy sends.
//   - mysql_clear_password is accepted over TLS only; without TLS, and for any
//     other plugin, the client is switched to mysql_native_password.
//   - Over TLS, when a native scramble does not prove the password (it may be
//     an access token of the admin API, or the user may have only a SCRAM
//     verifier), the client is switched to caching_sha2_password, whose full
//     authentication sends the password itself over TLS. Unknown users and
//     wrong passwords take the same way before they are denied.
//
// It returns the tenant of an access token given as the password.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods.html
func (s *Server) authenticate(c *conn, h *handshakeResponse, u *proxy.User, known bool, salt []byte, isTLS bool) (string, error) {
	l := &login{s: s, c: c, h: h, u: u, known: known, salt: salt, tls: isTLS}
	plugin, data := h.plugin, h.auth
	var err error
	switch plugin {
	case pluginNative, pluginCachingSHA2:
		if plugin != greetingPlugin && len(data) == 0 {
			data, err = l.switchTo(plugin)
		}
	case pluginClear:
		if !isTLS {
			plugin = pluginNative
			data, err = l.switchTo(plugin)
		}
	default:
		plugin = pluginNative
		data, err = l.switchTo(plugin)
	}
	if err != nil {
		return "", err
	}
	switch plugin {
	case pluginNative:
		tenant, err := l.verify(credential{plugin: pluginNative, data: data})
		// Every user is asked again, known or not, so that the exchange
		// does not tell which user names exist.
		if err != nil && isTLS && !l.switched && len(data) > 0 && h.caps&gmysql.CLIENT_PLUGIN_AUTH != 0 {
			if data, err = l.switchTo(pluginCachingSHA2); err != nil {
				return "", err
			}
			return l.cachingSHA2(data)
		}
		return tenant, err
	case pluginClear:
		return l.verify(credential{clear: true, data: bytes.TrimRight(data, "\x00")})
	}
	return l.cachingSHA2(data)
}

// login is the state of one auth exchange.
type login struct {
	s        *Server
	c        *conn
	h        *handshakeResponse
	u        *proxy.User
	known    bool
	salt     []byte
	tls      bool
	switched bool
}

// credential is what the client sent to prove its password: a scramble over
// the connection's salt, or (clear) the password itself.
type credential struct {
	plugin string
	clear  bool
	data   []byte
}

// plain is the user's clear-text password from the config, or "".
func (l *login) plain() string {
	if !l.known {
		return ""
	}
	return l.u.Plain
}

// denied is the error for a password that does not hold (or an unknown user).
func (l *login) denied(data []byte) error {
	using := "YES"
	if len(data) == 0 {
		using = "NO"
	}
	return sqlerr.New(sqlerr.AuthFailed, "Access denied for user '%s' (using password: %s)", l.h.user, using)
}

// verify is the one place a MySQL login's secret is checked: a scramble
// (mysql_native_password, the caching_sha2_password fast path) against the
// configured clear-text password, or a password received whole (over TLS or
// RSA-encrypted) against the password, the SCRAM verifier or, over TLS, as
// an access token. It returns the tenant of an access token.
func (l *login) verify(cr credential) (string, error) {
	plain := l.plain()
	if !cr.clear {
		if plain == "" {
			if l.known {
				return "", sqlerr.New(sqlerr.AuthFailed,
					"Access denied for user '%s': the user has only a SCRAM-SHA-256 verifier in the proxy config, and MySQL authentication without TLS (mysql_native_password, caching_sha2_password) needs the password in clear text there", l.h.user)
			}
			_ = gmysql.CalcPassword(l.salt, l.salt) // as long as a known user's check
			return "", l.denied(cr.data)
		}
		var want []byte
		if cr.plugin == pluginNative {
			want = gmysql.CalcPassword(l.salt, []byte(plain))
		} else {
			want = gmysql.CalcCachingSha2Password(l.salt, plain)
		}
		if len(cr.data) == 0 || subtle.ConstantTimeCompare(want, cr.data) != 1 {
			return "", l.denied(cr.data)
		}
		return "", nil
	}
	pw := string(cr.data)
	if l.tls && l.s.verifyToken != nil && strings.HasPrefix(pw, "eyJ") && strings.Count(pw, ".") == 2 {
		user, tenant, err := l.s.verifyToken(pw)
		if err != nil || !l.known || user != l.u.Name {
			return "", l.denied(cr.data)
		}
		return tenant, nil
	}
	if plain == "" {
		// CheckPassword runs a dummy verifier for unknown users: the time
		// taken does not tell which user names exist.
		if l.s.p.CheckPassword(l.u, pw) && l.known && pw != "" {
			return "", nil
		}
		return "", l.denied(cr.data)
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(plain)) != 1 {
		return "", l.denied(cr.data)
	}
	return "", nil
}

// switchTo sends an AuthSwitchRequest to plugin with the connection's
// scramble and returns the client's answer. A client without
// CLIENT_PLUGIN_AUTH cannot switch: it gets the error a server sends.
func (l *login) switchTo(plugin string) ([]byte, error) {
	if l.h.caps&gmysql.CLIENT_PLUGIN_AUTH == 0 || l.switched {
		return nil, sqlerr.New(sqlerr.AuthMode, "Client does not support authentication protocol requested by server; consider upgrading MySQL client")
	}
	l.switched = true
	sw := append([]byte{0xfe}, plugin...)
	sw = append(sw, 0)
	sw = append(sw, l.salt...)
	sw = append(sw, 0)
	if err := l.c.write(sw); err != nil {
		return nil, err
	}
	if err := l.c.flush(); err != nil {
		return nil, err
	}
	p, err := l.c.read()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), p...), nil
}

// cachingSHA2 finishes caching_sha2_password from the client's scramble:
// the fast path when the user's hash is cached and the scramble matches,
// else full authentication,
// in which the client sends its password over TLS, or RSA-encrypted with
// the proxy's public key (which it may ask for first).
func (l *login) cachingSHA2(data []byte) (string, error) {
	if len(data) == 0 {
		return "", l.denied(data)
	}
	plain := l.plain()
	want := sha256.Sum256([]byte(plain))
	want = sha256.Sum256(want[:])
	l.s.shaMu.Lock()
	cached, ok := l.s.shaCache[l.h.user]
	l.s.shaMu.Unlock()
	if ok && plain != "" && cached == want {
		if _, err := l.verify(credential{plugin: pluginCachingSHA2, data: data}); err == nil {
			return "", l.c.write([]byte{0x01, 0x03})
		}
	}
	// Not cached, or the scramble does not match (a wrong password, or an
	// access token over TLS): full authentication, whether the user is
	// known, cached or not, so that the exchange tells nothing about them.
	if err := l.c.write([]byte{0x01, 0x04}); err != nil {
		return "", err
	}
	if err := l.c.flush(); err != nil {
		return "", err
	}
	p, err := l.c.read()
	if err != nil {
		return "", err
	}
	var pw []byte
	if l.tls {
		pw = bytes.TrimRight(p, "\x00")
	} else {
		key, keyPEM, err := l.s.rsaKey()
		if err != nil {
			return "", sqlerr.Wrap(sqlerr.Internal, err, "cannot create the RSA key for caching_sha2_password")
		}
		if len(p) == 1 && p[0] == 0x02 {
			if err := l.c.write(append([]byte{0x01}, keyPEM...)); err != nil {
				return "", err
			}
			if err := l.c.flush(); err != nil {
				return "", err
			}
			if p, err = l.c.read(); err != nil {
				return "", err
			}
		}
		if len(p) != key.Size() {
			// Not RSA-encrypted: a client that believes the connection
			// secure (Connector/C with ssl on against a server without
			// TLS) sent its password in clear text. A server refuses it.
			return "", sqlerr.New(sqlerr.AuthMode,
				"Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection (connect with TLS, or let the client request the server's public key)")
		}
		dec, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, key, p, nil)
		if err != nil {
			return "", l.denied(p)
		}
		for i := range dec {
			dec[i] ^= l.salt[i%len(l.salt)]
		}
		pw = bytes.TrimRight(dec, "\x00")
	}
	tenant, err := l.verify(credential{clear: true, data: pw})
	if err != nil {
		return "", err
	}
	if tenant == "" && plain != "" {
		l.s.shaMu.Lock()
		l.s.shaCache[l.h.user] = want
		l.s.shaMu.Unlock()
	}
	return tenant, nil
}
