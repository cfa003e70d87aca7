package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// Parsing limits. enmime stacks one byte-by-byte boundary reader per nesting
// level, so its cost is the message size times the depth for closed
// sections, 2^depth times the boundary length for sections that are never
// closed, and the square of the sibling count. These bounds keep parsing
// roughly linear in the message size (a tiny crafted message could otherwise
// spin for hours) without refusing real mail, whose MIME trees are a few
// sections deep.
const (
	// maxMultipartSections caps the multipart sections of a message.
	maxMultipartSections = 10
	// maxBoundaryLen caps a multipart boundary (RFC 2046 allows 70).
	maxBoundaryLen = 200
	// maxDelimiterLines caps lines containing "--": every MIME part starts
	// on such a line, so this bounds the number of parts.
	maxDelimiterLines = 10000
)

// errTooComplex stops enmime when a parsing limit is exceeded.
var errTooComplex = errors.New("ingest: MIME structure too complex")

// ParseRaw parses a raw RFC 5322 message delivered with smtp into the
// content to store (ClientID left empty). A message is stored whenever its
// header block can be read: missing headers are filled in as fill describes
// (a generated Message-ID, the envelope for From and To, the newest Received
// date or now for received_at). The result is normalised and validated: an
// unreadable message gives an apperr.Malformed error, and NUL bytes or
// invalid UTF-8 in any field or header give the apperr.Invalid error of
// Content.ValidateRaw. Address headers that net/mail cannot parse are kept
// as their decoded text split at top-level commas rather than rejected.
func ParseRaw(raw []byte, smtp Envelope, now time.Time) (RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return RawMessage{}, apperr.New(apperr.Malformed, "the message is empty")
	}
	if bytes.IndexByte(raw, '\n') < 0 {
		// curl -d strips line breaks: the whole message would become one header.
		return RawMessage{}, apperr.New(apperr.Malformed, "the message has no line breaks, so it has no header block; "+
			"send the file unchanged (curl --data-binary @msg.eml, not -d)")
	}
	if countLinesWith(raw, []byte("--"), maxDelimiterLines) > maxDelimiterLines {
		return RawMessage{}, apperr.New(apperr.Malformed,
			"the message has too many MIME parts (more than %d)", maxDelimiterLines)
	}
	env, err := readEnvelope(raw)
	if err != nil {
		return RawMessage{}, err
	}
	h := env.Root.Header
	atts, parts := attachments(env)
	c := email.Content{
		MessageID:    strings.TrimSpace(first(env.GetHeaderValues("Message-ID"))),
		From:         strings.Join(addresses(env, h, "From"), ", "),
		To:           addresses(env, h, "To"),
		Cc:           addresses(env, h, "Cc"),
		Subject:      env.GetHeader("Subject"),
		TextBody:     env.Text,
		HTMLBody:     env.HTML,
		Headers:      make(map[string][]string, len(h)),
		Attachments:  atts,
		RawSizeBytes: int64(len(raw)),
	}
	for _, name := range env.GetHeaderKeys() {
		c.Headers[name] = env.GetHeaderValues(name)
	}
	if t, err := env.Date(); err == nil && plausible(t) {
		c.ReceivedAt = t
	}
	m := fill(c, raw, h, smtp, now)
	m.Parts = parts
	m.Content.Normalize()
	if err := m.Content.ValidateRaw(); err != nil {
		return RawMessage{}, err
	}
	return m, nil
}

// readEnvelope runs enmime over raw under the parsing limits and maps its
// failures to Malformed errors with a message fit for the client.
func readEnvelope(raw []byte) (*enmime.Envelope, error) {
	g := &guard{}
	p := enmime.NewParser(
		enmime.DisableTextConversion(true), // text_body stays what the sender wrote
		enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
		enmime.SetCustomParseMediaType(g.parseMediaType),
	)
	root, err := p.ReadParts(bytes.NewReader(raw))
	g.done = true
	switch {
	case g.exceeded:
		return nil, apperr.New(apperr.Malformed,
			"the message has more than %d multipart sections or a boundary longer than %d characters",
			maxMultipartSections, maxBoundaryLen)
	case err != nil:
		return nil, apperr.New(apperr.Malformed, "the message could not be parsed: %s", describe(err))
	case !hasMessageHeader(root.Header):
		return nil, apperr.New(apperr.Malformed,
			"the message has no header field of an email (such as From, To, Subject, Date, Message-ID or Received); "+
				"it is not an RFC 5322 message")
	}
	env, err := p.EnvelopeFromPart(root)
	if err != nil {
		return nil, apperr.New(apperr.Malformed, "the message could not be parsed: %s", describe(err))
	}
	return env, nil
}

