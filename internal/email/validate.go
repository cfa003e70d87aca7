package email

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"mailsync/internal/apperr"
	"mailsync/internal/limits"
)

// Field limits, counted in characters (package limits); bodies are bounded
// by MAX_BODY_BYTES.
const (
	maxHeaderField = limits.HeaderField
	maxMailbox     = limits.Mailbox
	maxAddresses   = limits.Addresses
	maxSubject     = limits.Subject
	maxHeaders     = limits.Headers
	maxAttachments = limits.Attachments
)

// Validate checks c against the rules of the API contract for an email sent
// as JSON (from and at least one to are required) and returns an
// *apperr.Error with code Invalid listing every failing field, or nil.
// PostgreSQL refuses NUL bytes and invalid UTF-8 in text, so both are
// rejected here, before anything is written.
func (c *Content) Validate() error { return c.validate(true) }

// ValidateRaw is Validate for a parsed raw message, which is stored even
// without a sender or recipients: from and to may be empty.
func (c *Content) ValidateRaw() error { return c.validate(false) }

func (c *Content) validate(strict bool) error {
	var v validator
	v.text("message_id", c.MessageID, maxHeaderField, true)
	if len(c.MessageID) > limits.MessageIDBytes && utf8.ValidString(c.MessageID) && limits.Chars(c.MessageID) <= maxHeaderField {
		v.add("message_id", fmt.Sprintf("is longer than %d bytes (its UTF-8 encoding; it is indexed)", limits.MessageIDBytes))
	}
	v.text("mailbox", c.Mailbox, maxMailbox, false)
	v.text("from", c.From, maxHeaderField, strict)
	v.list("to", c.To, strict)
	v.list("cc", c.Cc, false)
	v.text("envelope_from", c.EnvelopeFrom, maxHeaderField, false)
	v.list("envelope_to", c.EnvelopeTo, false)
	v.text("subject", c.Subject, maxSubject, false)
	v.text("text_body", c.TextBody, -1, false)
	v.text("html_body", c.HTMLBody, -1, false)
	if c.ReceivedAt.IsZero() {
		v.add("received_at", "is required")
	} else if y := c.ReceivedAt.Year(); y < 1970 || y > 9999 {
		v.add("received_at", "must be between years 1970 and 9999")
	}
	if len(c.Headers) > maxHeaders {
		v.add("headers", fmt.Sprintf("at most %d header names", maxHeaders))
	}
	for name, values := range c.Headers {
		v.text("headers", name, maxHeaderField, true)
		for _, val := range values {
			v.text("headers."+safeName(name), val, -1, false)
		}
	}
	if len(c.Attachments) > maxAttachments {
		v.add("attachments", fmt.Sprintf("at most %d attachments", maxAttachments))
	}
	for i, a := range c.Attachments {
		f := fmt.Sprintf("attachments[%d]", i)
		v.text(f+".filename", a.Filename, maxHeaderField, false)
		v.text(f+".content_type", a.ContentType, maxHeaderField, false)
		if a.SizeBytes < 0 {
			v.add(f+".size_bytes", "must not be negative")
		}
		if !isSHA256(a.SHA256) {
			v.add(f+".sha256", "must be 64 lowercase hex characters")
		}
	}
	if c.RawSizeBytes < 0 {
		v.add("raw_size_bytes", "must not be negative")
	}
	return v.err()
}

type validator struct{ fields []apperr.FieldError }

func (v *validator) add(field, msg string) {
	if len(v.fields) < 50 {
		v.fields = append(v.fields, apperr.FieldError{Field: field, Message: msg})
	}
}

func (v *validator) text(field, s string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		v.add(field, "is required")
	default:
		if msg := limits.Text(s, max); msg != "" {
			v.add(field, msg)
		}
	}
}

func (v *validator) list(field string, items []string, required bool) {
	if required && len(items) == 0 {
		v.add(field, "needs at least one address")
	}
	if len(items) > maxAddresses {
		v.add(field, fmt.Sprintf("at most %d addresses", maxAddresses))
		return
	}
	for i, s := range items {
		v.text(fmt.Sprintf("%s[%d]", field, i), s, maxHeaderField, true)
	}
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: v.fields[0].Field + " " + v.fields[0].Message, Fields: v.fields}
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// safeName keeps a header name printable in an error message.
func safeName(s string) string {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || len(s) > 100 {
		return "?"
	}
	return s
}
