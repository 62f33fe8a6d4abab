package mysql

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
)

// testServer is a front end whose only tenant's backend is unreachable:
// enough for the connection phase and command decoding.
func testServer(t testing.TB) *Server {
	t.Helper()
	role, _ := policy.BuiltinRole("admin")
	pc := pool.Config{Size: 1, Timeout: 200 * time.Millisecond}
	if err := pc.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	tenant := &proxy.Tenant{
		ID: "t1", Engine: proxy.EngineMySQL,
		Scope: policy.Scope{Tenant: "t1", Isolation: policy.IsolationDatabase, Database: "db_t1"},
		Roles: map[string]*policy.Role{"admin": &role},
		Pool:  pc,
		MySQL: &proxy.MySQLBackend{Addr: "127.0.0.1:1", User: "root", Database: "db_t1"},
	}
	v, err := scram.NewVerifier("pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	u := &proxy.User{Name: "u", Plain: "pw", Verifier: v, Tenants: map[string]string{"t1": "admin"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := proxy.New(proxy.Config{Tenants: []*proxy.Tenant{tenant}, Users: []*proxy.User{u}, MaxMessageSize: 1 << 16},
		policy.NewEngine(100), proxy.NewMetrics(prometheus.NewRegistry()), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(t.Context()) })
	return New(p, nil, log)
}

func packet(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// handshakeResponse builds a HandshakeResponse41 for mysql_native_password.
func nativeResponse(salt []byte, user, pw, db string) []byte {
	caps := uint32(gmysql.CLIENT_PROTOCOL_41 | gmysql.CLIENT_SECURE_CONNECTION | gmysql.CLIENT_PLUGIN_AUTH |
		gmysql.CLIENT_CONNECT_WITH_DB | gmysql.CLIENT_MULTI_STATEMENTS | gmysql.CLIENT_MULTI_RESULTS)
	p := binary.LittleEndian.AppendUint32(nil, caps)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 45)
	p = append(p, make([]byte, 23)...)
	p = append(p, user...)
	p = append(p, 0)
	auth := gmysql.CalcPassword(salt, []byte(pw))
	p = append(p, byte(len(auth)))
	p = append(p, auth...)
	p = append(p, db...)
	p = append(p, 0)
	p = append(p, pluginNative...)
	return append(p, 0)
}

// greetingSalt extracts the scramble from a HandshakeV10 payload.
func greetingSalt(g []byte) []byte {
	i := bytes.IndexByte(g[1:], 0) + 2 // after the version
	i += 4                             // connection id
	salt := append([]byte(nil), g[i:i+8]...)
	i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
	return append(salt, g[i:i+12]...)
}

// serve runs one connection with the given client bytes and returns what
// the proxy wrote. login, when set, logs in first as u/pw on t1.
func serve(t testing.TB, s *Server, login bool, input []byte) []byte {
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.handle(srv)
	}()
	_ = cli.SetDeadline(time.Now().Add(5 * time.Second))
	var out bytes.Buffer
	r := pool.NewPacketReader(newBufReader(cli), 1<<20)
	if login {
		_, g, err := r.Next()
		if err != nil {
			t.Fatalf("greeting: %v", err)
		}
		out.Write(g)
		if _, err := cli.Write(packet(1, nativeResponse(greetingSalt(g), "u", "pw", "t1"))); err != nil {
			t.Fatal(err)
		}
		_, ok, err := r.Next()
		if err != nil || len(ok) == 0 || ok[0] != 0 {
			t.Fatalf("login: %v %x", err, ok)
		}
	}
	go func() {
		_, _ = cli.Write(input)
		time.Sleep(50 * time.Millisecond)
		_ = cli.Close()
	}()
	for {
		_, p, err := r.Next()
		if err != nil {
			break
		}
		out.Write(p)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the proxy did not end the connection")
	}
	return out.Bytes()
}

// FuzzHandshakeResponse decodes arbitrary handshake responses: never a panic.
func FuzzHandshakeResponse(f *testing.F) {
	salt := bytes.Repeat([]byte{'a'}, 20)
	f.Add(nativeResponse(salt, "u", "pw", "t1"))
	f.Add(nativeResponse(salt, "", "", ""))
	f.Add(append(binary.LittleEndian.AppendUint32(nil, gmysql.CLIENT_PROTOCOL_41|gmysql.CLIENT_SSL), make([]byte, 28)...))
	f.Add([]byte{0x85, 0xa6, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := parseHandshakeResponse(p)
		if err == nil && h == nil {
			t.Fatal("nil response without error")
		}
	})
}

// FuzzConnectionPhase feeds arbitrary bytes as the client's side of the
// connection phase.
func FuzzConnectionPhase(f *testing.F) {
	s := testServer(f)
	f.Add(packet(1, nativeResponse(bytes.Repeat([]byte{'a'}, 20), "u", "pw", "t1")))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0xff, 0xff, 0xff, 1, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		serve(t, s, false, in)
	})
}

