package proxy

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Listener runs a front end's accept loop: one goroutine per client
// connection, tracked so that Wait can wait for them all.
type Listener struct {
	wg sync.WaitGroup
}

// Serve accepts connections on ln and runs handle for each until ln is
// closed. Temporary accept errors (such as running out of file descriptors)
// are retried after a short pause.
func (l *Listener) Serve(ln net.Listener, handle func(net.Conn)) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			handle(nc)
		}()
	}
}

// Wait waits for every connection handler to return.
func (l *Listener) Wait() { l.wg.Wait() }
