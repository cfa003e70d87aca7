package db

import (
	"encoding/json"
	"fmt"

	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// EmailFromRow turns a generated incoming_emails row into the domain type.
// It fails only when the jsonb columns hold something the service never wrote.
func EmailFromRow(r gen.IncomingEmail) (email.Stored, error) {
	s := email.Stored{
		Content: email.Content{
			ClientID: r.ClientID, MessageID: r.MessageID, Mailbox: r.Mailbox, From: r.FromAddress,
			To: r.ToAddresses, Cc: r.CcAddresses, Subject: r.Subject, TextBody: r.TextBody,
			HTMLBody: r.HtmlBody, RawSizeBytes: r.RawSizeBytes, ReceivedAt: r.ReceivedAt,
			EnvelopeFrom: r.EnvelopeFrom, EnvelopeTo: r.EnvelopeTo,
			MessageIDGenerated: r.MessageIDSource == email.MessageIDGenerated, Incomplete: r.Incomplete,
			Labels: r.Labels,
		},
		ID: r.ID, IdempotencyKey: r.IdempotencyKey, Version: r.Version, ContentHash: r.ContentHash,
		SyncStatus: r.SyncStatus, SyncError: r.SyncError, SyncRetryCount: r.SyncRetryCount,
		SyncedAt: r.SyncedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ErasedAt: r.ErasedAt,
	}
	if r.ErasedBy != nil {
		s.ErasedBy = *r.ErasedBy
	}
	if r.EraseReason != nil {
		s.EraseReason = *r.EraseReason
	}
	if err := json.Unmarshal(r.Headers, &s.Headers); err != nil {
		return s, fmt.Errorf("email %d: headers: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.Attachments, &s.Attachments); err != nil {
		return s, fmt.Errorf("email %d: attachments: %w", r.ID, err)
	}
	s.Content.Normalize()
	return s, nil
}

// EmailsFromRows converts a slice of rows with EmailFromRow.
func EmailsFromRows(rows []gen.IncomingEmail) ([]email.Stored, error) {
	out := make([]email.Stored, 0, len(rows))
	for _, r := range rows {
		s, err := EmailFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// InsertEmailParams builds the insert of normalised content c, whose content
// hash is hash (c.Hash(), computed once by the caller), under key.
func InsertEmailParams(c email.Content, hash, key string, maxRetries int32) gen.InsertEmailParams {
	headers, _ := json.Marshal(c.Headers)         // map of string slices: cannot fail
	attachments, _ := json.Marshal(c.Attachments) // plain structs: cannot fail
	return gen.InsertEmailParams{
		ClientID: c.ClientID, MessageID: c.MessageID, Mailbox: c.Mailbox, FromAddress: c.From,
		ToAddresses: c.To, CcAddresses: c.Cc, Subject: c.Subject, TextBody: c.TextBody,
		HtmlBody: c.HTMLBody, Headers: headers, Attachments: attachments, RawSizeBytes: c.RawSizeBytes,
		ReceivedAt: c.ReceivedAt, ContentHash: hash, IdempotencyKey: &key, MaxRetries: maxRetries,
		EnvelopeFrom: c.EnvelopeFrom, EnvelopeTo: c.EnvelopeTo, MessageIDSource: c.MessageIDSource(),
		Incomplete: c.Incomplete,
	}
}
