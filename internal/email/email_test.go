package email_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

func valid() email.Content {
	return email.Content{
		ClientID: "c", MessageID: "<1@example.com>", From: "a@example.com", To: []string{"b@example.com"},
		ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
}

func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	require.Error(t, err)
	e := apperr.As(err)
	require.Equal(t, apperr.Invalid, e.Code)
	out := map[string]string{}
	for _, f := range e.Fields {
		out[f.Field] = f.Message
	}
	return out
}

func TestValidateAcceptsMinimalEmail(t *testing.T) {
	c := valid()
	require.NoError(t, c.Validate())
}

func TestValidateNamesEveryFailingField(t *testing.T) {
	c := email.Content{
		From:        "a\x00b",
		To:          []string{"ok@example.com", ""},
		Subject:     string([]byte{0xff, 0xfe}),
		Mailbox:     strings.Repeat("m", 256),
		Attachments: []email.Attachment{{SHA256: "ABC", SizeBytes: -1}},
		ReceivedAt:  time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	got := fields(t, c.Validate())
	require.Equal(t, "is required", got["message_id"])
	require.Equal(t, "must not contain NUL bytes", got["from"])
	require.Equal(t, "is required", got["to[1]"])
	require.Equal(t, "is not valid UTF-8", got["subject"])
	require.Contains(t, got["mailbox"], "longer than 255")
	require.Contains(t, got["attachments[0].sha256"], "64 lowercase hex")
	require.Contains(t, got["attachments[0].size_bytes"], "negative")
	require.Contains(t, got["received_at"], "1970")
}

func TestValidateRequiresRecipientsAndTime(t *testing.T) {
	c := valid()
	c.To = nil
	c.ReceivedAt = time.Time{}
	got := fields(t, c.Validate())
	require.Contains(t, got, "to")
	require.Equal(t, "is required", got["received_at"])
}

func TestHashIsCanonical(t *testing.T) {
	a := valid()
	b := valid()
	b.To = append([]string(nil), a.To...)
	b.Cc = []string{} // nil and empty are the same content
	b.Headers = map[string][]string{}
	b.ReceivedAt = a.ReceivedAt.Add(400 * time.Microsecond).In(time.FixedZone("x", 3600))
	require.Equal(t, a.Hash(), b.Hash(), "normalisation: empty collections, UTC, milliseconds")
	require.Len(t, a.Hash(), 64)

	a.Headers = map[string][]string{"B": {"2"}, "A": {"1"}}
	b.Headers = map[string][]string{"A": {"1"}, "B": {"2"}}
	require.Equal(t, a.Hash(), b.Hash(), "header order does not matter")
}

func TestHashChangesWithEveryReplicatedField(t *testing.T) {
	base := valid()
	h := base.Hash()
	for name, change := range map[string]func(*email.Content){
		"client":      func(c *email.Content) { c.ClientID = "other" },
		"subject":     func(c *email.Content) { c.Subject = "s" },
		"to":          func(c *email.Content) { c.To = []string{"x@example.com"} },
		"header":      func(c *email.Content) { c.Headers = map[string][]string{"X": {"1"}} },
		"attachment":  func(c *email.Content) { c.Attachments = []email.Attachment{{Filename: "a"}} },
		"received_at": func(c *email.Content) { c.ReceivedAt = c.ReceivedAt.Add(time.Millisecond) },
		"text_body":   func(c *email.Content) { c.TextBody = "t" },
		"defects":     func(c *email.Content) { c.ParseDefects = []string{"nul_bytes"} },
		"auth": func(c *email.Content) {
			c.AuthResults = &email.AuthResults{DMARC: &email.AuthVerdict{Result: "fail", AuthservID: "mx"}}
		},
	} {
		c := valid()
		change(&c)
		require.NotEqual(t, h, c.Hash(), name)
	}
}

// TestHashWithoutDefectsOrVerdictsIsUnchanged: an email without parse
// defects or verdicts has the canonical JSON it had before they existed,
// so the hashes stored for earlier emails stay valid on both stores.
func TestHashWithoutDefectsOrVerdictsIsUnchanged(t *testing.T) {
	a := valid()
	b := valid()
	b.ParseDefects = []string{}
	b.AuthResults = &email.AuthResults{DKIM: []email.AuthVerdict{}}
	require.Equal(t, a.Hash(), b.Hash())
	require.NotContains(t, string(b.Canonical()), "parse_defects")
	require.NotContains(t, string(b.Canonical()), "auth_results")
}
