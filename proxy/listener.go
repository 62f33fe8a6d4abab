package proxy

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/tenantproxy/tenantproxy/wire/netio"
)

// Listener runs a front end's accept loop: one goroutine per client
// connection, tracked so that Wait can wait for them all.
type Listener struct {
	wg sync.WaitGroup
}

// Serve accepts connections on ln and runs handle for each until ln is
// closed. Accept errors (such as running out of file descriptors) never end
// the loop: as net/http does, it waits 5ms, doubling up to 1s while the
// errors last, and accepts again.
func (l *Listener) Serve(ln net.Listener, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			delay = acceptBackoff(delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			handle(netio.Wrap(nc))
		}()
	}
}

// Wait waits for every connection handler to return.
func (l *Listener) Wait() { l.wg.Wait() }

// acceptBackoff is the next pause after an accept error.
func acceptBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}
