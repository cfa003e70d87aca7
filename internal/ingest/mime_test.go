package ingest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

var testNow = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

// parseRaw parses raw without an envelope at testNow.
func parseRaw(raw []byte) (email.Content, error) {
	m, err := ParseRaw(raw, Envelope{}, testNow)
	return m.Content, err
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return raw
}

func TestParseRawFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, messageID, from, subject, text, html string
		to, cc                                     []string
		received                                   time.Time
	}{
		{file: "plain.eml", messageID: "<20261127.1234@mail.example.com>", from: "Alice Example <alice@example.com>",
			subject: "Where is order 1234?", text: "Hello,\r\n\r\nmy order 1234 has not arrived yet.\r\n\r\nAlice\r\n",
			to: []string{"support@example.org"}, received: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{file: "alternative.eml", messageID: "<alt.42@example.com>", from: "Bob <bob@example.com>", subject: "Menu",
			text: "Hi team,\r\n\r\nthe naïve café menu is attached — see the HTML version for details.\r\n",
			html: "<html><body><p>Hi team,</p><p>the <b>naïve café</b> menu is attached — see below.</p></body></html>\r\n",
			to:   []string{"team@example.org", "Doe, Jane <jane@example.org>"}, cc: []string{"carol@example.org"},
			received: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
		{file: "latin1.eml", messageID: "<latin1.20261123@example.de>", from: "Jörg Schäfer <joerg@example.de>",
			subject: "Bestätigung Ihrer Bestellung",
			text: "Guten Tag Herr Müller,\n\nvielen Dank für Ihre Bestellung. Die Lieferung an die Straße\n" +
				"erfolgt voraussichtlich nächste Woche. Grüße aus Köln!\n",
			to: []string{"kunde@example.org"}, received: time.Date(2026, 11, 23, 8, 15, 0, 0, time.UTC)},
		{file: "cp1252.eml", messageID: "<cp1252.4711@example.com>", from: "Pat O'Neil <pat@example.com>",
			subject: "Quote for upgrade",
			text:    "Hi Sam,\r\n\r\n“The quote” for the upgrade is €1,250 – valid until Friday.\r\n… Thanks!\r\n",
			to:      []string{"Sam <sam@example.net>"}, received: time.Date(2026, 11, 24, 21, 2, 11, 0, time.UTC)},
		{file: "shiftjis.eml", messageID: "<sjis.0001@example.jp>", from: "佐藤 <sato@example.jp>", subject: "請求書の送付",
			text: "山田様\n\nいつもお世話になっております。\n請求書を添付いたします。ご確認ください。\n\n佐藤\n",
			to:   []string{"山田 <yamada@example.co.jp>"}, received: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)},
		{file: "encoded_headers.eml", messageID: "<enc.2047@example.fr>", from: "François Lévesque <francois@example.fr>",
			subject: "Résumé de la réunion — été 2026", text: "Bonjour à tous.\n",
			to: []string{"Jürgen Klein <juergen@example.de>", "plain@example.org"}, cc: []string{"Doe, John <john@example.com>"},
			received: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)},
		{file: "no_date.eml", messageID: "<nodate.1@example.com>", from: "alerts@example.com", subject: "Disk usage",
			text: "Disk /var is 91% full.\n", to: []string{"ops@example.org"}, received: testNow},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			raw := readFixture(t, tt.file)
			c, err := parseRaw(raw)
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			require.Equal(t, tt.messageID, c.MessageID)
			require.Equal(t, tt.from, c.From)
			require.Equal(t, tt.subject, c.Subject)
			require.Equal(t, tt.text, c.TextBody)
			require.Equal(t, tt.html, c.HTMLBody)
			require.Equal(t, tt.to, c.To)
			require.Equal(t, append([]string{}, tt.cc...), c.Cc)
			require.Equal(t, tt.received, c.ReceivedAt)
			require.Equal(t, int64(len(raw)), c.RawSizeBytes)
			require.Empty(t, c.ClientID)
			require.Empty(t, c.Mailbox)
			require.Empty(t, c.Attachments)
			require.Equal(t, []string{tt.messageID}, c.Headers["Message-Id"])
		})
	}
}

func TestParseRawDecodesHeaderValues(t *testing.T) {
	t.Parallel()
	c, err := parseRaw(readFixture(t, "encoded_headers.eml"))
	require.NoError(t, err)
	require.Equal(t, []string{"Café Mail 3.0"}, c.Headers["X-Mailer"])
	require.Equal(t, []string{"Résumé de la réunion — été 2026"}, c.Headers["Subject"])
	c, err = parseRaw(readFixture(t, "plain.eml"))
	require.NoError(t, err)
	require.Equal(t, []string{"from mail.example.com (mail.example.com [192.0.2.10]) by mx.example.org " +
		"with ESMTPS id 4B2C1D; Fri, 27 Nov 2026 10:00:01 +0000"}, c.Headers["Received"])
}

// pdfPayload is the decoded content of the PDF attachments in the fixtures.
func pdfPayload() []byte {
	b := []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	for i := 0; i < 8*256; i++ {
		b = append(b, byte(i))
	}
	return append(b, "\n%%EOF\n"...)
}

