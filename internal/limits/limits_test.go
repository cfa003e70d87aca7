package limits_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/limits"
)

func TestTextCountsCharactersNotBytes(t *testing.T) {
	require.Equal(t, "", limits.Text(strings.Repeat("é", limits.Mailbox), limits.Mailbox), "510 bytes, 255 characters")
	require.Equal(t, "is longer than 255 characters", limits.Text(strings.Repeat("é", limits.Mailbox+1), limits.Mailbox))
	require.Equal(t, "", limits.Text(strings.Repeat("😀", 4), 4))
	require.Equal(t, "is not valid UTF-8", limits.Text("a\xff", 10))
	require.Equal(t, "must not contain NUL bytes", limits.Text("a\x00", 10))
	require.Equal(t, "", limits.Text(strings.Repeat("x", 1<<16), -1), "unbounded")
}
