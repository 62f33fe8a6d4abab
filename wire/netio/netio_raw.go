//go:build linux && !race && !msan && !asan

package netio

import (
	"syscall"
	"unsafe"
)

const enabled = true

// rawMax is the largest read or write made as a raw call. A raw call keeps
// its P until the kernel returns, which holds up the collector's
// stop-the-world for as long; a larger buffer (a multi-megabyte row, written
// past bufio) goes through the ordinary call, whose P hand-off costs little
// next to copying that much.
const rawMax = 64 << 10

// sysRead and sysWrite are read(2) and write(2) as raw system calls: the
// goroutine keeps its P, which a non-blocking socket's call allows.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) > rawMax {
		return errnoOf(syscall.Read(int(fd), p))
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) > rawMax {
		return errnoOf(syscall.Write(int(fd), p))
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}
