package lmtp

import (
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// TestPostgresSilentGets451ThenStoresOnce checks a PostgreSQL that stops
// answering: every recipient gets 451 4.3.0 once the listener's timeout is
// up (never a 554 bounce), and the MTA's retries after PostgreSQL is back
// get 250 and store each recipient's email once.
func TestPostgresSilentGets451ThenStoresOnce(t *testing.T) {
	t.Parallel()
	r := start(t, Config{Timeout: 2 * time.Second}, true)
	rcpts := []string{"a@example.org", "b@example.org"}
	msg := message("outage")
	r.proxy.BlackHole()
	began := time.Now()
	answers := send(t, r.dial(t), "alice@example.com", rcpts, msg)
	for _, a := range answers {
		e := requireCode(t, a, 451, smtp.EnhancedCode{4, 3, 0})
		require.Contains(t, e.Message, "try again later")
	}
	require.Less(t, time.Since(began), 10*time.Second)
	// The transactions cut off may still commit once PostgreSQL answers
	// again: the MTA's retry gets 250 either way, and stores nothing twice.
	r.proxy.Restore()
	for _, a := range send(t, r.dial(t), "alice@example.com", rcpts, msg) {
		requireOK(t, a)
	}
	for _, a := range send(t, r.dial(t), "alice@example.com", rcpts, msg) {
		requireStored(t, a, true)
	}
	require.Len(t, r.emails(t), 2)
	require.Equal(t, 2.0, r.metric(t, "mailsync_lmtp_recipients_total", "tempfail"))
}

// TestPostgresDownGets451 checks a PostgreSQL that refuses connections:
// 451 4.3.0 for every recipient, at once.
func TestPostgresDownGets451(t *testing.T) {
	t.Parallel()
	r := start(t, Config{Timeout: 20 * time.Second}, true)
	r.proxy.Refuse()
	began := time.Now()
	for _, a := range send(t, r.dial(t), "alice@example.com", []string{"a@example.org", "b@example.org"}, message("down")) {
		requireCode(t, a, 451, smtp.EnhancedCode{4, 3, 0})
	}
	require.Less(t, time.Since(began), 15*time.Second, "answered before the timeout")
}
