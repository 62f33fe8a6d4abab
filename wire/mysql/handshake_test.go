package mysql

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/pool"
)

// authClient is a scripted client of the connection phase.
type authClient struct {
	t    *testing.T
	conn net.Conn
	r    *pool.PacketReader
	seq  byte
	salt []byte
}

func selfSigned(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// dialAuth reads the greeting (and upgrades to TLS when the server has it
// and useTLS is set).
func dialAuth(t *testing.T, s *Server, useTLS bool) *authClient {
	t.Helper()
	cli, srv := net.Pipe()
	go s.handle(srv)
	t.Cleanup(func() { _ = cli.Close() })
	_ = cli.SetDeadline(time.Now().Add(10 * time.Second))
	c := &authClient{t: t, conn: cli, r: pool.NewPacketReader(newBufReader(cli), 1<<20)}
	g := c.read()
	if !bytes.HasSuffix(g, []byte(pluginNative+"\x00")) {
		t.Fatalf("the greeting does not propose %s: %q", pluginNative, g)
	}
	c.salt = greetingSalt(g)
	if useTLS {
		req := binary.LittleEndian.AppendUint32(nil, gmysql.CLIENT_PROTOCOL_41|gmysql.CLIENT_SECURE_CONNECTION|gmysql.CLIENT_PLUGIN_AUTH|gmysql.CLIENT_SSL)
		req = append(req, make([]byte, 28)...)
		req[8] = 45
		c.write(req)
		tc := tls.Client(cli, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("tls: %v", err)
		}
		c.conn = tc
		c.r = pool.NewPacketReader(newBufReader(tc), 1<<20)
	}
	return c
}

func (c *authClient) read() []byte {
	c.t.Helper()
	seq, p, err := c.r.Next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	c.seq = seq + 1
	return append([]byte(nil), p...)
}

func (c *authClient) write(p []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(packet(c.seq, p)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	c.seq++
}

// respond sends a HandshakeResponse41 for plugin with auth data.
func (c *authClient) respond(user, plugin string, auth []byte) {
	caps := uint32(gmysql.CLIENT_PROTOCOL_41 | gmysql.CLIENT_SECURE_CONNECTION | gmysql.CLIENT_PLUGIN_AUTH | gmysql.CLIENT_CONNECT_WITH_DB)
	p := binary.LittleEndian.AppendUint32(nil, caps)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 45)
	p = append(p, make([]byte, 23)...)
	p = append(p, user...)
	p = append(p, 0, byte(len(auth)))
	p = append(p, auth...)
	p = append(p, "t1"...)
	p = append(p, 0)
	p = append(p, plugin...)
	c.write(append(p, 0))
}

// wantSwitch reads an AuthSwitchRequest to plugin with the greeting's salt.
func (c *authClient) wantSwitch(plugin string) {
	c.t.Helper()
	p := c.read()
	want := append(append([]byte{0xfe}, plugin...), 0)
	want = append(append(want, c.salt...), 0)
	if !bytes.Equal(p, want) {
		c.t.Fatalf("got %q, want an AuthSwitchRequest to %s", p, plugin)
	}
}

func (c *authClient) wantErr(code uint16) {
	c.t.Helper()
	p := c.read()
	if len(p) < 3 || p[0] != 0xff || binary.LittleEndian.Uint16(p[1:]) != code {
		c.t.Fatalf("got %q, want ERR %d", p, code)
	}
}

func (c *authClient) wantOK() {
	c.t.Helper()
	if p := c.read(); len(p) == 0 || p[0] != 0 {
		c.t.Fatalf("got %q, want OK", p)
	}
}

func (c *authClient) want(b ...byte) {
	c.t.Helper()
	if p := c.read(); !bytes.Equal(p, b) {
		c.t.Fatalf("got %q, want %q", p, b)
	}
}

// TestAuthSwitchAsServersDo scripts the exchanges of stock clients.
func TestAuthSwitchAsServersDo(t *testing.T) {
	t.Run("caching_sha2 client without data is switched to its plugin, then RSA", func(t *testing.T) {
		s := testServer(t)
		c := dialAuth(t, s, false)
		c.respond("u", pluginCachingSHA2, nil)
		c.wantSwitch(pluginCachingSHA2)
		c.write(gmysql.CalcCachingSha2Password(c.salt, "pw"))
		c.want(0x01, 0x04) // full authentication
		c.write([]byte{0x02})
		keyPkt := c.read()
		block, _ := pem.Decode(keyPkt[1:])
		if keyPkt[0] != 0x01 || block == nil {
			t.Fatalf("no public key: %q", keyPkt)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pw := []byte("pw\x00")
		for i := range pw {
			pw[i] ^= c.salt[i%len(c.salt)]
		}
		enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub.(*rsa.PublicKey), pw, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.write(enc)
		c.wantOK()
		// The next login takes the fast path.
		c = dialAuth(t, s, false)
		c.respond("u", pluginCachingSHA2, gmysql.CalcCachingSha2Password(c.salt, "pw"))
		c.want(0x01, 0x03)
		c.wantOK()
	})
	t.Run("a cached user with a wrong scramble is asked in full like an unknown one", func(t *testing.T) {
		s := testServer(t)
		s.tls = selfSigned(t)
		c := dialAuth(t, s, true) // fills the cache
		c.respond("u", pluginCachingSHA2, gmysql.CalcCachingSha2Password(c.salt, "pw"))
		c.want(0x01, 0x04)
		c.write([]byte("pw\x00"))
		c.wantOK()
		for _, user := range []string{"u", "nobody"} {
			c := dialAuth(t, s, true)
			c.respond(user, pluginCachingSHA2, gmysql.CalcCachingSha2Password(c.salt, "wrong"))
			c.want(0x01, 0x04)
			c.write([]byte("wrong\x00"))
			c.wantErr(1045)
		}
	})
	t.Run("an unknown plugin is switched to native", func(t *testing.T) {
		c := dialAuth(t, testServer(t), false)
		c.respond("u", "client_ed25519", []byte("junk"))
		c.wantSwitch(pluginNative)
		c.write(gmysql.CalcPassword(c.salt, []byte("pw")))
		c.wantOK()
	})
	t.Run("native without data is no password", func(t *testing.T) {
		c := dialAuth(t, testServer(t), false)
		c.respond("u", pluginNative, nil)
		c.wantErr(1045)
	})
	t.Run("a password in clear without TLS gets 1251", func(t *testing.T) {
		c := dialAuth(t, testServer(t), false)
		c.respond("u", pluginCachingSHA2, gmysql.CalcCachingSha2Password(c.salt, "pw"))
		c.want(0x01, 0x04)
		c.write([]byte("pw\x00"))
		c.wantErr(1251)
	})
	t.Run("over TLS unknown users and wrong passwords take the same way", func(t *testing.T) {
		s := testServer(t)
		s.tls = selfSigned(t)
		for _, user := range []string{"u", "nobody"} {
			c := dialAuth(t, s, true)
			c.respond(user, pluginNative, gmysql.CalcPassword(c.salt, []byte("wrong")))
			c.wantSwitch(pluginCachingSHA2)
			c.write(gmysql.CalcCachingSha2Password(c.salt, "wrong"))
			c.want(0x01, 0x04)
			c.write([]byte("wrong\x00"))
			c.wantErr(1045)
		}
		c := dialAuth(t, s, true)
		c.respond("u", pluginNative, gmysql.CalcPassword(c.salt, []byte("pw")))
		c.wantOK()
	})
}
