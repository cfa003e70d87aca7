package lmtp

import (
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"mailsync/internal/deliver"
)

// TestDeliveryStoresEachRecipientAsServerDeliver checks one LMTP delivery to
// three recipients: one 250 per recipient naming its email, each email with
// the envelope sender, its one recipient, the mailbox of its rule and the
// Idempotency-Key `server deliver` would use.
func TestDeliveryStoresEachRecipientAsServerDeliver(t *testing.T) {
	t.Parallel()
	r := start(t, Config{Mailbox: "help@support.example.org=support, @sales.example.org=sales, inbox"}, false)
	c := r.dial(t)
	msg := message("three")
	rcpts := []string{"help+urgent@support.example.org", "bob@sales.example.org", "carol@example.net"}
	answers := send(t, c, "alice@example.com", rcpts, msg)
	for _, rcpt := range rcpts {
		requireStored(t, answers[rcpt], false)
	}
	got := r.emails(t)
	require.Len(t, got, 3)
	boxes := map[string]string{}
	for _, e := range got {
		require.Len(t, e.EnvelopeTo, 1)
		rcpt := e.EnvelopeTo[0]
		boxes[rcpt] = e.Mailbox
		require.Equal(t, "alice@example.com", e.EnvelopeFrom)
		require.Equal(t, ClientID, e.ClientID)
		require.NotNil(t, e.IdempotencyKey)
		require.Equal(t, deliver.Key([]byte(msg), []string{rcpt}), *e.IdempotencyKey)
		require.Contains(t, answers[rcpt], fmt.Sprintf("stored as email %d", e.ID))
	}
	require.Equal(t, map[string]string{"help+urgent@support.example.org": "support",
		"bob@sales.example.org": "sales", "carol@example.net": "inbox"}, boxes)
	require.Equal(t, 3.0, r.metric(t, "mailsync_lmtp_recipients_total", "stored"))
}

// TestRepeatedDeliveryStoresNothingTwice checks that an MTA repeating a
// delivery (a new session, the same bytes and recipients) gets 250 for each
// recipient again and no second email, and that a bounce's null sender is
// stored as an empty envelope sender.
func TestRepeatedDeliveryStoresNothingTwice(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	rcpts := []string{"a@example.org", "b@example.org"}
	msg := message("again")
	first := send(t, r.dial(t), "", rcpts, msg)
	second := send(t, r.dial(t), "", rcpts, msg)
	for _, rcpt := range rcpts {
		requireStored(t, first[rcpt], false)
		requireStored(t, second[rcpt], true)
		require.Equal(t, strings.TrimPrefix(first[rcpt].(string), "2.0.0 "),
			strings.TrimPrefix(strings.Replace(second[rcpt].(string), "already ", "", 1), "2.0.0 "))
	}
	got := r.emails(t)
	require.Len(t, got, 2)
	require.Equal(t, "", got[0].EnvelopeFrom)
	require.Equal(t, 2.0, r.metric(t, "mailsync_lmtp_recipients_total", "replayed"))
}

// TestAnswersDifferPerRecipient checks that one message gets a different
// answer for each recipient: the same bytes to a@ under another sender
// than before is refused (5.3.0, stored before with another envelope),
// while b@ is stored.
func TestAnswersDifferPerRecipient(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	msg := message("mixed")
	requireStored(t, send(t, r.dial(t), "first@example.com", []string{"a@example.org"}, msg)["a@example.org"], false)
	answers := send(t, r.dial(t), "second@example.com", []string{"a@example.org", "b@example.org"}, msg)
	requireCode(t, answers["a@example.org"], 554, smtp.EnhancedCode{5, 3, 0})
	requireStored(t, answers["b@example.org"], false)
	require.Len(t, r.emails(t), 2)
}

// TestRefusedMessageNamesTheCause checks that a message mailsync refuses
// gets 550 5.6.0 with the reason, for every recipient, and nothing stored.
func TestRefusedMessageNamesTheCause(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	answers := send(t, r.dial(t), "alice@example.com", []string{"a@example.org", "b@example.org"},
		"this is prose, not an email: there is no header field at all\r\n")
	for _, a := range answers {
		e := requireCode(t, a, 550, smtp.EnhancedCode{5, 6, 0})
		require.Contains(t, e.Message, "message refused")
	}
	require.Empty(t, r.emails(t))
	require.Equal(t, 2.0, r.metric(t, "mailsync_lmtp_recipients_total", "refused"))
}

// TestOversizeIsRefusedWith552 checks that SIZE is advertised, that a MAIL
// announcing more is refused, and that a message over the limit gets
// 552 5.3.4 for each recipient, with nothing stored.
func TestOversizeIsRefusedWith552(t *testing.T) {
	t.Parallel()
	r := start(t, Config{MaxMessageBytes: 4096}, false)
	c := r.dial(t)
	ok, size := c.Extension("SIZE")
	require.True(t, ok)
	require.Equal(t, "4096", size)

	err := c.Mail("alice@example.com", &smtp.MailOptions{Size: 5000})
	requireCode(t, err, 552, smtp.EnhancedCode{5, 3, 4})
	require.NoError(t, c.Reset())

	big := message("big") + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 80)
	answers := send(t, c, "alice@example.com", []string{"a@example.org", "b@example.org"}, big)
	for _, a := range answers {
		requireCode(t, a, 552, smtp.EnhancedCode{5, 3, 4})
	}
	requireStored(t, send(t, c, "alice@example.com", []string{"a@example.org"}, message("small"))["a@example.org"], false)
	require.Len(t, r.emails(t), 1)
}

