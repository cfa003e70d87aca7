package mongostore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
	"mailsync/internal/mongostore"
)

// TestDocumentSizeIsTheEncodedSize keeps DocumentSize equal to the size of
// the document the relay writes, for emails of several shapes.
func TestDocumentSizeIsTheEncodedSize(t *testing.T) {
	t.Parallel()
	big := email.Content{ClientID: "mta", MessageID: "<1@x>", From: "a@x", To: []string{"b@x", "c@x"},
		Cc: []string{"d@x"}, Subject: "s", TextBody: strings.Repeat("t", 100_000), HTMLBody: "<p>h</p>",
		Headers:     map[string][]string{"Received": {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}, "X-A": {}},
		Attachments: make([]email.Attachment, 12), RawSizeBytes: 123, ReceivedAt: time.Now()}
	for i := range big.Attachments {
		big.Attachments[i] = email.Attachment{Filename: "f.pdf", ContentType: "application/pdf", SizeBytes: 9, SHA256: strings.Repeat("a", 64)}
	}
	raw := email.Content{ClientID: "mta", MessageID: "<g@mailsync.invalid>", MessageIDGenerated: true, Incomplete: true,
		EnvelopeFrom: "bounce@x", EnvelopeTo: []string{"a@x", "b@x"}, Labels: []string{"urgent", "invoice"}, ReceivedAt: time.Now(),
		ParseDefects: []string{"header_8bit", "nul_bytes"},
		AuthResults: &email.AuthResults{
			SPF:   &email.AuthVerdict{Result: "fail", AuthservID: "mx.example", MailFrom: "a@x", Helo: "h"},
			DKIM:  []email.AuthVerdict{{Result: "pass", AuthservID: "mx.example", Domain: "x", Identifier: "@x"}, {Result: "none", AuthservID: "mailsync"}},
			DMARC: &email.AuthVerdict{Result: "fail", AuthservID: "mx.example", HeaderFrom: "x", Reason: "r"},
			ARC:   &email.AuthVerdict{Result: "pass", AuthservID: "mx.example", RemoteIP: "192.0.2.1"},
		}}
	for _, c := range []email.Content{{ClientID: "x"}, big, raw} {
		c.Normalize()
		e := email.Stored{Content: c, ID: 1 << 40, Version: 3, ContentHash: strings.Repeat("0", 64)}
		b, err := bson.Marshal(mongostore.FromEmail(e, time.Now()))
		require.NoError(t, err)
		require.Equal(t, len(b), mongostore.DocumentSize(c))
	}
}

// TestCheckSizeRefusesOverSixteenMiB: a text_body that makes the document
// exceed 16 MiB is refused as too large, naming the limit; one just under
// it is accepted.
func TestCheckSizeRefusesOverSixteenMiB(t *testing.T) {
	t.Parallel()
	c := email.Content{MessageID: "<1@x>", From: "a@x", To: []string{"b@x"}, ReceivedAt: time.Now()}
	c.Normalize()
	// Bodies past the limit move to blobs: the document stays small.
	c.TextBody = strings.Repeat("x", mongostore.MaxDocumentBytes+1)
	require.NoError(t, mongostore.CheckSize(c))
	require.Less(t, mongostore.DocumentSize(c), 1<<20)
	// Addresses do not move: past the limit the email is refused.
	c.TextBody = ""
	addr := strings.Repeat("a", 1000) + "@example.com"
	for range mongostore.MaxDocumentBytes / len(addr) {
		c.To = append(c.To, addr)
	}
	err := mongostore.CheckSize(c)
	require.Equal(t, apperr.TooLarge, apperr.CodeOf(err))
	require.Contains(t, err.Error(), "16777216")
}