// FuzzCommands feeds arbitrary command packets after a valid login.
func FuzzCommands(f *testing.F) {
	s := testServer(f)
	f.Add(packet(0, []byte{comPing}))
	f.Add(packet(0, append([]byte{comQuery}, "SELECT 1"...)))
	f.Add(packet(0, append([]byte{comQuery}, "USE t1; KILL 5"...)))
	f.Add(packet(0, []byte{comStmtExecute, 1, 0, 0, 0, 0, 1, 0, 0, 0}))
	f.Add(packet(0, []byte{comSetOption, 1, 0}))
	f.Add(packet(0, []byte{comFieldList, 'x', 0}))
	f.Add(packet(0, []byte{comStmtClose, 1}))
	f.Add(append(packet(0, []byte{comQuery}), packet(0, []byte{comQuit})...))
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		serve(t, s, true, in)
	})
}

// FuzzRewriteRow runs the metadata row rewriter on arbitrary rows.
func FuzzRewriteRow(f *testing.F) {
	rw := &rewriter{own: "db_own", tenant: "t1", others: []string{"db_other"}}
	cols := []column{{typ: gmysql.MYSQL_TYPE_VAR_STRING, schemaCol: true}, {typ: gmysql.MYSQL_TYPE_LONG}, {typ: gmysql.MYSQL_TYPE_VAR_STRING}}
	f.Add([]byte("\x06db_own\x011\x08db_other"), false)
	f.Add([]byte{0, 0, 0x06, 'd', 'b', '_', 'o', 'w', 'n', 1, 0, 0, 0, 1, 'x'}, true)
	f.Fuzz(func(t *testing.T, p []byte, bin bool) {
		out, keep, err := rw.row(p, cols, bin)
		if keep && out == nil {
			t.Fatal("kept a nil row")
		}
		if err != nil && (keep || out != nil) {
			t.Fatal("an undecodable row was kept")
		}
		if masked, err := maskRow(p, cols, bin, "stars"); err == nil && masked == nil {
			t.Fatal("masked a row into nothing")
		}
		_, _ = rw.columnDef(p, true)
	})
}

// TestHandshakeErrors checks the connection phase's answers without a backend.
func TestHandshakeErrors(t *testing.T) {
	s := testServer(t)
	cases := []struct {
		name string
		in   func(salt []byte) []byte
		code uint16
	}{
		{"wrong password", func(salt []byte) []byte { return packet(1, nativeResponse(salt, "u", "bad", "t1")) }, 1045},
		{"unknown user", func(salt []byte) []byte { return packet(1, nativeResponse(salt, "x", "pw", "t1")) }, 1045},
		{"unknown tenant", func(salt []byte) []byte { return packet(1, nativeResponse(salt, "u", "pw", "nope")) }, 1049},
		{"garbage", func([]byte) []byte { return packet(1, []byte{1, 2, 3}) }, 1047},
		{"bad sequence", func(salt []byte) []byte { return packet(5, nativeResponse(salt, "u", "pw", "t1")) }, 1047},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			go s.handle(srv)
			defer cli.Close()
			_ = cli.SetDeadline(time.Now().Add(5 * time.Second))
			r := pool.NewPacketReader(newBufReader(cli), 1<<20)
			_, g, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cli.Write(c.in(greetingSalt(g))); err != nil {
				t.Fatal(err)
			}
			_, p, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			e := pool.ParseMySQLError(p)
			if p[0] != 0xff || e.Code != c.code {
				t.Fatalf("got %x (%v), want error %d", p, e, c.code)
			}
		})
	}
}

// TestCommandsWithoutBackend checks commands answered by the proxy and the
// errors of an unreachable backend; the connection stays usable.
func TestCommandsWithoutBackend(t *testing.T) {
	s := testServer(t)
	in := bytes.Join([][]byte{
		packet(0, []byte{comPing}),
		packet(0, append([]byte{comQuery}, "SHOW DATABASES"...)),
		packet(0, append([]byte{comQuery}, "SELECT 1"...)),
		packet(0, []byte{comStmtExecute, 9, 0, 0, 0, 0, 1, 0, 0, 0}),
		packet(0, append([]byte{comQuery}, "SELECT * FROM other_db.t"...)),
		packet(0, []byte{0x99}),
	}, nil)
	// The proxy answers each command before reading the next, so send
	// them one at a time through serve's single write: replies are
	// matched in order below.
	out := serve(t, s, true, in)
	for _, want := range []string{"t1", "Unknown prepared statement", "other_db", "not supported"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("reply lacks %q:\n%q", want, out)
		}
	}
}

func newBufReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 4096) }
