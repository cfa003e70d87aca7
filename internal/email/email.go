// Package email defines the email as mailsync stores and replicates it: the
// replicated content, its validation and normalisation, and the canonical
// content hash that PostgreSQL and MongoDB are compared by.
package email

import (
	"sort"
	"time"
)

// Attachment is the metadata kept for one attachment; the bytes are not stored.
type Attachment struct {
	Filename    string `json:"filename" bson:"filename"`
	ContentType string `json:"content_type" bson:"content_type"`
	SizeBytes   int64  `json:"size_bytes" bson:"size_bytes"`
	SHA256      string `json:"sha256" bson:"sha256"`
}

// Content is the replicated content of an email: everything that is written
// to MongoDB and covered by the content hash.
type Content struct {
	ClientID     string              `json:"client_id"`
	MessageID    string              `json:"message_id"`
	Mailbox      string              `json:"mailbox"`
	From         string              `json:"from"`
	To           []string            `json:"to"`
	Cc           []string            `json:"cc"`
	Subject      string              `json:"subject"`
	TextBody     string              `json:"text_body"`
	HTMLBody     string              `json:"html_body"`
	Headers      map[string][]string `json:"headers"`
	Attachments  []Attachment        `json:"attachments"`
	RawSizeBytes int64               `json:"raw_size_bytes"`
	ReceivedAt   time.Time           `json:"received_at"`

	// The members below are omitted from the canonical JSON when zero, so
	// emails stored before they existed keep their content hash.

	// EnvelopeFrom and EnvelopeTo are the SMTP envelope sender and
	// recipients the email arrived with; empty when the client sent none.
	EnvelopeFrom string   `json:"envelope_from,omitempty"`
	EnvelopeTo   []string `json:"envelope_to,omitempty"`
	// MessageIDGenerated reports that a raw message had no Message-ID and
	// MessageID was derived from its bytes (message_id_source "generated").
	MessageIDGenerated bool `json:"message_id_generated,omitempty"`
	// Incomplete reports that a raw message had no usable From, or no usable
	// To or Cc, and the envelope (or nothing) stood in for it.
	Incomplete bool `json:"incomplete,omitempty"`
	// ParseDefects lists what could not be parsed in a raw message as the
	// standards say (stable codes, see ingest.DefectCodes); empty for a
	// clean message and for JSON input.
	ParseDefects []string `json:"parse_defects,omitempty"`
	// AuthResults are the sender-authentication verdicts of a raw message;
	// nil when there are none (Normalize makes an empty value nil).
	AuthResults *AuthResults `json:"auth_results,omitempty"`
	// Labels are set after ingestion (PATCH). Left out of the canonical
	// JSON when empty, so the hash of an unlabelled email is the one it had
	// before labels existed.
	Labels []string `json:"labels,omitempty"`
}

// The values of message_id_source.
const (
	MessageIDFromHeader = "header"
	MessageIDGenerated  = "generated"
)

// MessageIDSource is "generated" when the service made the Message-ID up
// and "header" otherwise.
func (c *Content) MessageIDSource() string {
	if c.MessageIDGenerated {
		return MessageIDGenerated
	}
	return MessageIDFromHeader
}

// Normalize puts c in the canonical form that is stored: nil slices and maps
// become empty ones and received_at is UTC truncated to milliseconds (the
// precision MongoDB keeps), so the hash survives a round trip through either
// store.
func (c *Content) Normalize() {
	if c.To == nil {
		c.To = []string{}
	}
	if c.Cc == nil {
		c.Cc = []string{}
	}
	if c.EnvelopeTo == nil {
		c.EnvelopeTo = []string{}
	}
	if c.Headers == nil {
		c.Headers = map[string][]string{}
	}
	for k, v := range c.Headers {
		if v == nil {
			c.Headers[k] = []string{}
		}
	}
	if c.Attachments == nil {
		c.Attachments = []Attachment{}
	}
	if c.ParseDefects == nil {
		c.ParseDefects = []string{}
	}
	if c.AuthResults.Empty() {
		c.AuthResults = nil
	}
	if c.Labels == nil {
		c.Labels = []string{}
	}
	c.ReceivedAt = c.ReceivedAt.UTC().Truncate(time.Millisecond)
}

// Hash returns the hex SHA-256 of the canonical JSON of the normalised
// content (see Canonical). Map keys are sorted by encoding/json, so equal
// content gives an equal hash whichever store it was read from.
func (c Content) Hash() string { return HashOf(c.Canonical()) }

// HeaderNames returns the header names of c in sorted order.
func (c Content) HeaderNames() []string {
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
