package ingest

import (
	"strings"
	"unicode/utf8"

	"mailsync/internal/email"
	"mailsync/internal/limits"
)

// The limits of email.Content.ValidateRaw that a parsed message is fitted
// into rather than refused for.
const (
	maxFieldRunes   = 998
	maxSubjectRunes = 10000
	maxHeaderNames  = 1000
	maxAddressItems = 1000
	maxAttachItems  = 1000
)

// fitContent makes c, parsed from a raw message, storable: every string
// valid UTF-8 without NUL bytes (invalid bytes read as Latin-1, recorded as
// charset_invalid for bodies and header_8bit for the rest; NUL bytes
// removed, recorded as nul_bytes), and fields over the service's limits
// shortened (field_truncated). It sets c.Attachments from parts and
// returns parts with the same metadata.
func fitContent(c *email.Content, parts []Part, d defects) []Part {
	f := fitter{d: d}
	c.MessageID = f.messageID(c.MessageID)
	c.From = f.field(c.From, maxFieldRunes, DefectHeader8bit)
	c.To = f.list(c.To)
	c.Cc = f.list(c.Cc)
	c.Subject = f.field(c.Subject, maxSubjectRunes, DefectHeader8bit)
	c.TextBody = f.field(c.TextBody, -1, DefectCharsetInvalid)
	c.HTMLBody = f.field(c.HTMLBody, -1, DefectCharsetInvalid)
	headers := make(map[string][]string, len(c.Headers))
	for _, name := range c.HeaderNames() {
		clean := f.field(name, maxFieldRunes, DefectHeader8bit)
		if strings.TrimSpace(clean) == "" {
			continue
		}
		if len(headers) == maxHeaderNames {
			d.add(DefectFieldTruncated)
			break
		}
		values := c.Headers[name]
		for i, v := range values {
			values[i] = f.field(v, -1, DefectHeader8bit)
		}
		headers[clean] = append(headers[clean], values...)
	}
	c.Headers = headers
	if len(parts) > maxAttachItems {
		d.add(DefectPartsTruncated)
		parts = parts[:maxAttachItems]
	}
	c.Attachments = make([]email.Attachment, len(parts))
	for i := range parts {
		a := &parts[i].Attachment
		a.Filename = f.field(a.Filename, maxFieldRunes, DefectHeader8bit)
		a.ContentType = f.field(a.ContentType, maxFieldRunes, DefectContentTypeInvalid)
		c.Attachments[i] = *a
	}
	return parts
}

type fitter struct{ d defects }

// messageID returns the Message-ID s as a field, or "" (so that fill
// generates one) when it is longer than the service stores
// (message_id_too_long): a shortened identifier would name another message.
func (f fitter) messageID(s string) string {
	s = f.field(s, -1, DefectHeader8bit)
	if len(s) > limits.MessageIDBytes || utf8.RuneCountInString(s) > maxFieldRunes {
		f.d.add(DefectMessageIDTooLong)
		return ""
	}
	return s
}

// field returns s as valid UTF-8 without NUL bytes, shortened to max runes
// (max < 0: no limit); invalid bytes are recorded as invalidCode.
func (f fitter) field(s string, max int, invalidCode string) string {
	if !utf8.ValidString(s) {
		f.d.add(invalidCode)
		s = latin1(s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		f.d.add(DefectNULBytes)
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if max >= 0 && len(s) > max && utf8.RuneCountInString(s) > max {
		f.d.add(DefectFieldTruncated)
		n := 0
		for i := range s {
			if n == max {
				s = s[:i]
				break
			}
			n++
		}
	}
	return s
}

// list fits an address list: each item a field, empty items dropped, at
// most maxAddressItems items.
func (f fitter) list(items []string) []string {
	out := make([]string, 0, len(items))
	for _, s := range items {
		s = f.field(s, maxFieldRunes, DefectHeader8bit)
		if strings.TrimSpace(s) == "" {
			continue
		}
		if len(out) == maxAddressItems {
			f.d.add(DefectFieldTruncated)
			break
		}
		out = append(out, s)
	}
	return out
}

// fitEnvelope makes the envelope of a raw message storable as fitContent
// makes its fields (an MTA's envelope is mail too: refusing it bounces the
// message): addresses valid UTF-8 without NUL bytes, at most
// maxFieldRunes characters each, at most maxAddressItems recipients (To
// split into one address an item). It returns the defects found.
func fitEnvelope(env Envelope) (Envelope, defects) {
	d := defects{}
	f := fitter{d: d}
	env.From = f.field(env.From, maxFieldRunes, DefectHeader8bit)
	var to []string
	for _, item := range env.To {
		to = append(to, splitAddresses(f.field(item, -1, DefectHeader8bit))...)
	}
	env.To = f.list(to)
	return env, d
}

// addDefects adds the codes of d to the sorted list codes.
func addDefects(codes []string, d defects) []string {
	if len(d) == 0 {
		return codes
	}
	for _, c := range codes {
		d.add(c)
	}
	return d.list()
}
