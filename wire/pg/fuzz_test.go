package pg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
)

// panicCatcher fails the test when the server logs a recovered panic.
type panicCatcher struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "connection_panic" {
		p.mu.Lock()
		r.Attrs(func(a slog.Attr) bool { p.panics = append(p.panics, a.Value.String()); return true })
		p.mu.Unlock()
	}
	return nil
}
func (p *panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicCatcher) WithGroup(string) slog.Handler      { return p }

// offlineProxy is a proxy whose only tenant's backend refuses connections,
// so everything up to the backend is exercised without a database.
func offlineProxy(t testing.TB, log *slog.Logger) *proxy.Server {
	t.Helper()
	pc, err := pgconn.ParseConfig("postgres://postgres@127.0.0.1:1/alpha?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := scram.NewVerifier("pw", 4096)
	admin, _ := policy.BuiltinRole("admin")
	pcfg := pool.Config{}
	_ = pcfg.CheckAndSetDefaults()
	pcfg.Timeout = 200 * time.Millisecond
	p, err := proxy.New(proxy.Config{
		Tenants: []*proxy.Tenant{{
			ID: "alpha", Engine: proxy.EnginePostgres, PGConfig: pc, Pool: pcfg,
			Scope: policy.Scope{Tenant: "alpha", Isolation: policy.IsolationDatabase, Database: "alpha"},
			Roles: map[string]*policy.Role{"admin": &admin},
		}},
		Users:          []*proxy.User{{Name: "alice", Verifier: v, Tenants: map[string]string{"alpha": "admin"}}},
		MaxMessageSize: 1 << 16,
	}, policy.NewEngine(1000), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

func startupPacket(params ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, protocolV3)
	for _, p := range params {
		body = append(append(body, p...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

// FuzzStartup feeds arbitrary bytes to a fresh connection: the proxy must
// answer or close, never panic or hang.
func FuzzStartup(f *testing.F) {
	f.Add(startupPacket("user", "alice", "database", "alpha"))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47}) // SSLRequest
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 48}) // GSSENCRequest
	f.Add([]byte{0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add(append(startupPacket("user", "alice"), 'p', 0, 0, 0, 8, 'a', 'b', 'c', 0))
	f.Add(append(startupPacket("user", "alice", "database", "alpha"), []byte("p\x00\x00\x00\x30SCRAM-SHA-256\x00\x00\x00\x00\x20n,,n=,r=abcdefghijklmnopqrstuvwxyz")...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	catcher := &panicCatcher{}
	srv := New(offlineProxy(f, slog.New(catcher)), nil, slog.New(catcher))
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			srv.handle(server)
			close(done)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(in)
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection handler hung")
		}
		catcher.mu.Lock()
		defer catcher.mu.Unlock()
		if len(catcher.panics) > 0 {
			t.Fatalf("panic: %v", catcher.panics)
		}
	})
}

// FuzzSessionMessages feeds arbitrary frames to an authenticated session.
func FuzzSessionMessages(f *testing.F) {
	frame := func(typ byte, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{typ}, uint32(len(body)+4)), body...)
	}
	enc := func(m interface{ Encode([]byte) ([]byte, error) }) []byte { b, _ := m.Encode(nil); return b }
	f.Add(frame('Q', []byte("SELECT 1\x00")))
	f.Add(append(append(append(enc(&pgproto3.Parse{Name: "s", Query: "SELECT $1::int"}),
		enc(&pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("1")}})...),
		enc(&pgproto3.Execute{})...), enc(&pgproto3.Sync{})...))
	f.Add(append(enc(&pgproto3.Describe{ObjectType: 'S', Name: "nope"}), enc(&pgproto3.Sync{})...))
	f.Add(append(enc(&pgproto3.Close{ObjectType: 'S', Name: "s"}), enc(&pgproto3.Flush{})...))
	f.Add(frame('Q', []byte("SET tenant = 'beta'\x00")))
	f.Add(frame('Q', []byte("SHOW tenant\x00")))
	f.Add(frame('B', []byte{0, 0, 0, 5, 0, 0}))
	f.Add(frame('F', []byte{0, 0, 0, 1}))
	f.Add(frame('P', []byte{'x'}))
	catcher := &panicCatcher{}
	p := offlineProxy(f, slog.New(catcher))
	srv := New(p, nil, slog.New(catcher))
	u, _ := p.User("alice")
	b, err := p.Bind(u, "alpha", proxy.EnginePostgres)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		c := &conn{nc: server, r: newReader(bufio.NewReader(bytes.NewReader(in)), 1<<16), log: srv.log}
		s, err := newSession(srv, c, b, map[string]string{"application_name": "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		s.unreg = func() {}
		for i := 0; i < 64; i++ {
			typ, body, err := c.r.next()
			if err != nil {
				break
			}
			if err := s.handle(typ, append([]byte(nil), body...)); err != nil {
				if strings.Contains(err.Error(), "panic") {
					t.Fatal(err)
				}
				break
			}
		}
		s.end()
		_ = server.Close()
	})
}
