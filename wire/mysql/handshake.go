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
func initialHandshake(id uint32, salt []byte, caps uint32) []byte {
	p := make([]byte, 0, 128)
	p = append(p, 10)
	p = append(p, ServerVersion...)
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
	p = append(p, pluginCachingSHA2...)
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
	if err := c.write(initialHandshake(id, salt, caps)); err != nil {
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
		c.br = bufio.NewReaderSize(tc, 16*1024)
		c.r = pool.NewPacketReader(c.br, maxHandshakePacket)
		c.w = bufio.NewWriterSize(tc, 32*1024)
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

// authenticate verifies the client's password with the plugin it chose
// (switching it to caching_sha2_password when that plugin is not one the
// proxy speaks). Users need a clear-text password in the config: MySQL's
// scrambles cannot be checked against a SCRAM verifier. Over TLS, a
// mysql_clear_password may be an access token of the admin API; the tenant
// it was issued for is returned.
func (s *Server) authenticate(c *conn, h *handshakeResponse, u *proxy.User, known bool, salt []byte, isTLS bool) (string, error) {
	denied := func() error {
		using := "YES"
		if len(h.auth) == 0 {
			using = "NO"
		}
		return sqlerr.New(sqlerr.AuthFailed, "Access denied for user '%s' (using password: %s)", h.user, using)
	}
	plugin, data := h.plugin, h.auth
	switch plugin {
	case pluginNative, pluginCachingSHA2:
	case pluginClear:
		if !isTLS {
			plugin = ""
		}
	default:
		plugin = ""
	}
	if plugin == "" {
		// AuthSwitchRequest to caching_sha2_password with a fresh scramble.
		salt2 := scramble()
		copy(salt, salt2)
		sw := append([]byte{0xfe}, pluginCachingSHA2...)
		sw = append(sw, 0)
		sw = append(sw, salt...)
		sw = append(sw, 0)
		if err := c.write(sw); err != nil {
			return "", err
		}
		if err := c.flush(); err != nil {
			return "", err
		}
		p, err := c.read()
		if err != nil {
			return "", err
		}
		plugin, data = pluginCachingSHA2, append([]byte(nil), p...)
	}
	plain := ""
	hasPlain := known && u.Plain != ""
	if hasPlain {
		plain = u.Plain
	}
	noPlain := func() error {
		return sqlerr.New(sqlerr.AuthFailed,
			"Access denied for user '%s': the user has only a SCRAM-SHA-256 verifier in the proxy config, and MySQL authentication (mysql_native_password, caching_sha2_password) needs the password in clear text there", h.user)
	}
	switch plugin {
	case pluginNative:
		if !hasPlain {
			if known {
				return "", noPlain()
			}
			_ = gmysql.CalcPassword(salt, salt) // as long as a known user's check
			return "", denied()
		}
		if subtle.ConstantTimeCompare(gmysql.CalcPassword(salt, []byte(plain)), data) != 1 {
			return "", denied()
		}
		return "", nil
	case pluginClear:
		pw := string(bytes.TrimRight(data, "\x00"))
		if s.verifyToken != nil && strings.HasPrefix(pw, "eyJ") && strings.Count(pw, ".") == 2 {
			user, tenant, err := s.verifyToken(pw)
			if err != nil || !known || user != u.Name {
				return "", denied()
			}
			return tenant, nil
		}
		if !hasPlain {
			if s.p.CheckPassword(u, pw) && known {
				return "", nil
			}
			return "", denied()
		}
		if subtle.ConstantTimeCompare([]byte(pw), []byte(plain)) != 1 {
			return "", denied()
		}
		return "", nil
	}
	// caching_sha2_password.
	if known && !hasPlain {
		return "", noPlain()
	}
	if len(data) == 0 {
		return "", denied()
	}
	want := sha256.Sum256([]byte(plain))
	want = sha256.Sum256(want[:])
	s.shaMu.Lock()
	cached, ok := s.shaCache[h.user]
	s.shaMu.Unlock()
	if ok && hasPlain && cached == want {
		// Fast path: the scramble is checked against the cached hash.
		if subtle.ConstantTimeCompare(gmysql.CalcCachingSha2Password(salt, plain), data) == 1 {
			return "", c.write([]byte{0x01, 0x03})
		}
		if !isTLS || s.verifyToken == nil {
			return "", denied()
		}
		// Over TLS the password may be an access token: ask for it in
		// full, as MySQL does after a failed fast path.
	}
	// Full authentication: the client sends the password over TLS, or
	// RSA-encrypted with the proxy's public key.
	if err := c.write([]byte{0x01, 0x04}); err != nil {
		return "", err
	}
	if err := c.flush(); err != nil {
		return "", err
	}
	p, err := c.read()
	if err != nil {
		return "", err
	}
	var pw []byte
	if isTLS {
		pw = bytes.TrimRight(p, "\x00")
	} else {
		key, keyPEM, err := s.rsaKey()
		if err != nil {
			return "", sqlerr.Wrap(sqlerr.Internal, err, "cannot create the RSA key for caching_sha2_password")
		}
		if len(p) == 1 && p[0] == 0x02 {
			if err := c.write(append([]byte{0x01}, keyPEM...)); err != nil {
				return "", err
			}
			if err := c.flush(); err != nil {
				return "", err
			}
			if p, err = c.read(); err != nil {
				return "", err
			}
		}
		dec, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, key, p, nil)
		if err != nil {
			return "", denied()
		}
		for i := range dec {
			dec[i] ^= salt[i%len(salt)]
		}
		pw = bytes.TrimRight(dec, "\x00")
	}
	if isTLS && s.verifyToken != nil && bytes.HasPrefix(pw, []byte("eyJ")) && bytes.Count(pw, []byte(".")) == 2 {
		user, tenant, err := s.verifyToken(string(pw))
		if err != nil || !known || user != u.Name {
			return "", denied()
		}
		return tenant, nil
	}
	if !hasPlain || subtle.ConstantTimeCompare(pw, []byte(plain)) != 1 {
		return "", denied()
	}
	s.shaMu.Lock()
	s.shaCache[h.user] = want
	s.shaMu.Unlock()
	return "", nil
}