func attachmentOf(t *testing.T, name, ctype string, content []byte) email.Attachment {
	t.Helper()
	sum := sha256.Sum256(content)
	return email.Attachment{Filename: name, ContentType: ctype, SizeBytes: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
}

func TestParseRawAttachments(t *testing.T) {
	t.Parallel()
	png, err := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
	require.NoError(t, err)
	c, err := parseRaw(readFixture(t, "attachment.eml"))
	require.NoError(t, err)
	require.Equal(t, "Please find the invoice attached.", c.TextBody)
	require.Equal(t, `<p>Please find the invoice attached.</p><img src="cid:logo@example.com">`, c.HTMLBody)
	require.Equal(t, []email.Attachment{
		attachmentOf(t, "logo.png", "image/png", png),
		attachmentOf(t, "invoice-2026-11.pdf", "application/pdf", pdfPayload()),
		attachmentOf(t, "items.csv", "text/csv", []byte("sku,qty\r\nA-1,2")),
	}, c.Attachments)
}

func TestParseRawHashMatchesJSONContent(t *testing.T) {
	t.Parallel()
	raw := readFixture(t, "hash.eml")
	got, err := parseRaw(raw)
	require.NoError(t, err)
	want := email.Content{
		MessageID: "<20261127.1234@mail.example.com>",
		From:      "Alice <alice@example.com>",
		To:        []string{"support@example.org"},
		Subject:   "Order 1234",
		TextBody:  "Hello",
		HTMLBody:  "<p>Hello</p>",
		Headers: map[string][]string{
			"Message-Id":   {"<20261127.1234@mail.example.com>"},
			"Date":         {"Fri, 27 Nov 2026 10:00:00 +0000"},
			"From":         {"Alice <alice@example.com>"},
			"To":           {"support@example.org"},
			"Subject":      {"Order 1234"},
			"X-Spam-Score": {"0.1"},
			"Mime-Version": {"1.0"},
			"Content-Type": {`multipart/mixed; boundary="m"`},
		},
		Attachments:  []email.Attachment{attachmentOf(t, "a.pdf", "application/pdf", pdfPayload())},
		RawSizeBytes: int64(len(raw)),
		ReceivedAt:   time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
	require.Equal(t, want.Hash(), got.Hash())
}

func TestParseRawLenientHeaders(t *testing.T) {
	t.Parallel()
	const base = "Message-ID: <x@example.com>\r\nFrom: a@example.com\r\n"
	tests := []struct {
		name, raw string
		check     func(t *testing.T, c email.Content)
	}{
		{"empty group", base + "To: undisclosed-recipients:;\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, []string{}, c.To)
			require.True(t, c.Incomplete)
			require.Equal(t, []string{"undisclosed-recipients:;"}, c.Headers["To"])
		}},
		{"empty group and a recipient", base + "To: undisclosed-recipients:;, b@example.org\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, []string{"b@example.org"}, c.To)
			require.False(t, c.Incomplete)
		}},
		{"local recipient", base + "To: root\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, []string{"root"}, c.To)
			require.False(t, c.Incomplete)
		}},
		{"unparseable list", base + "To: =?utf-8?q?J=C3=BCrgen?= K, <x@example.org>\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, []string{"Jürgen K", "<x@example.org>"}, c.To)
		}},
		{"repeated To", base + "To: b@example.org\r\nTo: c@example.org\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, []string{"b@example.org", "c@example.org"}, c.To)
		}},
		{"date before 1970", base + "To: b@example.org\r\nDate: Thu, 01 Jan 1960 00:00:00 +0000\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, testNow, c.ReceivedAt)
		}},
		{"garbled date", base + "To: b@example.org\r\nDate: yesterday-ish\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, testNow, c.ReceivedAt)
		}},
		{"html only", base + "To: b@example.org\r\nContent-Type: text/html\r\n\r\n<p>hi</p>", func(t *testing.T, c email.Content) {
			require.Equal(t, "", c.TextBody)
			require.Equal(t, "<p>hi</p>", c.HTMLBody)
		}},
		{"inline text body", base + "To: b@example.org\r\nContent-Disposition: inline\r\n\r\nhi", func(t *testing.T, c email.Content) {
			require.Equal(t, "hi", c.TextBody)
			require.Empty(t, c.Attachments)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseRaw([]byte(tt.raw))
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

// nested returns a message with depth nested multipart sections, closed or not.
func nested(depth int, closed bool) []byte {
	var b strings.Builder
	b.WriteString("Message-ID: <n@example.com>\r\nFrom: a@example.com\r\nTo: b@example.com\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n", depth)
	for i := depth; closed && i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return []byte(b.String())
}

func TestParseRawErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   []byte
		code  apperr.Code
		field string
	}{
		{"empty", nil, apperr.Malformed, ""},
		{"blank", []byte(" \r\n\r\n"), apperr.Malformed, ""},
		{"prose", []byte("hello world\nthis is not an email\n"), apperr.Malformed, ""},
		{"no header fields", []byte(":oops\r\n\r\nbody"), apperr.Malformed, ""},
		{"json", []byte("{\"message_id\": \"<a@b>\",\n \"from\": \"a@b\"}\n"), apperr.Malformed, ""},
		{"binary", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"), apperr.Malformed, ""},
		{"no line break", []byte("From: a@b To: c@d Subject: hi"), apperr.Malformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseRaw(tt.raw)
			e := apperr.As(err)
			require.NotNil(t, e, "want a domain error, got %v", err)
			require.Equal(t, tt.code, e.Code, e.Message)
			require.NotContains(t, e.Message, "ReadParts")
			if tt.field != "" {
				require.NotEmpty(t, e.Fields)
				require.Equal(t, tt.field, e.Fields[0].Field)
			}
		})
	}
}
