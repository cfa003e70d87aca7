package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// TestParseRawFillsMissingHeaders parses real-world shapes of messages that
// lack Message-ID, To, From or Date: each is stored, with the gap filled
// from the envelope (or left empty) and flagged.
func TestParseRawFillsMissingHeaders(t *testing.T) {
	t.Parallel()
	env := Envelope{From: "<bounces@example.net>", To: []string{"<a@example.org>, b@example.org", "c@example.org"}, Mailbox: " support "}
	tests := []struct {
		file       string
		env        Envelope
		messageID  string // "" = generated from the bytes
		from       string
		to         []string
		incomplete bool
		received   time.Time // zero = testNow, and Undated
	}{
		{file: "no_message_id.eml", from: "noreply@example.com", to: []string{"user@example.org"},
			received: time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)},
		{file: "no_to_bcc.eml", messageID: "<bcc.only.7@example.com>", from: "Newsletter <news@example.com>",
			to: []string{}, incomplete: true, received: time.Date(2026, 11, 30, 6, 15, 2, 0, time.UTC)},
		{file: "no_to_bcc.eml", env: env, messageID: "<bcc.only.7@example.com>", from: "Newsletter <news@example.com>",
			to: []string{"a@example.org", "b@example.org", "c@example.org"}, incomplete: true,
			received: time.Date(2026, 11, 30, 6, 15, 2, 0, time.UTC)},
		{file: "undisclosed.eml", env: env, from: "Team <team@example.com>",
			to: []string{"a@example.org", "b@example.org", "c@example.org"}, incomplete: true,
			received: time.Date(2026, 12, 1, 15, 20, 0, 0, time.UTC)},
		{file: "bounce_no_from.eml", from: "", to: []string{"alice@example.org"}, incomplete: true,
			received: time.Date(2026, 12, 1, 3, 4, 5, 0, time.UTC)},
		{file: "bounce_no_from.eml", env: env, from: "bounces@example.net", to: []string{"alice@example.org"},
			incomplete: true, received: time.Date(2026, 12, 1, 3, 4, 5, 0, time.UTC)},
		{file: "no_date.eml", messageID: "<nodate.1@example.com>", from: "alerts@example.com", to: []string{"ops@example.org"}},
		{file: "bare_minimum.eml", from: "", to: []string{}, incomplete: true},
		{file: "bare_minimum.eml", env: env, from: "bounces@example.net",
			to: []string{"a@example.org", "b@example.org", "c@example.org"}, incomplete: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			raw := readFixture(t, tt.file)
			m, err := ParseRaw(raw, tt.env, testNow)
			require.NoError(t, err)
			c := m.Content
			require.NoError(t, c.ValidateRaw())
			if tt.messageID == "" {
				require.Equal(t, GeneratedMessageID(raw), c.MessageID)
				require.Regexp(t, `^<[0-9a-f]{32}@mailsync\.invalid>$`, c.MessageID)
				require.Equal(t, email.MessageIDGenerated, c.MessageIDSource())
			} else {
				require.Equal(t, tt.messageID, c.MessageID)
				require.Equal(t, email.MessageIDFromHeader, c.MessageIDSource())
			}
			require.Equal(t, tt.from, c.From)
			require.Equal(t, tt.to, c.To)
			require.Equal(t, tt.incomplete, c.Incomplete)
			if tt.received.IsZero() {
				require.True(t, m.Undated)
				require.Equal(t, testNow, c.ReceivedAt)
			} else {
				require.False(t, m.Undated)
				require.Equal(t, tt.received, c.ReceivedAt)
			}
			if tt.env.Mailbox != "" {
				require.Equal(t, "support", c.Mailbox)
				require.Equal(t, "bounces@example.net", c.EnvelopeFrom)
				require.Equal(t, []string{"a@example.org", "b@example.org", "c@example.org"}, c.EnvelopeTo)
			} else {
				require.Empty(t, c.Mailbox)
				require.Empty(t, c.EnvelopeFrom)
				require.Equal(t, []string{}, c.EnvelopeTo)
			}
		})
	}
}

// TestParseRawGeneratedIDIsDeterministic checks that the same bytes always
// get the same Message-ID and different bytes a different one.
func TestParseRawGeneratedIDIsDeterministic(t *testing.T) {
	t.Parallel()
	raw := readFixture(t, "bare_minimum.eml")
	a, err := ParseRaw(raw, Envelope{}, testNow)
	require.NoError(t, err)
	b, err := ParseRaw(raw, Envelope{From: "x@example.org"}, testNow.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, a.Content.MessageID, b.Content.MessageID)
	c, err := ParseRaw(append(raw, '!'), Envelope{}, testNow)
	require.NoError(t, err)
	require.NotEqual(t, a.Content.MessageID, c.Content.MessageID)
}

// TestParseRawReceivedFallback checks the received_at fallbacks: the Date
// header wins, then the topmost dated Received header, then now.
func TestParseRawReceivedFallback(t *testing.T) {
	t.Parallel()
	const rest = "From: a@example.com\r\nTo: b@example.org\r\n\r\nhi"
	tests := []struct {
		name, headers string
		want          time.Time
	}{
		{"date wins", "Date: Sun, 29 Nov 2026 07:00:00 +0000\r\nReceived: by x; Mon, 30 Nov 2026 06:15:02 +0000\r\n",
			time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)},
		{"topmost received", "Received: by y; Mon, 30 Nov 2026 06:15:02 +0100\r\nReceived: by x; Mon, 30 Nov 2026 05:00:00 +0100\r\n",
			time.Date(2026, 11, 30, 5, 15, 2, 0, time.UTC)},
		{"garbled date, dated received", "Date: soon\r\nReceived: by x; Mon, 30 Nov 2026 06:15:02 +0000 (UTC)\r\n",
			time.Date(2026, 11, 30, 6, 15, 2, 0, time.UTC)},
		{"undated received skipped", "Received: by y\r\nReceived: by x; Mon, 30 Nov 2026 06:15:02 +0000\r\n",
			time.Date(2026, 11, 30, 6, 15, 2, 0, time.UTC)},
		{"received before 1970", "Received: by x; Thu, 01 Jan 1960 00:00:00 +0000\r\n", testNow},
		{"nothing dated", "Received: by x\r\n", testNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseRaw([]byte(tt.headers+rest), Envelope{}, testNow)
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Content.ReceivedAt)
			require.Equal(t, tt.want.Equal(testNow), m.Undated)
		})
	}
}

// TestParseRawRefusesNonMessages checks that what is not a message at all
// (no header block) is still refused as malformed.
func TestParseRawRefusesNonMessages(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", "hello world\nthis is not an email\n", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "{\"json\": true}",
		"From: a@example.comTo: b@example.orgSubject: sent with curl -dHello"} {
		_, err := ParseRaw([]byte(raw), Envelope{From: "a@b", To: []string{"c@d"}}, testNow)
		require.Equal(t, apperr.Malformed, apperr.CodeOf(err), "%q: %v", raw, err)
	}
	for _, raw := range []string{"Message-ID: <x@y>\r\n\r\nhi", "MIME-Version: 1.0\r\n\r\n", "X-Note: 1\nsubject: hi\n\nhi"} {
		_, err := ParseRaw([]byte(raw), Envelope{}, testNow)
		require.NoError(t, err, "%q", raw)
	}
}
