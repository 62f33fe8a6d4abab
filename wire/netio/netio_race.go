//go:build linux && (race || msan || asan)

package netio

import "syscall"

const enabled = true

// Under the race detector (and msan, asan) the callbacks make the ordinary
// system calls, which tell the detector that what was written to a socket
// happens before what is read from it (and that what was read is
// initialised).
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Read(int(fd), p)) }

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) { return errnoOf(syscall.Write(int(fd), p)) }
