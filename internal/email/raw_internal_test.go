package email

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func goldenContent() Content {
	return Content{ClientID: "mta", MessageID: "<a@example.com>", Mailbox: "support", From: "a@example.com",
		To: []string{"b@example.org"}, Subject: "Hi", TextBody: "Hello", Headers: map[string][]string{"X-A": {"1"}},
		Attachments: []Attachment{{Filename: "a.pdf", ContentType: "application/pdf", SizeBytes: 3,
			SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		RawSizeBytes: 42, ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
}

// TestHashStableWithoutEnvelope checks that an email without envelope or
// raw-message flags hashes exactly as before those fields existed (the
// golden value was computed by the code without them), so stored emails and
// their MongoDB documents still agree after an upgrade.
func TestHashStableWithoutEnvelope(t *testing.T) {
	t.Parallel()
	c := goldenContent()
	require.Equal(t, "a916282da9fc9ce619422f4abc02c38ae5d12cae1f1c5f285ae6bdb822d43496", c.Hash())
	c.EnvelopeTo = []string{}
	require.Equal(t, "a916282da9fc9ce619422f4abc02c38ae5d12cae1f1c5f285ae6bdb822d43496", c.Hash())
}

// TestHashCoversEnvelopeAndFlags checks that every new member changes the
// hash: they are replicated content.
func TestHashCoversEnvelopeAndFlags(t *testing.T) {
	t.Parallel()
	base := goldenContent().Hash()
	for name, change := range map[string]func(*Content){
		"envelope_from": func(c *Content) { c.EnvelopeFrom = "x@example.net" },
		"envelope_to":   func(c *Content) { c.EnvelopeTo = []string{"x@example.net"} },
		"generated":     func(c *Content) { c.MessageIDGenerated = true },
		"incomplete":    func(c *Content) { c.Incomplete = true },
	} {
		c := goldenContent()
		change(&c)
		require.NotEqual(t, base, c.Hash(), name)
	}
}
