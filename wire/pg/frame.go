package pg

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// reader reads protocol frames (type byte, length, body) from one side.
// The body it returns is valid until the next read.
type reader struct {
	r   *bufio.Reader
	buf []byte
	max int
}

func newReader(r *bufio.Reader, max int) *reader {
	return &reader{r: r, max: max, buf: make([]byte, 0, 4096)}
}

// header reads the next frame's type and body length without the body.
func (rd *reader) header() (byte, int, error) {
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
