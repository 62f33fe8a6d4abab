package pool

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/tenantproxy/tenantproxy/wire/netio"
)

// MySQL command bytes used on backend connections
// (https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html).
const (
	comQuit            = 0x01
	comPing            = 0x0e
	comResetConnection = 0x1f
)

// MaxMySQLPacketChunk is the largest payload of one MySQL protocol packet;
// longer payloads are split into chunks of this size.
const MaxMySQLPacketChunk = 1<<24 - 1

// MySQLBackendCollation is the collation backend connections are opened
// with (utf8mb4_general_ci, known to MySQL and MariaDB alike).
const MySQLBackendCollation = "utf8mb4_general_ci"

// MySQLStmt is a statement prepared on one backend connection.
type MySQLStmt struct {
	ID      uint32
	Params  uint16
	Columns uint16
	// Types are the parameter types the statement was last executed with
	// (empty: not known), which a COM_STMT_EXECUTE need not send again.
	Types []byte
}

// MySQLConn is a MySQL backend connection used at the protocol level:
// go-mysql's client opens it (TLS, authentication, capabilities), then the
// proxy relays raw protocol packets over it. Fields other than the reader
// and writer are the relay's bookkeeping about what state it holds.
type MySQLConn struct {
	Conn net.Conn
	R    *PacketReader
	W    *bufio.Writer

	// ThreadID is the backend's connection id (for KILL QUERY).
	ThreadID uint32
	// ServerVersion is the version the backend reported at handshake.
	ServerVersion string
	// Prepared maps a statement key (the checked SQL text) to the
	// statement prepared for it on this connection.
	Prepared map[string]*MySQLStmt
	// State is the key of the session settings replayed on the connection
	// ("" for a connection as opened or reset).
	State string

	dsn       MySQLDSN
	cancelled atomic.Bool
}

// MarkCancelled records that a KILL QUERY is (about to be) sent for the
// connection: it is not reused, since the kill may arrive late.
func (c *MySQLConn) MarkCancelled() { c.cancelled.Store(true) }

// Spoiled reports whether the connection must not be reused.
func (c *MySQLConn) Spoiled() bool { return c.cancelled.Load() }

// MySQLDSN is what a MySQL backend connection is opened with.
type MySQLDSN struct {
	Addr     string
	User     string
	Password string
	Database string
	Params   map[string]string
}

// MySQLDialer returns a Dialer for the backend described by dsn. The
// connection supports multiple statements and results, and never LOCAL
// INFILE.
func MySQLDialer(dsn MySQLDSN) Dialer[*MySQLConn] {
	return func(ctx context.Context) (*MySQLConn, error) {
		return dialMySQL(ctx, dsn)
	}
}

func dialMySQL(ctx context.Context, dsn MySQLDSN) (*MySQLConn, error) {
	var raw net.Conn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		} else {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		}
		// Wrapped as it is dialled, so that TLS (layered over it by the
		// client) reads and writes through netio too.
		raw = netio.Wrap(c)
		return raw, nil
	}
	opt := func(c *client.Conn) error {
		c.SetCapability(mysql.CLIENT_MULTI_STATEMENTS | mysql.CLIENT_MULTI_RESULTS | mysql.CLIENT_PS_MULTI_RESULTS)
		c.UnsetCapability(mysql.CLIENT_LOCAL_FILES | mysql.CLIENT_COMPRESS | mysql.CLIENT_FOUND_ROWS)
		if err := c.SetCollation(MySQLBackendCollation); err != nil {
			return err
		}
		switch strings.ToLower(dsn.Params["tls"]) {
		case "true":
			host, _, _ := net.SplitHostPort(dsn.Addr)
			c.SetTLSConfig(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
		case "skip-verify", "preferred":
			c.SetTLSConfig(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // explicitly asked for in the DSN
		}
		return nil
	}
	cc, err := client.ConnectWithDialer(ctx, "", dsn.Addr, dsn.User, dsn.Password, dsn.Database, dial, opt)
	if err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		var me *mysql.MyError
		if errors.As(err, &me) {
			return nil, fmt.Errorf("mysql backend %s: %w", dsn.Addr, me)
		}
		return nil, fmt.Errorf("mysql backend %s: %v", dsn.Addr, err)
	}
	nc := cc.Conn.Conn // the net.Conn (TLS when negotiated) under go-mysql's packet layer
	_ = nc.SetDeadline(time.Time{})
	return &MySQLConn{
		Conn:          nc,
		R:             NewPacketReader(bufio.NewReaderSize(nc, 64*1024), 1<<30),
		W:             bufio.NewWriterSize(nc, 16*1024),
		ThreadID:      cc.GetConnectionID(),
		ServerVersion: cc.GetServerVersion(),
		Prepared:      make(map[string]*MySQLStmt),
		dsn:           dsn,
	}, nil
}

// PingMySQL checks an idle connection with COM_PING.
func PingMySQL(ctx context.Context, c *MySQLConn) error {
	return c.simple(ctx, comPing)
}

// Reset sends COM_RESET_CONNECTION: the backend rolls back any transaction
// and drops session variables, user variables, temporary tables and
// prepared statements. The connection's bookkeeping is cleared with it.
func (c *MySQLConn) Reset(ctx context.Context) error {
	if err := c.simple(ctx, comResetConnection); err != nil {
		return err
	}
	clear(c.Prepared)
	c.State = ""
	return nil
}

