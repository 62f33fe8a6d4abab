package pg

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// reader reads protocol frames (type byte, length, body) from one side.
// The body it returns is valid until the next read.
//
// A client connection's reader (newClientReader) holds a read buffer only
// while the client's messages are handled: between them it waits for the
// next bytes in a small buffer of its own, then takes a read buffer (and
// the frame buffer bodies are copied to) from clientReaders, the read
// buffer first filled with what the small read got. An idle client costs
// no read buffer, and a round trip whose messages fit the small buffer
// costs one read as with a buffer of its own.
type reader struct {
	r   *bufio.Reader // nil while a client reader holds no buffer
	buf []byte
	max int

	src   io.Reader // the client connection; nil for a reader given its buffer
	small []byte    // what the wait for the next bytes reads into
	pre   prefixed  // r's source: the bytes of the small read, then src
	held  *readBuf  // the buffers taken from clientReaders
}

func newReader(r *bufio.Reader, max int) *reader {
	return &reader{r: r, max: max, buf: make([]byte, 0, 4096)}
}

// clientReadBuffer is the size of the read buffers of client connections,
// and clientWaitBuffer that of the small buffer each client connection
// waits for its next message with.
const (
	clientReadBuffer = 16 * 1024
	clientWaitBuffer = 512
)

// readBuf is a client connection's read buffer and frame buffer while it
// holds them.
type readBuf struct {
	r     *bufio.Reader
	frame []byte
}

// clientReaders are the buffers of client connections, held while a
// connection has unread bytes (see reader).
var clientReaders = sync.Pool{New: func() any {
	return &readBuf{r: bufio.NewReaderSize(nil, clientReadBuffer), frame: make([]byte, 0, 4096)}
}}

// newClientReader returns a reader of a client connection.
func newClientReader(src io.Reader, max int) *reader {
	return &reader{max: max, src: src, small: make([]byte, clientWaitBuffer)}
}

// prefixed reads b, then r.
type prefixed struct {
	b []byte
	r io.Reader
}

func (p *prefixed) Read(dst []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(dst, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	return p.r.Read(dst)
}

// wait waits for the client's next bytes when none is buffered, and takes
// the buffers for them. The wait reads into the small buffer: Go's poller
// reports readiness only to a read, so the bytes themselves must be read
// to learn that some came.
func (rd *reader) wait() error {
	if rd.r != nil {
		return nil
	}
	n, err := rd.src.Read(rd.small)
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	// An error that came with bytes comes again from the next read.
	rd.took(n)
	return nil
}

// took takes the buffers for the n bytes the wait read. It is kept out of
// wait, whose frame is on the stack of every idle client.
//
//go:noinline
func (rd *reader) took(n int) {
	rb := clientReaders.Get().(*readBuf)
	rd.held, rd.r, rd.buf = rb, rb.r, rb.frame[:0]
	rd.pre = prefixed{b: rd.small[:n], r: rd.src}
	rd.r.Reset(&rd.pre)
}

// release gives a client reader's buffers back when every byte read has
// been consumed; a pipelined message already read keeps them. The body
// last returned is no longer valid.
func (rd *reader) release() {
	rb := rd.held
	if rb == nil || rd.r.Buffered() > 0 || len(rd.pre.b) > 0 {
		return
	}
	rb.r.Reset(nil)
	if cap(rd.buf) <= 64*1024 {
		rb.frame = rd.buf[:0] // else the one taken, not the one grown past a large message
	}
	clientReaders.Put(rb)
	rd.held, rd.r, rd.buf, rd.pre = nil, nil, nil, prefixed{}
}

// buffered is the number of bytes read from the connection and not yet
// consumed.
func (rd *reader) buffered() int {
	if rd.r == nil {
		return 0
	}
	return rd.r.Buffered() + len(rd.pre.b)
}

// reset points a client reader at a new connection (TLS over the first
// one). Nothing may be buffered.
func (rd *reader) reset(src io.Reader) {
	rd.release()
	rd.src = src
}

// readFull reads exactly len(p) bytes.
func (rd *reader) readFull(p []byte) error {
	if err := rd.wait(); err != nil {
		return err
	}
	_, err := io.ReadFull(rd.r, p)
	return err
}

// header reads the next frame's type and body length without the body.
func (rd *reader) header() (byte, int, error) {
	if rd.r == nil {
		if err := rd.wait(); err != nil {
			return 0, 0, err
		}
	}
	hdr, err := rd.r.Peek(5)
	if err != nil {
		return 0, 0, err
	}
	typ := hdr[0]
	n := int(binary.BigEndian.Uint32(hdr[1:5])) - 4
	if n < 0 {
		return 0, 0, sqlerr.New(sqlerr.Protocol, "invalid message length %d for message type %q", n+4, typ)
	}
	if n > rd.max {
		return 0, 0, sqlerr.New(sqlerr.Protocol, "message type %q of %d bytes exceeds the limit of %d bytes", typ, n, rd.max)
	}
	_, _ = rd.r.Discard(5)
	return typ, n, nil
}

// next reads a whole frame.
func (rd *reader) next() (byte, []byte, error) {
	typ, n, err := rd.header()
	if err != nil {
		return 0, nil, err
	}
	body, err := rd.body(n)
	return typ, body, err
}

func (rd *reader) body(n int) ([]byte, error) {
	if rd.r == nil {
		if err := rd.wait(); err != nil {
			return nil, err
		}
	}
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	rd.buf = rd.buf[:n]
	if _, err := io.ReadFull(rd.r, rd.buf); err != nil {
		return nil, err
	}
	// Do not keep a huge buffer around after a huge message.
	b := rd.buf
	if cap(rd.buf) > 1<<20 {
		rd.buf = make([]byte, 0, 4096)
	}
	return b, nil
}

// copyFrame copies a frame of n body bytes with type typ from rd to w
// without holding it in memory, for large rows.
func (rd *reader) copyFrame(w *bufio.Writer, typ byte, n int) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(n+4))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := io.CopyN(w, rd.r, int64(n))
	return err
}

// appendFrame appends a frame of type typ with body to dst.
func appendFrame(dst []byte, typ byte, body []byte) []byte {
	dst = append(dst, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(dst[len(dst)-4:], uint32(len(body)+4))
	return append(dst, body...)
}

// cstring reads a NUL-terminated string from b.
func cstring(b []byte) (string, []byte, error) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], nil
		}
	}
	return "", nil, fmt.Errorf("missing string terminator")
}