// TestConcurrentSessions checks that many sessions at once, each sending
// several messages to two recipients, get a 250 for every recipient and
// store every email exactly once.
func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	const sessions, messages = 8, 5
	answers := make(chan map[string]any, sessions*messages)
	var wg sync.WaitGroup
	for s := range sessions {
		c := r.dial(t)
		wg.Go(func() {
			for m := range messages {
				id := fmt.Sprintf("s%d-m%d", s, m)
				answers <- send(t, c, "alice@example.com", []string{"x@example.org", "y@example.org"}, message(id))
			}
		})
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		requireStored(t, a["x@example.org"], false)
		requireStored(t, a["y@example.org"], false)
	}
	require.Len(t, r.emails(t), sessions*messages*2)
	require.Equal(t, float64(sessions), r.metric(t, "mailsync_lmtp_sessions_total", ""))
}

// TestChunkingGetsAnAnswerPerRecipient checks a delivery with BDAT
// (CHUNKING, which Postfix uses when it is advertised): one 250 per
// recipient after BDAT LAST.
func TestChunkingGetsAnAnswerPerRecipient(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	conn, err := net.Dial("tcp", r.srv.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	tc := textproto.NewConn(conn)
	expect := func(code int) string {
		t.Helper()
		_, msg, err := tc.ReadResponse(code)
		require.NoError(t, err)
		return msg
	}
	expect(220)
	require.NoError(t, tc.PrintfLine("LHLO mta.test"))
	require.Contains(t, expect(250), "CHUNKING")
	require.NoError(t, tc.PrintfLine("MAIL FROM:<alice@example.com>"))
	expect(250)
	for _, rcpt := range []string{"a@example.org", "b@example.org"} {
		require.NoError(t, tc.PrintfLine("RCPT TO:<%s>", rcpt))
		expect(250)
	}
	msg := message("chunked")
	half := len(msg) / 2
	_, err = fmt.Fprintf(conn, "BDAT %d\r\n%s", half, msg[:half])
	require.NoError(t, err)
	expect(250)
	_, err = fmt.Fprintf(conn, "BDAT %d LAST\r\n%s", len(msg)-half, msg[half:])
	require.NoError(t, err)
	require.Contains(t, expect(250), "<a@example.org> stored as email")
	require.Contains(t, expect(250), "<b@example.org> stored as email")
	require.Len(t, r.emails(t), 2)
}

// TestLongLinesAreStored checks that a message with a line longer than
// go-smtp's 2,000-byte default (an HTML part without line breaks) is
// stored byte for byte. (Failed before: 451 4.3.0 "too long a line", which
// the MTA retried until the message bounced.)
func TestLongLinesAreStored(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	line := "<p>" + strings.Repeat("lorem ipsum ", 1000) + "</p>"
	msg := message("long-line") + line + "\r\n"
	requireStored(t, send(t, r.dial(t), "alice@example.com", []string{"a@example.org"}, msg)["a@example.org"], false)
	got := r.emails(t)
	require.Len(t, got, 1)
	require.Contains(t, got[0].TextBody, line)
}

// TestOddEnvelopesAreStored checks that recipients and senders the
// listener accepted are stored, not refused after the message: an address
// in Latin-1 bytes (not UTF-8) and one of 1,500 characters are kept as
// header_8bit and field_truncated defects, with the raw message intact.
// (Failed before: 550 5.6.0 "envelope_to[0] is not valid UTF-8" and
// "is longer than 998 characters": the MTA bounced the mail.)
func TestOddEnvelopesAreStored(t *testing.T) {
	t.Parallel()
	r := start(t, Config{}, false)
	conn, err := net.Dial(r.srv.Addr().Network(), r.srv.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	tp := textproto.NewConn(conn)
	latin1 := "j\xf6rg@example.org"
	long := strings.Repeat("a", 1500) + "@example.org"
	for _, cmd := range []string{"LHLO mta.test", "MAIL FROM:<s\xe9nder@example.com>", "RCPT TO:<" + latin1 + ">",
		"RCPT TO:<" + long + ">", "DATA"} {
		require.NoError(t, tp.PrintfLine("%s", cmd))
	}
	_, err = io.WriteString(conn, message("odd")+".\r\n")
	require.NoError(t, err)
	var replies []string
	for len(replies) < 2 {
		line, err := tp.ReadLine()
		require.NoError(t, err)
		if strings.Contains(line, "stored as email") || strings.HasPrefix(line, "5") || strings.HasPrefix(line, "4") {
			replies = append(replies, line)
		}
	}
	for _, line := range replies {
		require.Regexp(t, `^250 2\.0\.0 .*stored as email [1-9]`, line)
	}
	got := r.emails(t)
	require.Len(t, got, 2)
	for _, e := range got {
		require.Equal(t, "sénder@example.com", e.EnvelopeFrom)
		require.Contains(t, e.ParseDefects, "header_8bit")
	}
	tos := map[string][]string{} // envelope recipient → defects (the order of storing varies)
	for _, e := range got {
		require.Len(t, e.EnvelopeTo, 1)
		tos[e.EnvelopeTo[0]] = e.ParseDefects
	}
	require.Contains(t, tos, "jörg@example.org")
	require.Contains(t, tos[strings.Repeat("a", 998)], "field_truncated")
}
