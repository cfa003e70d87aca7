package lmtp

import (
	"log/slog"
	"mailsync/internal/testlog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoredDeliveryLogsNoAddress: every stored delivery logged its
// recipient's address, which an erasure of the email cannot remove from
// the logs. The line names the email instead; a refused delivery (nothing
// stored) still names its recipient. Not parallel: it swaps slog's default
// logger. (Failed before: the address was in the log.)
func TestStoredDeliveryLogsNoAddress(t *testing.T) {
	var logs testlog.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	r := start(t, Config{}, false)
	rcpt := "private.person@example.org"
	requireStored(t, send(t, r.dial(t), "alice@example.com", []string{rcpt}, message("private"))[rcpt], false)
	require.Contains(t, logs.String(), "LMTP delivery stored")
	require.NotContains(t, logs.String(), rcpt)

	send(t, r.dial(t), "alice@example.com", []string{"refused@example.org"}, "no header at all\r\n")
	require.Contains(t, logs.String(), "refused@example.org")
}
