package netio

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Every behaviour is checked on the plain socket too: Conn must answer as
// net.Conn answers, and the plain run shows each check can tell.
var kinds = []struct {
	name string
	wrap func(net.Conn) net.Conn
}{
	{"net.Conn", func(c net.Conn) net.Conn { return c }},
	{"netio.Conn", Wrap},
}

func tcpPair(t *testing.T, wrap func(net.Conn) net.Conn) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		done <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-done
	if b == nil {
		t.Fatal("accept failed")
	}
	a, b = wrap(a), wrap(b)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a, b
}

func TestWrap(t *testing.T) {
	a, b := tcpPair(t, Wrap)
	if _, ok := a.(*Conn); !ok && enabled {
		t.Fatalf("a TCP connection was not wrapped: %T", a)
	}
	if Wrap(a) != a {
		t.Fatal("a wrapped connection was wrapped again")
	}
	if c, ok := b.(*Conn); ok {
		if _, ok := c.Unwrap().(*net.TCPConn); !ok {
			t.Fatalf("Unwrap gave %T", c.Unwrap())
		}
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if Wrap(p1) != p1 {
		t.Fatal("a pipe, which has no descriptor, was wrapped")
	}
}

// TestLargeTransfer sends more than the sockets' buffers hold, so that
// writes find the buffer full and reads find it empty, and waits in the
// poller are part of it.
func TestLargeTransfer(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			data := make([]byte, 16<<20)
			_, _ = rand.Read(data)
			var werr error
			var wn int
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				wn, werr = a.Write(data)
				if c, ok := a.(*Conn); ok {
					_ = c.Unwrap().(*net.TCPConn).CloseWrite()
				} else {
					_ = a.(*net.TCPConn).CloseWrite()
				}
			}()
			var got bytes.Buffer
			buf := make([]byte, 3000) // reads smaller than what arrives
			for {
				n, err := b.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", got.Len(), err)
				}
				if got.Len() < 1<<20 {
					time.Sleep(time.Millisecond) // a slow reader at first: the writer's buffer fills
				}
			}
			wg.Wait()
			if werr != nil || wn != len(data) {
				t.Fatalf("write: %d of %d bytes, %v", wn, len(data), werr)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("received %d bytes that differ from the %d sent", got.Len(), len(data))
			}
		})
	}
}

func TestEOF(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			if _, err := a.Write([]byte("last")); err != nil {
				t.Fatal(err)
			}
			_ = a.Close()
			buf := make([]byte, 16)
			n, err := io.ReadFull(b, buf[:4])
			if err != nil || string(buf[:n]) != "last" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			if n, err := b.Read(buf); n != 0 || err != io.EOF {
				t.Fatalf("after the peer closed: %d bytes, %v; want 0, io.EOF", n, err)
			}
			if n, err := b.Read(nil); n != 0 || err != nil {
				t.Fatalf("an empty read: %d, %v", n, err)
			}
		})
	}
}

func TestReadDeadline(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			_, b := tcpPair(t, k.wrap)
			_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			start := time.Now()
			_, err := b.Read(make([]byte, 16))
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read past its deadline: %v; want a timeout", err)
			}
			if d := time.Since(start); d < 40*time.Millisecond {
				t.Fatalf("the read returned after %v, before its deadline", d)
			}
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "read" || op.Err != os.ErrDeadlineExceeded {
				t.Fatalf("error %#v is not a read *net.OpError of os.ErrDeadlineExceeded", err)
			}
			if want := "read tcp " + b.LocalAddr().String() + "->" + b.RemoteAddr().String() + ": i/o timeout"; err.Error() != want {
				t.Fatalf("error %q, want %q", err, want)
			}
			// A deadline already past fails the read at once, as net.Conn does.
			_ = b.SetReadDeadline(time.Now().Add(-time.Second))
			if _, err := b.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read with a past deadline: %v", err)
			}
		})
	}
}

func TestWriteDeadline(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			// Nobody reads: the buffers fill and the write waits until its
			// deadline. On a loaded machine the deadline can pass before the
			// first byte goes out (then nothing is written, on net.Conn too):
			// a longer one is tried.
			for _, d := range []time.Duration{100 * time.Millisecond, time.Second, 5 * time.Second} {
				a, _ := tcpPair(t, k.wrap)
				_ = a.SetWriteDeadline(time.Now().Add(d))
				n, err := a.Write(make([]byte, 64<<20))
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("write to a peer that does not read: %d bytes, %v; want a timeout", n, err)
				}
				if n == 0 {
					t.Logf("deadline %v passed before the first byte went out", d)
					continue
				}
				if n < 0 || n >= 64<<20 {
					t.Fatalf("a write cut by its deadline reports %d bytes written", n)
				}
				return
			}
			t.Fatal("no write went out before its deadline")
		})
	}
}

// TestCloseEndsWait: a Close from another goroutine ends a read or write
// that waits, with net.ErrClosed, and the descriptor is not used after.
func TestCloseEndsWait(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			_, b := tcpPair(t, k.wrap) // b waits to read; nothing is sent to it
			a, _ := tcpPair(t, k.wrap) // a waits to write; nothing reads
			rerr := make(chan error, 1)
			go func() {
				_, err := b.Read(make([]byte, 16))
				rerr <- err
			}()
			werr := make(chan error, 1)
			go func() {
				_, err := a.Write(make([]byte, 64<<20))
				werr <- err
			}()
			time.Sleep(50 * time.Millisecond)
			_ = a.Close()
			_ = b.Close()
			for name, ch := range map[string]chan error{"read": rerr, "write": werr} {
				select {
				case err := <-ch:
					if !errors.Is(err, net.ErrClosed) {
						t.Errorf("%s ended by Close: %v; want net.ErrClosed", name, err)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s still waits after Close", name)
				}
			}
			if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after Close: %v", err)
			}
		})
	}
}

