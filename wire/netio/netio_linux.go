package netio

import "syscall"

// fcntlFlags is fcntl(fd, F_GETFL).
func fcntlFlags(fd uintptr) (int, error) {
	fl, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(fl), nil
}

func errnoOf(n int, err error) (int, syscall.Errno) {
	if err != nil {
		if errno, ok := err.(syscall.Errno); ok {
			return 0, errno
		}
		return 0, syscall.EIO
	}
	return n, 0
}
