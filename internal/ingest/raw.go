package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"mailsync/internal/email"
)

// Envelope is what a mail transfer agent knows about a raw message besides
// its bytes: the SMTP envelope and the mailbox it is delivered to. Zero
// fields are unknown.
type Envelope struct {
	// From is the envelope sender (MAIL FROM), bare or in angle brackets;
	// "<>", the sender of a bounce, is empty.
	From string
	// To holds the envelope recipients (RCPT TO); an item may hold several
	// separated by commas (a comma-separated header line).
	To []string
	// Mailbox is the mailbox the email is stored in.
	Mailbox string
}

// RawMessage is a parsed raw message, ready to store.
type RawMessage struct {
	Content email.Content
	// Undated reports that the message has neither a usable Date nor a
	// dated Received header, so Content.ReceivedAt is the now given to
	// ParseRaw: the time its idempotency key was first seen.
	Undated bool
	// Parts holds the decoded bytes of each of Content.Attachments, in order.
	Parts []Bytes
	// elided counts the bodies kept out of the MIME library (tests).
	elided int
}

// GeneratedMessageID is the Message-ID given to a raw message without one:
// the first 32 hex digits of the SHA-256 of its bytes, so the same bytes
// always get the same id.
func GeneratedMessageID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "<" + hex.EncodeToString(sum[:])[:32] + "@mailsync.invalid>"
}

// fill completes content c parsed from raw with env and the fallbacks for
// missing headers: a generated Message-ID, the envelope sender and
// recipients for a missing From or To/Cc (which makes the email
// incomplete), and for a missing Date the newest Received date, else now.
func fill(c email.Content, raw []byte, h textproto.MIMEHeader, env Envelope, now time.Time) RawMessage {
	c.Mailbox = strings.TrimSpace(env.Mailbox)
	c.EnvelopeFrom = bareAddress(env.From)
	for _, item := range env.To {
		for _, a := range splitAddresses(item) {
			if a = bareAddress(a); a != "" {
				c.EnvelopeTo = append(c.EnvelopeTo, a)
			}
		}
	}
	if c.MessageID == "" {
		c.MessageID = GeneratedMessageID(raw)
		c.MessageIDGenerated = true
	}
	if strings.TrimSpace(c.From) == "" {
		c.From = c.EnvelopeFrom
		c.Incomplete = true
	}
	if len(c.To) == 0 && len(c.Cc) == 0 {
		c.To = append([]string{}, c.EnvelopeTo...)
		c.Incomplete = true
	}
	m := RawMessage{Content: c}
	if m.Content.ReceivedAt.IsZero() {
		if t, ok := newestReceived(h); ok {
			m.Content.ReceivedAt = t
		} else {
			m.Content.ReceivedAt, m.Undated = now, true
		}
	}
	return m
}

// newestReceived returns the date of the topmost Received header that
// carries a plausible one (the text after its last ';'). Each relay adds
// its Received header on top, so the first is the newest.
func newestReceived(h textproto.MIMEHeader) (time.Time, bool) {
	for _, v := range h.Values("Received") {
		i := strings.LastIndexByte(v, ';')
		if i < 0 {
			continue
		}
		if t, err := mail.ParseDate(strings.TrimSpace(v[i+1:])); err == nil && plausible(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

// plausible reports whether t lies in the years the service stores.
func plausible(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1970 && y <= 9999
}

// bareAddress trims s and one pair of enclosing angle brackets: "<a@b>" is
// "a@b" and "<>" is "".
func bareAddress(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}