// TestPeerReset: writing to a connection the peer reset fails with an
// error (ECONNRESET or EPIPE), and SIGPIPE does not end the process.
func TestPeerReset(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			var tc *net.TCPConn
			if c, ok := b.(*Conn); ok {
				tc = c.Unwrap().(*net.TCPConn)
			} else {
				tc = b.(*net.TCPConn)
			}
			_ = tc.SetLinger(0)
			_ = b.Close()
			var err error
			deadline := time.Now().Add(5 * time.Second)
			for err == nil && time.Now().Before(deadline) {
				_, err = a.Write([]byte("after the reset"))
				time.Sleep(time.Millisecond)
			}
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("write after the peer's reset: %v", err)
			}
			if _, err := a.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) && err != io.EOF {
				t.Fatalf("read after the peer's reset: %v", err)
			}
		})
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c = Wrap(c)
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c = Wrap(c)
	defer c.Close()
	if _, ok := c.(*Conn); !ok && enabled {
		t.Fatalf("a Unix socket was not wrapped: %T", c)
	}
	msg := bytes.Repeat([]byte("echo "), 100000)
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo over a Unix socket: %v", err)
	}
}

func BenchmarkPingPong(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			t := &testing.T{}
			x, y := tcpPair(t, k.wrap)
			go func() {
				buf := make([]byte, 64)
				for {
					n, err := y.Read(buf)
					if err != nil {
						return
					}
					if _, err := y.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
			buf := make([]byte, 64)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := x.Write(buf[:32]); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(x, buf[:32]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = x.Close()
			_ = y.Close()
		})
	}
}

// TestZeroLength: an empty read or write does nothing, but still fails on
// a closed socket or past a deadline, as net.Conn's do.
func TestZeroLength(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			if n, err := a.Write(nil); n != 0 || err != nil {
				t.Fatalf("empty write: %d, %v", n, err)
			}
			_ = a.SetWriteDeadline(time.Now().Add(-time.Second))
			if _, err := a.Write(nil); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("empty write past its deadline: %v", err)
			}
			_ = b.Close()
			if _, err := b.Read(nil); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("empty read of a closed socket: %v", err)
			}
			if _, err := b.Write(nil); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("empty write of a closed socket: %v", err)
			}
		})
	}
}

// TestDeadlineWakesWait: a deadline moved to now from another goroutine
// ends a read that waits (how a session's wait is interrupted), and a
// deadline moved later while it waits lets it go on.
func TestDeadlineWakesWait(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			errc := make(chan error, 1)
			go func() {
				_, err := b.Read(make([]byte, 8))
				errc <- err
			}()
			time.Sleep(20 * time.Millisecond)
			_ = b.SetReadDeadline(time.Now())
			select {
			case err := <-errc:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read woken by its deadline: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a read still waits after its deadline was set to now")
			}
			_ = b.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			got := make(chan string, 1)
			go func() {
				buf := make([]byte, 8)
				n, err := b.Read(buf)
				if err != nil {
					got <- err.Error()
					return
				}
				got <- string(buf[:n])
			}()
			_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
			time.Sleep(60 * time.Millisecond) // past the first deadline
			if _, err := a.Write([]byte("late")); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != "late" {
				t.Fatalf("a read whose deadline was moved later: %q", s)
			}
		})
	}
}

// TestFullDuplex reads and writes one socket from two goroutines at once,
// through TLS as the front ends run it.
func TestFullDuplex(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			const size = 8 << 20
			up, down := make([]byte, size), make([]byte, size)
			_, _ = rand.Read(up)
			_, _ = rand.Read(down)
			var wg sync.WaitGroup
			check := func(name string, c net.Conn, send, want []byte) {
				defer wg.Done()
				var werr error
				var inner sync.WaitGroup
				inner.Add(1)
				go func() { defer inner.Done(); _, werr = c.Write(send) }()
				got := make([]byte, len(want))
				_, rerr := io.ReadFull(c, got)
				inner.Wait()
				if werr != nil || rerr != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: write %v, read %v, equal %v", name, werr, rerr, bytes.Equal(got, want))
				}
			}
			wg.Add(2)
			go check("a", a, up, down)
			go check("b", b, down, up)
			wg.Wait()
		})
	}
}

func TestTLSOverConn(t *testing.T) {
	cert, err := tls.X509KeyPair(testCert, testKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			a, b := tcpPair(t, k.wrap)
			srv := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
			cli := tls.Client(a, &tls.Config{InsecureSkipVerify: true})
			data := make([]byte, 4<<20)
			_, _ = rand.Read(data)
			errc := make(chan error, 1)
			go func() {
				_, err := cli.Write(data)
				errc <- err
			}()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(srv, got); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("TLS transfer: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			_ = srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := srv.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("TLS read past its deadline: %v", err)
			}
		})
	}
}

// TestNotWrapped: a blocking descriptor and a datagram socket are left as
// they are.
func TestNotWrapped(t *testing.T) {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if Wrap(u) != net.Conn(u) {
		t.Fatal("a UDP socket was wrapped")
	}
	path := filepath.Join(t.TempDir(), "d")
	d, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if Wrap(d) != net.Conn(d) {
		t.Fatal("a unixgram socket was wrapped")
	}
	a, _ := tcpPair(t, func(c net.Conn) net.Conn { return c })
	rc, _ := a.(*net.TCPConn).SyscallConn()
	_ = rc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), false) })
	if Wrap(a) != a {
		t.Fatal("a blocking descriptor was wrapped")
	}
	_ = rc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), true) })
}

// A self-signed certificate for 127.0.0.1, for the TLS test only.
var testCert, testKey = func() ([]byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}()
