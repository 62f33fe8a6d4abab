// Package netio gives the relay's sockets reads and writes that stay on the
// goroutine's scheduler slot.
//
// A read or write through net.Conn is a blocking system call to the Go
// runtime: the goroutine enters it leaving its P (the right to run Go code)
// free to be taken, and on a loaded machine the runtime's monitor takes it
// when the call outlasts 20µs, starting another OS thread for the other
// goroutines; when the call returns, its thread finds the P gone, queues
// the goroutine and sleeps. On loopback TCP, where one write runs the
// receiver's network stack too, that hand-off is the common case, and it is
// where most of a relay's CPU goes: two thread context switches per system
// call, for calls that never block because the sockets are non-blocking.
//
// Conn does the same reads and writes as "raw" system calls that keep the
// P, through the socket's syscall.RawConn: the descriptor is held for the
// call (a concurrent Close cannot hand its number to another connection
// mid-call), a socket with nothing to read or no room to write waits in Go's
// poller as net.Conn does, and deadlines and Close end that wait as they
// end net.Conn's. Builds with the race detector use the ordinary system
// calls inside the same callbacks, so that the detector sees the
// synchronisation the socket provides.
package netio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// Conn is a TCP or Unix socket whose Read and Write are raw system calls.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	rmu   sync.Mutex // one Read at a time: the fields below are its arguments
	rbuf  []byte
	rn    int
	rerr  syscall.Errno
	rfunc func(uintptr) bool

	wmu   sync.Mutex
	wbuf  []byte
	wn    int
	werr  syscall.Errno
	wfunc func(uintptr) bool
}

// Wrap returns nc as a *Conn when it is a stream socket whose descriptor
// can be reached and is non-blocking (as Go's net package leaves it), and
// nc itself otherwise (a TLS connection, a pipe in a test). A *Conn is
// returned as it is.
func Wrap(nc net.Conn) net.Conn {
	if !enabled {
		return nc
	}
	if _, ok := nc.(*Conn); ok {
		return nc
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nc
	}
	switch nc.LocalAddr().Network() {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nc // a datagram socket: a read of an empty datagram is not EOF
	}
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return nc
	}
	// A raw call on a blocking descriptor would sleep in the kernel holding
	// its P (and stop the collector's stop-the-world from completing):
	// only a descriptor that is non-blocking now is wrapped. Nothing may
	// make it blocking later (net.TCPConn.File does: never call it on a
	// wrapped socket).
	nonblocking := false
	if err := rc.Control(func(fd uintptr) {
		fl, err := fcntlFlags(fd)
		nonblocking = err == nil && fl&syscall.O_NONBLOCK != 0
	}); err != nil || !nonblocking {
		return nc
	}
	c := &Conn{Conn: nc, rc: rc}
	c.rfunc = c.read
	c.wfunc = c.write
	return c
}

// Unwrap returns the socket c wraps. Its File method must not be called:
// the descriptor would become blocking.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// Read reads what the socket has, waiting in the poller only when it has
// nothing.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		// As net.Conn: nothing is read, but a closed socket or a past
		// deadline is still an error.
		if err := c.rc.Read(done); err != nil {
			return 0, c.opError("read", err)
		}
		return 0, nil
	}
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.rfunc)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	c.rmu.Unlock()
	if err != nil {
		return n, c.opError("read", err)
	}
	if errno != 0 {
		return n, c.opError("read", os.NewSyscallError("read", errno))
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// read is the RawConn callback of Read: false asks the poller to wait.
func (c *Conn) read(fd uintptr) bool {
	for {
		n, errno := sysRead(fd, c.rbuf)
		switch errno {
		case 0:
			c.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = errno
			return true
		}
	}
}

// Write writes all of p, waiting in the poller whenever the socket's buffer
// is full.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		if err := c.rc.Write(done); err != nil {
			return 0, c.opError("write", err)
		}
		return 0, nil
	}
	c.wmu.Lock()
	c.wbuf, c.wn, c.werr = p, 0, 0
	err := c.rc.Write(c.wfunc)
	n, errno := c.wn, c.werr
	c.wbuf = nil
	c.wmu.Unlock()
	if err != nil {
		return n, c.opError("write", err)
	}
	if errno != 0 {
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

func done(uintptr) bool { return true }

// write is the RawConn callback of Write.
func (c *Conn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, errno := sysWrite(fd, c.wbuf[c.wn:])
		switch errno {
		case 0:
			if n <= 0 || n > len(c.wbuf)-c.wn {
				// write(2) on a stream socket never does this; a loop
				// that trusted it would spin holding its P.
				c.werr = syscall.EIO
				return true
			}
			c.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = errno
			return true
		}
	}
	return true
}

// opError gives err the shape of net.Conn's errors, so that callers'
// errors.Is(err, net.ErrClosed), os.ErrDeadlineExceeded and net.Error
// checks see the same values: the RawConn's own *net.OpError (its Op is
// "raw-read" or "raw-write") is renamed, a system call's error wrapped.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
