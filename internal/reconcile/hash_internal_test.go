package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/email"
	"mailsync/internal/mongostore"
)

// The streamed hash of a large document is the content hash of its email,
// whatever the bodies hold: characters JSON escapes, multi-byte runes and
// invalid bytes across piece boundaries, or nothing.
func TestStreamedHashEqualsContentHash(t *testing.T) {
	saved := streamChunk
	streamChunk = 7 // pieces cut inside everything below
	t.Cleanup(func() { streamChunk = saved })
	bodies := []string{
		"", "plain", strings.Repeat("<p>a & b</p>\u2028\u2029\"\\\t\n", 5), strings.Repeat("é€😀", 9),
		"bad \xff\xfe bytes \xe2\x82 cut \xe2\x82\xac ok" + strings.Repeat("\x80", 20), textMark[1:],
	}
	for i, text := range bodies {
		html := bodies[(i+1)%len(bodies)]
		c := email.Content{ClientID: "c", MessageID: "<m@x>", From: "a@x", To: []string{"b@x"}, Subject: "s <&>",
			TextBody: text, HTMLBody: html, Headers: map[string][]string{"X-A": {"1"}},
			ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		c.Normalize()
		want := c.Hash()
		raw, err := bson.Marshal(mongostore.FromEmail(email.Stored{Content: c, ID: int64(i + 1), Version: 2, ContentHash: want}, time.Now()))
		require.NoError(t, err)
		got, ok := summarizeLarge(raw)
		require.True(t, ok, "body %d", i)
		require.Equal(t, want, got.hash, "body %d", i)
		require.Equal(t, summarize(raw), got, "body %d: the same summary as a whole decode", i)
	}
}
