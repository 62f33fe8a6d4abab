//go:build !linux

package netio

import "syscall"

const enabled = false

func sysRead(uintptr, []byte) (int, syscall.Errno)  { return 0, syscall.ENOSYS }
func sysWrite(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.ENOSYS }
func fcntlFlags(uintptr) (int, error)               { return 0, syscall.ENOSYS }