// describe turns an enmime error into a short human explanation without
// exposing Go internals.
func describe(err error) string {
	s := strings.ToLower(err.Error())
	switch {
	case strings.Contains(s, "boundary"):
		return "its multipart structure is broken (missing or mismatched boundary)"
	case strings.Contains(s, "header"):
		return "its header block is broken (a line is not a \"Name: value\" header field)"
	case strings.Contains(s, "media") || strings.Contains(s, "mime:"):
		return "a Content-Type or Content-Disposition header is invalid"
	default:
		return "its MIME structure is broken"
	}
}

// guard enforces the multipart limits while enmime reads the part tree; once
// a limit is exceeded it fails every later media type, which stops enmime.
type guard struct {
	parses   int
	done     bool // the tree is read; later parses are not checked
	exceeded bool
}

// parseMediaType parses like enmime's default. enmime parses a multipart
// Content-Type twice per section while reading the tree, hence the 2x.
func (g *guard) parseMediaType(ctype string) (string, map[string]string, []string, error) {
	if g.exceeded && !g.done {
		return "", nil, nil, errTooComplex
	}
	mtype, params, invalid, err := mediatype.Parse(ctype)
	if err == nil && !g.done && strings.HasPrefix(mtype, "multipart/") {
		g.parses++
		if g.parses > 2*maxMultipartSections || len(params["boundary"]) > maxBoundaryLen {
			g.exceeded = true
			return "", nil, nil, errTooComplex
		}
	}
	return mtype, params, invalid, err
}

// countLinesWith counts the lines of b that contain sep, stopping early once
// the count exceeds limit.
func countLinesWith(b, sep []byte, limit int) int {
	n := 0
	for n <= limit {
		i := bytes.Index(b, sep)
		if i < 0 {
			break
		}
		n++
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			break
		}
		b = b[i+nl+1:]
	}
	return n
}

// addresses renders every address in the named header fields as
// "Name <addr>" or "addr". An empty group such as "undisclosed-recipients:;"
// names nobody and gives nothing; a field net/mail cannot parse is kept as
// its RFC 2047 decoded text, split at commas outside quotes and angle
// brackets.
func addresses(env *enmime.Envelope, h textproto.MIMEHeader, name string) []string {
	raw, decoded := h.Values(name), env.GetHeaderValues(name)
	var out []string
	for i, v := range raw {
		list, err := enmime.ParseAddressList(v)
		if err == nil && len(list) == 0 {
			continue // an empty group such as "undisclosed-recipients:;"
		}
		if err != nil {
			if i < len(decoded) {
				v = decoded[i]
			}
			out = append(out, splitAddresses(v)...)
			continue
		}
		for _, a := range list {
			out = append(out, formatAddress(a))
		}
	}
	return out
}

func formatAddress(a *mail.Address) string {
	name := strings.TrimSpace(a.Name)
	if name == "" {
		return a.Address
	}
	return name + " <" + a.Address + ">"
}

// splitAddresses splits s at commas that are outside double quotes and
// angle brackets, dropping empty items.
func splitAddresses(s string) []string {
	var out []string
	quoted, angle, start := false, 0, 0
	add := func(item string) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angle++
		case c == '>' && !quoted && angle > 0:
			angle--
		case c == ',' && !quoted && angle == 0:
			add(s[start:i])
			start = i + 1
		}
	}
	add(s[start:])
	return out
}

// attachments returns metadata for every non-body part, in document order:
// attachments, inline parts and other parts such as nested messages. A
// text/plain or text/html part that is not an attachment and has no file
// name is a body part; multipart containers are skipped, their children
// are listed instead. The second result holds each part's decoded bytes.
func attachments(env *enmime.Envelope) ([]email.Attachment, [][]byte) {
	want := make(map[*enmime.Part]bool)
	for _, group := range [][]*enmime.Part{env.Attachments, env.Inlines, env.OtherParts} {
		for _, p := range group {
			want[p] = true
		}
	}
	parts := env.Root.DepthMatchAll(func(p *enmime.Part) bool {
		body := (p.ContentType == "text/plain" || p.ContentType == "text/html") &&
			p.Disposition != "attachment" && p.FileName == ""
		return want[p] && !body && !strings.HasPrefix(p.ContentType, "multipart/")
	})
	out := make([]email.Attachment, 0, len(parts))
	data := make([][]byte, 0, len(parts))
	for _, p := range parts {
		data = append(data, p.Content)
		sum := sha256.Sum256(p.Content)
		out = append(out, email.Attachment{
			Filename:    p.FileName,
			ContentType: p.ContentType,
			SizeBytes:   int64(len(p.Content)),
			SHA256:      hex.EncodeToString(sum[:]),
		})
	}
	return out, data
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}
