//go:build linux && race

package netio

import "syscall"

const enabled = true

// Under the race detector the callbacks make the ordinary system calls,
// which tell the detector that what was written to a socket happens before
// what is read from it.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Read(int(fd), p)) }

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Write(int(fd), p)) }

func errnoOf(n int, err error) (int, syscall.Errno) {
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}
