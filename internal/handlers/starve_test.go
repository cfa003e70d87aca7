package handlers_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/handlers"
	"mailsync/internal/testwait"
)

// serveLimited serves a handler that answers 200 behind NewServer's
// connection limits and returns its address.
func serveLimited(t *testing.T, cfg handlers.ServerConfig) (*handlers.Server, string) {
	t.Helper()
	srv := handlers.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, ln.Addr().String()
}

// holdSilent keeps n connections from local IP from to addr open that
// never send anything, opening a new one whenever the server closes one,
// until ctx ends.
func holdSilent(ctx context.Context, from, addr string, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					continue
				}
				stop := context.AfterFunc(ctx, func() { _ = c.Close() })
				_, _ = io.Copy(io.Discard, c) // until the server (or ctx) closes it
				stop()
				_ = c.Close()
			}
		})
	}
	return &wg
}

// TestSilentConnectionsCannotStarveOthers is finding 11: holding
// MAX_CONNECTIONS connections that never send a request kept the service
// down (new connections waited in the backlog until the header timeout
// freed a slot, and re-opening them kept it down). While twice
// MAX_CONNECTIONS silent connections are held from two addresses (and
// re-opened as soon as the server closes them), every legitimate request
// from a third address, each on a new connection, is answered within 1 s.
// (Failed before: the first request waited ~10 s.)
func TestSilentConnectionsCannotStarveOthers(t *testing.T) {
	t.Parallel()
	const maxConns = 8
	srv, addr := serveLimited(t, handlers.ServerConfig{MaxConnections: maxConns})
	ctx, cancel := context.WithCancel(context.Background())
	heldA := holdSilent(ctx, "127.0.0.3", addr, maxConns)
	heldB := holdSilent(ctx, "127.0.0.4", addr, maxConns)
	defer func() { cancel(); heldA.Wait(); heldB.Wait() }()
	// The silent connections fill every slot first.
	testwait.Until(t, 30*time.Second, "the silent connections to fill every slot",
		func() bool { return srv.OpenConnections() >= maxConns })
	require.Equal(t, maxConns, srv.OpenConnections(), "the silent connections hold every slot")

	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}, Timeout: 5 * time.Second}
	for i := range 20 {
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/")
		require.NoError(t, err, "request %d", i)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Less(t, time.Since(start), time.Second, "request %d waited behind silent connections", i)
		require.LessOrEqual(t, srv.OpenConnections(), maxConns)
	}
}

// TestConnectionWithoutARequestLineIsClosed: a connection that does not
// send a whole request line within RequestLineTimeout is closed, and one
// client address holds at most MaxConnectionsPerAddress connections (a new
// one takes the place of its oldest silent one).
func TestConnectionWithoutARequestLineIsClosed(t *testing.T) {
	t.Parallel()
	srv, addr := serveLimited(t, handlers.ServerConfig{MaxConnections: 10, MaxConnectionsPerAddress: 3,
		RequestLineTimeout: 300 * time.Millisecond})
	for _, sent := range []string{"", "GET / HT"} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = io.WriteString(c, sent)
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = c.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF, "sent %q: closed by the server", sent)
		require.Less(t, time.Since(start), 5*time.Second)
		_ = c.Close()
	}

	var conns []net.Conn
	for range 6 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conns = append(conns, c)
		t.Cleanup(func() { _ = c.Close() })
	}
	closed := 0
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	require.GreaterOrEqual(t, closed, 3, "the address held more than 3 connections")
	require.LessOrEqual(t, srv.OpenConnections(), 3)
}
