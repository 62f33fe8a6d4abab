package pg

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// A client reader holds its buffers only while bytes it read are not yet
// consumed: pipelined messages that came together are all read from the
// buffers of the first, and messages past the small wait buffer and past
// the read buffer arrive whole.
func TestClientReaderBuffers(t *testing.T) {
	frame := func(typ byte, n int) []byte {
		body := bytes.Repeat([]byte{typ}, n)
		return append(binary.BigEndian.AppendUint32([]byte{typ}, uint32(n+4)), body...)
	}
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	_ = server.SetDeadline(time.Now().Add(5 * time.Second))
	sent := make(chan error, 1)
	send := func(b []byte) {
		go func() { _, err := client.Write(b); sent <- err }()
	}
	rd := newClientReader(server, 1<<20)
	want := func(typ byte, n int) {
		t.Helper()
		if err := rd.wait(); err != nil {
			t.Fatal(err)
		}
		gt, body, err := rd.next()
		if err != nil || gt != typ || len(body) != n || !bytes.Equal(body, bytes.Repeat([]byte{typ}, n)) {
			t.Fatalf("got %q (%d bytes, %v), want %q (%d bytes)", gt, len(body), err, typ, n)
		}
	}
	// Two messages in one write: the first read keeps the buffers for
	// the second.
	send(append(frame('Q', 20), frame('S', 0)...))
	want('Q', 20)
	rd.release()
	if rd.r == nil {
		t.Fatal("the buffers were given back with a message unread")
	}
	want('S', 0)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	rd.release()
	if rd.r != nil || rd.held != nil || rd.buf != nil {
		t.Fatal("an idle reader kept its buffers")
	}
	// Past the small buffer, past the read buffer.
	for _, n := range []int{clientWaitBuffer - 5, clientWaitBuffer, 3000, clientReadBuffer + 5000} {
		send(frame('P', n))
		want('P', n)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		rd.release()
		if rd.r != nil {
			t.Fatalf("after %d bytes: an idle reader kept its buffers", n)
		}
	}
	// The client's end arrives as the wait's error.
	_ = client.Close()
	if err := rd.wait(); err != io.EOF {
		t.Fatalf("wait after the client closed: %v", err)
	}
}
