package lmtp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// TestStopDrainsTransactionsInFlight checks shutdown: Stop closes the
// listener and the idle sessions at once, lets a transaction in flight
// finish with its answers (stored), then closes that session and returns.
func TestStopDrainsTransactionsInFlight(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	idle := r.dial(t)
	busy := r.dial(t)
	require.NoError(t, busy.Mail("alice@example.com", nil))
	require.NoError(t, busy.Rcpt("a@example.org", nil))
	require.NoError(t, busy.Rcpt("b@example.org", nil))
	w, err := busy.Data()
	require.NoError(t, err)
	msg := message("drain")
	half := len(msg) / 2
	_, err = w.Write([]byte(msg[:half]))
	require.NoError(t, err)

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- r.srv.Stop(ctx)
	}()
	testwait.Until(t, 10*time.Second, "the listener to report it is shutting down", func() bool {
		err := r.srv.Ping(context.Background())
		return err != nil && strings.Contains(err.Error(), "shutting down")
	})
	testwait.Until(t, 10*time.Second, "the idle session to be closed", func() bool { return idle.Noop() != nil })
	_, err = net.DialTimeout("tcp", r.srv.Addr().String(), time.Second)
	require.Error(t, err, "no new connections")
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before the transaction in flight ended: %v", err)
	default:
	}

	_, err = w.Write([]byte(msg[half:]))
	require.NoError(t, err)
	resp, err := w.CloseWithLMTPResponse()
	require.NoError(t, err)
	require.Len(t, resp, 2)
	for _, d := range resp {
		require.Contains(t, d.StatusText, "stored as email")
	}
	require.NoError(t, <-stopped)
	require.Error(t, busy.Noop(), "the session is closed after its transaction")
	require.Len(t, r.emails(t), 2)
}

// TestStopCutsOffWhenItsTimeIsUp checks that a transaction still in flight
// when Stop's ctx ends is cut off: Stop returns an error naming it, and
// nothing of it is stored.
func TestStopCutsOffWhenItsTimeIsUp(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	c := r.dial(t)
	require.NoError(t, c.Mail("alice@example.com", nil))
	require.NoError(t, c.Rcpt("a@example.org", nil))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte("Subject: never finished\r\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = r.srv.Stop(ctx)
	require.ErrorContains(t, err, "LMTP transactions in flight cut off")
	require.Error(t, c.Noop(), "the session is closed")
	require.Empty(t, r.emails(t))
}
