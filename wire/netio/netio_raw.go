//go:build linux && !race

package netio

import (
	"syscall"
	"unsafe"
)

const enabled = true

// sysRead and sysWrite are read(2) and write(2) as raw system calls: the
// goroutine keeps its P, which a non-blocking socket's call allows.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}
