package pool

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tenantproxy/tenantproxy/wire/netio"
)

// PGConn is a Postgres backend connection used at the protocol level: pgconn
// opens it (TLS, authentication, startup), then the proxy relays raw protocol
// messages over it. Fields other than the buffered reader and writer are the
// relay's bookkeeping about what state the connection holds.
type PGConn struct {
	Conn net.Conn
	R    *bufio.Reader
	W    *bufio.Writer

	PID       uint32
	SecretKey []byte
	Params    map[string]string // ParameterStatus values reported at startup

	// Prepared holds the names of statements prepared on this connection,
	// at most MaxPGPrepared of them.
	Prepared *PreparedSet
	// Unnamed is the key of the statement currently in the connection's
	// unnamed prepared-statement slot ("" when unknown).
	Unnamed string
	// State is the key of the session settings replayed on the connection.
	State string

	cancelNet, cancelAddr string
	cancelled             atomic.Bool
}

// MarkCancelled records that a cancel request is (about to be) sent for the
// connection: it is not reused, since the cancel may arrive late.
func (c *PGConn) MarkCancelled() { c.cancelled.Store(true) }

// Spoiled reports whether the connection must not be reused.
func (c *PGConn) Spoiled() bool { return c.cancelled.Load() }

// PostgresDialer returns a Dialer that connects with cfg (a parsed DSN;
// runtime parameters such as search_path are sent at startup).
func PostgresDialer(cfg *pgconn.Config) Dialer[*PGConn] {
	// The socket is wrapped as it is dialled, so that a TLS connection
	// (which pgconn layers over what it dials) reads and writes through
	// netio too.
	cfg = cfg.Copy()
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return netio.Wrap(nc), nil
	}
	return func(ctx context.Context) (*PGConn, error) {
		pc, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := pc.SyncConn(ctx); err != nil {
			_ = pc.Close(ctx)
			return nil, err
		}
		h, err := pc.Hijack()
		if err != nil {
			_ = pc.Close(ctx)
			return nil, err
		}
		network, addr := "tcp", h.Conn.RemoteAddr().String()
		if h.Conn.RemoteAddr().Network() == "unix" {
			network = "unix"
		}
		_ = h.Conn.SetDeadline(time.Time{})
		return &PGConn{
			Conn:       h.Conn,
			R:          bufio.NewReaderSize(h.Conn, 32*1024),
			W:          bufio.NewWriterSize(h.Conn, 32*1024),
			PID:        h.PID,
			SecretKey:  h.SecretKey,
			Params:     h.ParameterStatuses,
			Prepared:   NewPreparedSet(MaxPGPrepared),
			cancelNet:  network,
			cancelAddr: addr,
		}, nil
	}
}

// pingTimeout bounds a ping whose context has no earlier deadline: a
// backend that does not answer must not hold the acquiring client.
const pingTimeout = 5 * time.Second

// PingPostgres checks an idle connection with an empty query, within ctx
// and at most pingTimeout.
func PingPostgres(ctx context.Context, c *PGConn) error {
	d := time.Now().Add(pingTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	_ = c.Conn.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { _ = c.Conn.SetDeadline(time.Now()) })
	defer func() {
		if stop() {
			_ = c.Conn.SetDeadline(time.Time{})
		}
	}()
	q, _ := (&pgproto3.Query{String: ";"}).Encode(nil)
	if _, err := c.W.Write(q); err != nil {
		return err
	}
	if err := c.W.Flush(); err != nil {
		return err
	}
	for {
		typ, body, err := ReadPGMessage(c.R, 1<<20)
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			return fmt.Errorf("pool: ping failed")
		case 'Z':
			if len(body) != 1 || body[0] != 'I' {
				return fmt.Errorf("pool: ping found the connection in transaction state %q", body)
			}
			return nil
		}
	}
}

// ReadPGMessage reads one backend message: its type and body. The body is
// only valid until the next read. Messages over max bytes are an error.
func ReadPGMessage(r *bufio.Reader, max int) (byte, []byte, error) {
	hdr, err := r.Peek(5)
	if err != nil {
		return 0, nil, err
	}
	typ := hdr[0]
	n := int(binary.BigEndian.Uint32(hdr[1:5])) - 4
	if n < 0 || n > max {
		return 0, nil, fmt.Errorf("pool: backend message %q of %d bytes is out of bounds", typ, n)
	}
	if _, err := r.Discard(5); err != nil {
		return 0, nil, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return typ, body, nil
}

// Cancel asks the backend to cancel whatever the connection is running, on a
// new connection, as the protocol's CancelRequest does.
func (c *PGConn) Cancel(ctx context.Context) error {
	c.MarkCancelled()
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.cancelNet, c.cancelAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	msg, err := (&pgproto3.CancelRequest{ProcessID: c.PID, SecretKey: c.SecretKey}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	// The server closes the connection once it has read the request.
	_, _ = conn.Read(make([]byte, 1))
	return nil
}

// Close sends Terminate and closes the connection.
func (c *PGConn) Close() error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.W.Write([]byte{'X', 0, 0, 0, 4})
	_ = c.W.Flush()
	return c.Conn.Close()
}
