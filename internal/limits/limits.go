// Package limits is the one definition of the length limits of the API's
// text fields and of how a length is counted: in Unicode characters (code
// points) of valid UTF-8, never in bytes, by every validator (ingest, PATCH,
// erasure criteria), so a value accepted by one operation is accepted by
// every other that takes the same field. A mailbox of 255 "é" (510 bytes)
// is within Mailbox everywhere. The one exception is MessageIDBytes, a
// bound in bytes on the one indexed field whose character limit does not
// keep it small enough for an index.
package limits

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The limits, in characters (counts of items where the name says so).
const (
	// HeaderField bounds every header-derived field (message_id, from, each
	// address, envelope fields, attachment names): RFC 5322 caps a line at
	// 998 characters.
	HeaderField = 998
	// Mailbox bounds a mailbox name.
	Mailbox = 255
	// Label bounds one label; Labels the number of labels of an email.
	Label  = 255
	Labels = 100
	// Subject bounds the decoded subject.
	Subject = 10000
	// Reason bounds the free-text reason of an erasure; RelayReason that
	// of a relay pause or resume.
	Reason      = 1000
	RelayReason = 500
	// Addresses bounds the items of one address list (to, cc, envelope_to).
	Addresses = 1000
	// Headers bounds the header names of an email; Attachments its
	// attachments.
	Headers     = 1000
	Attachments = 1000
)

// MessageIDBytes bounds message_id in bytes of UTF-8, besides HeaderField:
// it is indexed in PostgreSQL and MongoDB, and a btree index row holds at
// most 2,704 bytes (998 characters of 4 bytes are 3,992). Every other
// indexed text field is short enough in characters (mailbox and labels:
// 255 characters, at most 1,020 bytes; idempotency keys: 255 ASCII).
const MessageIDBytes = 2000

// Chars returns the length of s as every limit counts it: its Unicode
// characters (an invalid byte counts as one).
func Chars(s string) int { return utf8.RuneCountInString(s) }

// Text says what is wrong with s as a text field of at most max characters
// (max < 0: unbounded): "is not valid UTF-8", "must not contain NUL
// bytes", "is longer than N characters"; "" when nothing is. PostgreSQL
// refuses invalid UTF-8 and NUL in text, so neither is ever accepted.
func Text(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL bytes"
	case max >= 0 && Chars(s) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	}
	return ""
}
