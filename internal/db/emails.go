package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// emailFromRow turns a generated incoming_emails row into the domain type.
// It fails only when the jsonb columns hold something the service never wrote.
func emailFromRow(r gen.IncomingEmail) (email.Stored, error) {
	s := email.Stored{
		Content: email.Content{
			ClientID: r.ClientID, MessageID: r.MessageID, Mailbox: r.Mailbox, From: r.FromAddress,
			To: r.ToAddresses, Cc: r.CcAddresses, Subject: r.Subject, TextBody: r.TextBody,
			HTMLBody: r.HtmlBody, RawSizeBytes: r.RawSizeBytes, ReceivedAt: r.ReceivedAt,
			EnvelopeFrom: r.EnvelopeFrom, EnvelopeTo: r.EnvelopeTo,
			MessageIDGenerated: r.MessageIDSource == email.MessageIDGenerated, Incomplete: r.Incomplete,
			Labels: r.Labels, ParseDefects: r.ParseDefects,
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
	if len(r.AuthResults) > 0 {
		s.AuthResults = &email.AuthResults{}
		if err := json.Unmarshal(r.AuthResults, s.AuthResults); err != nil {
			return s, fmt.Errorf("email %d: auth_results: %w", r.ID, err)
		}
	}
	s.Content.Normalize()
	return s, nil
}

// emailsFromRows converts a slice of rows with emailFromRow.
func emailsFromRows(rows []gen.IncomingEmail) ([]email.Stored, error) {
	out := make([]email.Stored, 0, len(rows))
	for _, r := range rows {
		s, err := emailFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// GetEmail returns email id, or an apperr NotFound.
func (q *Queries) GetEmail(ctx context.Context, id int64) (email.Stored, error) {
	row, err := q.g.GetEmail(ctx, id)
	if err != nil {
		return email.Stored{}, found("get email", err, "email", id)
	}
	return emailFromRow(row)
}

// GetEmails returns the emails with these ids that exist, in id order.
func (q *Queries) GetEmails(ctx context.Context, ids []int64) ([]email.Stored, error) {
	rows, err := q.g.GetEmailsByIDs(ctx, ids)
	if err != nil {
		return nil, wrap("get emails by ids", err)
	}
	return emailsFromRows(rows)
}

// EmailFilter selects emails for ListEmails; nil fields do not filter.
type EmailFilter struct {
	SyncStatus, Mailbox, MessageID, IdempotencyKey *string
	Incomplete                                     *bool
	ParseDefects                                   *bool // emails with (true) or without (false) parse defects
	// SPF, DKIM and DMARC select emails with a verdict of this result (for
	// DKIM: any of its verdicts).
	SPF, DKIM, DMARC              *string
	Label                         *string    // emails carrying this label
	ReceivedAfter, ReceivedBefore *time.Time // [after, before)
	BeforeID                      *int64     // keyset cursor
	Limit                         int32
}

// ListEmails returns up to f.Limit emails, newest first, and the cursor of
// the next page (nil on the last page).
func (q *Queries) ListEmails(ctx context.Context, f EmailFilter) ([]email.Stored, *int64, error) {
	rows, err := q.g.ListEmails(ctx, gen.ListEmailsParams{
		SyncStatus: f.SyncStatus, Mailbox: f.Mailbox, MessageID: f.MessageID,
		IdempotencyKey: f.IdempotencyKey, ReceivedAfter: f.ReceivedAfter,
		ReceivedBefore: f.ReceivedBefore, Incomplete: f.Incomplete, BeforeID: f.BeforeID, RowLimit: f.Limit + 1, Label: f.Label,
		ParseDefects: f.ParseDefects, Spf: f.SPF, Dkim: f.DKIM, Dmarc: f.DMARC,
	})
	if err != nil {
		return nil, nil, wrap("list emails", err)
	}
	rows, next := page(rows, f.Limit, func(r gen.IncomingEmail) int64 { return r.ID })
	out, err := emailsFromRows(rows)
	return out, next, err
}
