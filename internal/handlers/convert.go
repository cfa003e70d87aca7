package handlers

import (
	"encoding/base64"
	"strconv"
	"strings"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// contentFromInput maps the JSON request schema to domain content.
func contentFromInput(in api.EmailInput) email.Content {
	c := email.Content{MessageID: in.MessageId, From: in.From, To: in.To, ReceivedAt: in.ReceivedAt}
	if in.Mailbox != nil {
		c.Mailbox = *in.Mailbox
	}
	if in.Cc != nil {
		c.Cc = *in.Cc
	}
	if in.Subject != nil {
		c.Subject = *in.Subject
	}
	if in.TextBody != nil {
		c.TextBody = *in.TextBody
	}
	if in.HtmlBody != nil {
		c.HTMLBody = *in.HtmlBody
	}
	if in.Headers != nil {
		c.Headers = *in.Headers
	}
	if in.EnvelopeFrom != nil {
		c.EnvelopeFrom = *in.EnvelopeFrom
	}
	if in.EnvelopeTo != nil {
		c.EnvelopeTo = *in.EnvelopeTo
	}
	if in.Attachments != nil {
		for _, a := range *in.Attachments {
			c.Attachments = append(c.Attachments, email.Attachment{
				Filename: a.Filename, ContentType: a.ContentType, SizeBytes: a.SizeBytes, SHA256: a.Sha256})
		}
	}
	c.Normalize()
	return c
}

// toAPIEmail maps a stored email to the response schema.
func toAPIEmail(e email.Stored) api.Email {
	atts := make([]api.Attachment, len(e.Attachments))
	for i, a := range e.Attachments {
		atts[i] = api.Attachment{Filename: a.Filename, ContentType: a.ContentType, SizeBytes: a.SizeBytes, Sha256: a.SHA256}
	}
	return api.Email{
		Id: e.ID, ClientId: e.ClientID, IdempotencyKey: e.IdempotencyKey, MessageId: e.MessageID,
		Mailbox: e.Mailbox, From: e.From, To: e.To, Cc: e.Cc, Subject: e.Subject, TextBody: e.TextBody,
		HtmlBody: e.HTMLBody, Headers: e.Headers, Attachments: atts, RawSizeBytes: e.RawSizeBytes,
		ReceivedAt: e.ReceivedAt, SyncStatus: api.EmailSyncStatus(e.SyncStatus), SyncedAt: e.SyncedAt,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Version: e.Version, ContentHash: e.ContentHash,
		EnvelopeFrom: e.EnvelopeFrom, EnvelopeTo: e.EnvelopeTo,
		MessageIdSource: api.EmailMessageIdSource(e.MessageIDSource()), Incomplete: e.Incomplete,
		Labels: e.Labels, ParseDefects: e.ParseDefects, AuthResults: toAPIAuthResults(e.AuthResults),
	}
}

// RenderEmail is the cached response body of a stored email.
func RenderEmail(e email.Stored) ([]byte, error) { return marshalJSON(toAPIEmail(e)) }

// limit applies the list default (50) and bound (500).
func limit(l *api.Limit) (int32, error) {
	if l == nil {
		return 50, nil
	}
	if *l < 1 || *l > 500 {
		return 0, apperr.New(apperr.Malformed, "limit must be between 1 and 500")
	}
	return int32(*l), nil
}

// Cursors are opaque to clients: base64url of "kind:id".
func encodeCursor(kind string, id *int64) *string {
	if id == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(*id, 10)))
	return &s
}

func decodeCursor(kind string, c *api.Cursor) (*int64, error) {
	if c == nil || *c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*c)
	rest, ok := strings.CutPrefix(string(b), kind+":")
	id, perr := strconv.ParseInt(rest, 10, 64)
	if err != nil || !ok || perr != nil || id < 1 {
		return nil, apperr.New(apperr.Malformed, "cursor is not one this endpoint issued")
	}
	return &id, nil
}
