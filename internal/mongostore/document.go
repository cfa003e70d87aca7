// Package mongostore is the MongoDB side of mailsync: the document shape of
// a replicated email, its indexes, and version-guarded idempotent writes.
// It uses no transactions and no change streams, so it runs unchanged on
// MongoDB and on FerretDB.
package mongostore

import (
	"time"

	"mailsync/internal/email"
)

// Collection is the collection holding one document per email.
const Collection = "incoming_emails"

// Header is one header field; headers are stored as a list of these rather
// than a sub-document because header names may hold '.' or start with '$'.
type Header struct {
	Name   string   `bson:"name"`
	Values []string `bson:"values"`
}

// Document is an email as MongoDB holds it: _id is the PostgreSQL id.
type Document struct {
	ID           int64              `bson:"_id"`
	ClientID     string             `bson:"client_id"`
	MessageID    string             `bson:"message_id"`
	Mailbox      string             `bson:"mailbox"`
	From         string             `bson:"from"`
	To           []string           `bson:"to"`
	Cc           []string           `bson:"cc"`
	Subject      string             `bson:"subject"`
	TextBody     string             `bson:"text_body"`
	HTMLBody     string             `bson:"html_body"`
	Headers      []Header           `bson:"headers"`
	Attachments  []email.Attachment `bson:"attachments"`
	RawSizeBytes int64              `bson:"raw_size_bytes"`
	ReceivedAt   time.Time          `bson:"received_at"`
	// The envelope and the raw-message flags; documents written before they
	// existed lack them and decode to the zero values, which hash as before.
	EnvelopeFrom    string    `bson:"envelope_from"`
	EnvelopeTo      []string  `bson:"envelope_to"`
	MessageIDSource string    `bson:"message_id_source"`
	Incomplete      bool      `bson:"incomplete"`
	Version         int64     `bson:"version"`
	ContentHash     string    `bson:"content_hash"`
	SyncedAt        time.Time `bson:"synced_at"`
	Labels          []string  `bson:"labels,omitempty"`
	// RawSHA256 names the blob of the original message (GridFS file
	// _id and filename) of an email received raw; absent otherwise.
	// Attachments name their blobs by their sha256.
	RawSHA256 string `bson:"raw_sha256,omitempty"`
	// ParseDefects are the raw message's parse defect codes; documents
	// written before they existed lack them, which hashes as none.
	ParseDefects []string `bson:"parse_defects"`
	// AuthResults are the sender-authentication verdicts; absent when none.
	AuthResults *email.AuthResults `bson:"auth_results,omitempty"`
	// Erased marks a tombstone (see Tombstone): no content, never replaced.
	Erased bool `bson:"erased,omitempty"`
	// An email whose bodies and headers would pass MongoDB's document
	// limit keeps each overflowing field as a blob (email.Overflow): the
	// field is empty here and these name its blob (for headers, the JSON
	// of the headers).
	TextBodySHA256 string `bson:"text_body_sha256,omitempty"`
	HTMLBodySHA256 string `bson:"html_body_sha256,omitempty"`
	HeadersSHA256  string `bson:"headers_sha256,omitempty"`
}

// FromEmail builds the document of a stored email, synced at now.
func FromEmail(e email.Stored, now time.Time) Document {
	headers := make([]Header, 0, len(e.Headers))
	for _, name := range e.HeaderNames() {
		headers = append(headers, Header{Name: name, Values: e.Headers[name]})
	}
	hash := e.ContentHash
	if hash == "" { // emails stored before content hashes existed
		hash = e.Content.Hash()
	}
	return Document{
		ID: e.ID, ClientID: e.ClientID, MessageID: e.MessageID, Mailbox: e.Mailbox, From: e.From,
		To: e.To, Cc: e.Cc, Subject: e.Subject, TextBody: e.TextBody, HTMLBody: e.HTMLBody,
		Headers: headers, Attachments: e.Attachments, RawSizeBytes: e.RawSizeBytes,
		ReceivedAt: e.ReceivedAt, Version: e.Version, ContentHash: hash, SyncedAt: now.UTC(),
		EnvelopeFrom: e.EnvelopeFrom, EnvelopeTo: e.EnvelopeTo, MessageIDSource: e.MessageIDSource(),
		Incomplete: e.Incomplete,
		Labels:     e.Labels, ParseDefects: e.ParseDefects, AuthResults: e.AuthResults,
	}.overflowed(e.Content.Overflow())
}

// overflowed moves the fields in moved out of d, leaving their references.
func (d Document) overflowed(moved []email.Overflowed) Document {
	for _, o := range moved {
		switch o.Field {
		case email.FieldTextBody:
			d.TextBody, d.TextBodySHA256 = "", o.SHA256
		case email.FieldHTMLBody:
			d.HTMLBody, d.HTMLBodySHA256 = "", o.SHA256
		case email.FieldHeaders:
			d.Headers, d.HeadersSHA256 = []Header{}, o.SHA256
		}
	}
	return d
}

// Content rebuilds the email content from the document's own fields, so a
// document changed behind the service's back hashes differently from its
// stored content_hash.
func (d Document) Content() email.Content {
	c := email.Content{
		ClientID: d.ClientID, MessageID: d.MessageID, Mailbox: d.Mailbox, From: d.From, To: d.To, Cc: d.Cc,
		Subject: d.Subject, TextBody: d.TextBody, HTMLBody: d.HTMLBody, Attachments: d.Attachments,
		RawSizeBytes: d.RawSizeBytes, ReceivedAt: d.ReceivedAt, Headers: make(map[string][]string, len(d.Headers)),
		EnvelopeFrom: d.EnvelopeFrom, EnvelopeTo: d.EnvelopeTo,
		MessageIDGenerated: d.MessageIDSource == email.MessageIDGenerated, Incomplete: d.Incomplete,
		Labels: d.Labels, ParseDefects: d.ParseDefects, AuthResults: d.AuthResults,
	}
	for _, h := range d.Headers {
		c.Headers[h.Name] = h.Values
	}
	if d.TextBodySHA256 != "" {
		c.TextBody = email.OverflowMarker(d.TextBodySHA256)
	}
	if d.HTMLBodySHA256 != "" {
		c.HTMLBody = email.OverflowMarker(d.HTMLBodySHA256)
	}
	if d.HeadersSHA256 != "" {
		c.Headers = email.HeadersMarker(d.HeadersSHA256)
	}
	c.Normalize()
	return c
}
