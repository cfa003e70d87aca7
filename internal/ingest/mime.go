package ingest

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// ParseRaw parses a raw RFC 5322 message delivered with smtp into the
// content to store (ClientID left empty). It refuses a message only when it
// is empty or has no header field at all (an apperr.Malformed error); every
// other message is stored, and what could not be read as the standards say
// is listed in Content.ParseDefects (see DefectCodes). Missing headers are
// filled in as fill describes (a generated Message-ID, the envelope for
// From and To, the newest Received date or now for received_at). Address
// headers that net/mail cannot parse are kept as their decoded text split
// at top-level commas. The attachments' decoded bytes come back in Parts.
func ParseRaw(raw []byte, smtp Envelope, now time.Time) (RawMessage, error) {
	return parseRawMin(raw, smtp, now, elideMin)
}

// parseRawMin is ParseRaw keeping bodies of at least min bytes out of the
// MIME library (see elide).
func parseRawMin(raw []byte, smtp Envelope, now time.Time, min int) (RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return RawMessage{}, apperr.New(apperr.Malformed, "the message is empty")
	}
	if bytes.IndexByte(raw, '\n') < 0 {
		// curl -d strips line breaks: the whole message would become one header.
		return RawMessage{}, apperr.New(apperr.Malformed, "the message has no line breaks, so it has no header block; "+
			"send the file unchanged (curl --data-binary @msg.eml, not -d)")
	}
	d := defects{}
	prepared, ok := prepareHeader(raw, d)
	if !ok {
		return RawMessage{}, apperr.New(apperr.Malformed,
			"the message has no header field (a \"Name: value\" line such as From, To, Subject or Date) before its "+
				"first empty line; it is not an RFC 5322 message")
	}
	t, err := readTree(prepared, d, min)
	if err != nil {
		return RawMessage{}, err
	}
	h := t.root.Header
	fixHeaderBytes(h, t.charset, d)
	env := headerEnvelope(h)
	c := email.Content{
		MessageID:    strings.TrimSpace(first(env.GetHeaderValues("Message-ID"))),
		From:         strings.Join(addresses(env, h, "From"), ", "),
		To:           addresses(env, h, "To"),
		Cc:           addresses(env, h, "Cc"),
		Subject:      env.GetHeader("Subject"),
		TextBody:     t.text,
		HTMLBody:     t.html,
		Headers:      make(map[string][]string, len(h)),
		RawSizeBytes: int64(len(raw)),
	}
	for _, name := range env.GetHeaderKeys() {
		c.Headers[name] = env.GetHeaderValues(name)
	}
	if t, err := env.Date(); err == nil && plausible(t) {
		c.ReceivedAt = t
	}
	parts := fitContent(&c, t.parts, d)
	m := fill(c, raw, h, smtp, now)
	m.Parts = make([]Bytes, len(parts))
	for i := range parts {
		m.Parts[i] = parts[i].Content
	}
	m.elided = t.elided
	m.Content.ParseDefects = d.list()
	m.Content.Normalize()
	if err := m.Content.ValidateRaw(); err != nil {
		return RawMessage{}, err // a bug: fitContent makes every field valid
	}
	return m, nil
}

// headerEnvelope returns an enmime envelope holding header h and nothing
// else, which decodes header values (RFC 2047) as the library does.
func headerEnvelope(h textproto.MIMEHeader) *enmime.Envelope {
	p := enmime.NewPart("")
	p.Header = h
	// A part without children or content: the library sorts nothing and
	// cannot fail (a multipart root has a boundary under this option).
	env, err := headerParser.EnvelopeFromPart(p)
	if err != nil {
		panic("ingest: envelope of a header: " + err.Error())
	}
	return env
}

var headerParser = enmime.NewParser(enmime.DisableTextConversion(true), enmime.MultipartWOBoundaryAsSinglePart(true))

// bodyOf returns the body of b: what follows its first empty line, or
// nothing when there is none.
func bodyOf(b []byte) []byte {
	rest := b
	for len(rest) > 0 {
		line, next := nextLine(rest)
		if len(line) == 0 {
			return next
		}
		rest = next
	}
	return nil
}

// readRootHeader reads the header block of b with the MIME library,
// recording malformed lines; it fails only when the block cannot be read.
func readRootHeader(b []byte, d defects) (textproto.MIMEHeader, error) {
	p := enmime.NewPart("")
	h, err := enmime.ReadHeader(bufio.NewReader(bytes.NewReader(b)), &collector{p: p})
	if err != nil {
		return nil, apperr.New(apperr.Malformed, "the message's header block could not be read")
	}
	if len(p.Errors) > 0 {
		d.add(DefectHeaderLineMalformed)
	}
	return h, nil
}