// simple sends a command without arguments and expects OK.
func (c *MySQLConn) simple(ctx context.Context, cmd byte) error {
	if d, ok := ctx.Deadline(); ok {
		_ = c.Conn.SetDeadline(d)
		defer func() { _ = c.Conn.SetDeadline(time.Time{}) }()
	}
	if err := WriteMySQLPacket(c.W, 0, []byte{cmd}); err != nil {
		return err
	}
	if err := c.W.Flush(); err != nil {
		return err
	}
	_, p, err := c.R.Next()
	if err != nil {
		return err
	}
	if len(p) > 0 && p[0] == 0xff {
		return ParseMySQLError(p)
	}
	if len(p) == 0 || p[0] != 0x00 {
		return fmt.Errorf("pool: unexpected reply 0x%x to command 0x%x", firstByte(p), cmd)
	}
	return nil
}

func firstByte(p []byte) byte {
	if len(p) == 0 {
		return 0
	}
	return p[0]
}

// Kill asks the backend to stop the statement the connection is running,
// over a new connection (KILL QUERY <thread id>).
func (c *MySQLConn) Kill(ctx context.Context) error {
	c.MarkCancelled()
	k, err := dialMySQL(ctx, c.dsn)
	if err != nil {
		return err
	}
	defer k.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = k.Conn.SetDeadline(d)
	}
	q := append([]byte{0x03}, "KILL QUERY "+strconv.FormatUint(uint64(c.ThreadID), 10)...)
	if err := WriteMySQLPacket(k.W, 0, q); err != nil {
		return err
	}
	if err := k.W.Flush(); err != nil {
		return err
	}
	_, p, err := k.R.Next()
	if err != nil {
		return err
	}
	if len(p) > 0 && p[0] == 0xff {
		return ParseMySQLError(p)
	}
	return nil
}

// Close sends COM_QUIT and closes the connection.
func (c *MySQLConn) Close() error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	if WriteMySQLPacket(c.W, 0, []byte{comQuit}) == nil {
		_ = c.W.Flush()
	}
	return c.Conn.Close()
}

// ParseMySQLError decodes an ERR packet (protocol 4.1) into a *mysql.MyError.
func ParseMySQLError(p []byte) *mysql.MyError {
	e := &mysql.MyError{Code: mysql.ER_UNKNOWN_ERROR, State: "HY000"}
	if len(p) < 3 || p[0] != 0xff {
		e.Message = "malformed error packet"
		return e
	}
	e.Code = binary.LittleEndian.Uint16(p[1:3])
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.State = string(rest[1:6])
		rest = rest[6:]
	}
	e.Message = string(rest)
	return e
}

// PacketReader reads MySQL protocol packets, joining chunked payloads, and
// refuses payloads over a maximum size. A returned payload is only valid
// until the next call.
type PacketReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewPacketReader returns a reader of packets from r of at most max bytes.
func NewPacketReader(r *bufio.Reader, max int) *PacketReader {
	// The buffer grows to the packets read: a small one to begin with, as
	// most readers are idle client connections reading small commands.
	return &PacketReader{r: r, max: max, buf: make([]byte, 0, 512)}
}

// ErrPacketTooLarge is returned for a packet over the reader's maximum.
var ErrPacketTooLarge = errors.New("mysql packet too large")

// Buffered returns the number of bytes read ahead and not consumed.
func (pr *PacketReader) Buffered() int { return pr.r.Buffered() }

// Next reads one packet and returns its sequence id and payload.
func (pr *PacketReader) Next() (seq byte, payload []byte, err error) {
	pr.buf = pr.buf[:0]
	first := true
	for {
		hdr, err := pr.r.Peek(4)
		if err != nil {
			if !first && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
		n := int(uint32(hdr[0]) | uint32(hdr[1])<<8 | uint32(hdr[2])<<16)
		s := hdr[3]
		if _, err := pr.r.Discard(4); err != nil {
			return 0, nil, err
		}
		if first {
			seq = s
		}
		if len(pr.buf)+n > pr.max {
			return 0, nil, fmt.Errorf("%w: over %d bytes", ErrPacketTooLarge, pr.max)
		}
		if n <= pr.r.Buffered() && first && n < MaxMySQLPacketChunk {
			// Fast path: the whole packet is in the buffer. Copy it so the
			// payload survives further reads of the same reader's buffer.
			b, _ := pr.r.Peek(n)
			pr.buf = append(pr.buf, b...)
			_, _ = pr.r.Discard(n)
			return seq, pr.buf, nil
		}
		start := len(pr.buf)
		pr.buf = slices.Grow(pr.buf, n)[:start+n]
		if _, err := io.ReadFull(pr.r, pr.buf[start:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
		first = false
		if n < MaxMySQLPacketChunk {
			return seq, pr.buf, nil
		}
	}
}

// Shrink drops a large buffer kept from an earlier big packet.
func (pr *PacketReader) Shrink() {
	if cap(pr.buf) > 1<<20 {
		pr.buf = make([]byte, 0, 16*1024)
	}
}

// WriteMySQLPacket writes payload as one packet (or several chunks) starting
// at sequence id seq and returns nothing but the write error; the caller
// tracks sequence ids for chunked payloads with MySQLPacketCount.
func WriteMySQLPacket(w *bufio.Writer, seq byte, payload []byte) error {
	for {
		n := len(payload)
		if n > MaxMySQLPacketChunk {
			n = MaxMySQLPacketChunk
		}
		// The header goes byte by byte: a [4]byte passed to Write would
		// escape to the heap, one allocation per packet.
		for _, c := range [4]byte{byte(n), byte(n >> 8), byte(n >> 16), seq} {
			if err := w.WriteByte(c); err != nil {
				return err
			}
		}
		if _, err := w.Write(payload[:n]); err != nil {
			return err
		}
		seq++
		payload = payload[n:]
		if n < MaxMySQLPacketChunk {
			return nil
		}
	}
}

// MySQLPacketCount is the number of sequence ids a payload of n bytes uses.
func MySQLPacketCount(n int) int { return n/MaxMySQLPacketChunk + 1 }
