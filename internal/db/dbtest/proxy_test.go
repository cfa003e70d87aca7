package dbtest_test

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
)

// echoServer answers every line it reads with the same line, until t ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// client is a connection through the proxy that sends and reads lines.
type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

func (c *client) send(t *testing.T, line string) {
	t.Helper()
	_, err := c.c.Write([]byte(line + "\n"))
	require.NoError(t, err)
}

// read returns the next line, or the error of a read that got none within
// wait (os.ErrDeadlineExceeded: nothing came through).
func (c *client) read(wait time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	return c.r.ReadString('\n')
}

// TestProxyBlackHoleRestoreRefuse: a proxy forwards; black-holed, it holds
// the bytes of open and new connections without closing them; restored, it
// delivers what it held; refusing, it closes its connections and its port.
func TestProxyBlackHoleRestoreRefuse(t *testing.T) {
	t.Parallel()
	p := dbtest.NewProxy(t, echoServer(t))
	open := dial(t, p.Addr)
	open.send(t, "one")
	line, err := open.read(time.Minute)
	require.NoError(t, err)
	require.Equal(t, "one\n", line)

	p.BlackHole()
	open.send(t, "two")
	late := dial(t, p.Addr)
	late.send(t, "three")
	for _, c := range []*client{open, late} {
		_, err := c.read(200 * time.Millisecond)
		require.True(t, errors.Is(err, os.ErrDeadlineExceeded), "nothing comes back through a black hole, the connection stays open: %v", err)
	}

	p.Restore()
	line, err = open.read(time.Minute)
	require.NoError(t, err)
	require.Equal(t, "two\n", line, "the held bytes are delivered")
	line, err = late.read(time.Minute)
	require.NoError(t, err)
	require.Equal(t, "three\n", line, "a connection made during the black hole goes through")

	p.Refuse()
	_, err = open.read(time.Minute)
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "a refusing proxy closes its connections")
	_, err = net.Dial("tcp", p.Addr)
	require.Error(t, err, "a refusing proxy's port is closed")
}
