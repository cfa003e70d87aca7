//go:build unix

package handlers

import (
	"net"
	"syscall"
)

// pending reports whether bytes have arrived on c that nobody has read yet
// (a request the server is about to read): such a connection is not
// silent, whatever it has read so far.
func pending(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	// Control, not Read: the server's goroutine may be blocked reading the
	// connection, holding its read lock.
	_ = raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	return n > 0
}
