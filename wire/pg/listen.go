package pg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// LISTEN/NOTIFY. A session that LISTENs keeps its backend connection, and
// while the client sends nothing the backend's asynchronous messages
// (NotificationResponse, NoticeResponse, ParameterStatus) are relayed to it
// as a direct connection would deliver them. When an UNLISTEN leaves the
// backend listening on no channel, the connection is released again.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-ASYNC

// backendWatch relays a backend's asynchronous messages while the session
// is idle.
type backendWatch struct {
	be       *pool.PGConn
	stopping atomic.Bool
	done     chan error
}

// watchBackend starts relaying the held backend's asynchronous messages to
// the client; it returns nil when there is nothing to watch. The caller
// stops it before it uses the client writer or the backend again.
func (s *session) watchBackend() *backendWatch {
	if s.be == nil || !s.listening || len(s.exp) > 0 || len(s.out) > 0 {
		return nil
	}
	wt := &backendWatch{be: s.be.Conn, done: make(chan error, 1)}
	go func() {
		err := s.relayAsync(wt)
		if err != nil && !wt.stopping.Load() {
			// Wake the session: its backend is gone.
			_ = s.c.nc.SetReadDeadline(time.Now())
		}
		wt.done <- err
	}()
	return wt
}

// stop ends the relay and reports a backend failure it met.
func (wt *backendWatch) stop() error {
	wt.stopping.Store(true)
	_ = wt.be.Conn.SetReadDeadline(time.Now())
	err := <-wt.done
	_ = wt.be.Conn.SetReadDeadline(time.Time{})
	return err
}

// errBackendEnded is a backend that ended the connection while idle.
var errBackendEnded = errors.New("the backend ended the connection")

// relayAsync forwards whole frames only: a frame is peeked in full before
// it is consumed, so stopping (a read deadline) never splits one.
func (s *session) relayAsync(wt *backendWatch) error {
	r := wt.be.R
	for {
		hdr, err := r.Peek(5)
		if err == nil {
			n := int(binary.BigEndian.Uint32(hdr[1:5])) - 4
			if n < 0 || 5+n > r.Size() {
				return fmt.Errorf("backend message %q of %d bytes while idle", hdr[0], n)
			}
			var frame []byte
			if frame, err = r.Peek(5 + n); err == nil {
				typ := frame[0]
				switch typ {
				case 'A', 'N', 'S', 'E':
				default:
					return fmt.Errorf("unexpected backend message %q while idle", typ)
				}
				if _, werr := s.c.writer().Write(frame); werr == nil {
					_ = s.c.flush()
				}
				_, _ = r.Discard(5 + n)
				if typ == 'E' {
					return errBackendEnded // a FATAL error: the backend closes
				}
				continue
			}
		}
		var ne net.Error
		if wt.stopping.Load() && errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	}
}

// listenerCheck runs once an UNLISTEN may have left the backend listening
// on no channel: it asks the backend, and drops the LISTEN pin if so.
func (s *session) listenerCheck() error {
	if !s.unlistened || !s.listening || s.be == nil || s.tx != 'I' {
		return nil
	}
	s.unlistened = false
	be := s.be.Conn
	_ = be.Conn.SetDeadline(time.Now().Add(replayTimeout))
	defer func() { _ = be.Conn.SetDeadline(time.Time{}) }()
	if _, err := be.W.Write(appendQuery(nil, "SELECT 1 FROM pg_catalog.pg_listening_channels() LIMIT 1")); err != nil {
		return s.backendLost(err)
	}
	if err := be.W.Flush(); err != nil {
		return s.backendLost(err)
	}
	rows, failed := 0, false
	for {
		typ, body, err := pool.ReadPGMessage(be.R, 1<<20)
		if err != nil {
			return s.backendLost(err)
		}
		switch typ {
		case 'D':
			rows++
		case 'E':
			failed = true
		case 'A', 'N', 'S':
			// For the client, as they would reach it on a direct connection.
			if err := writeFrame(s.c.writer(), typ, body); err != nil {
				return err
			}
		case 'Z':
			if len(body) != 1 || body[0] != 'I' {
				return s.abortBackend(sqlerr.New(sqlerr.Internal, "backend of tenant %q left idle state while checking its listeners", s.b.Tenant.ID))
			}
			if rows == 0 && !failed {
				s.listening = false
			}
			return nil
		}
	}
}
