package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/email"
	"mailsync/internal/limits"
)

// Patch changes an email's placement after ingestion; nil fields stay.
type Patch struct {
	Mailbox *string
	Labels  *[]string
}

// Validate returns an apperr Invalid listing the fields that break the
// rules (at least one field; mailbox up to 255 characters; up to 100
// labels of 1 to 255 characters; valid UTF-8 without NUL bytes), or nil.
func (p Patch) Validate() error {
	var fields []apperr.FieldError
	bad := func(f, msg string) { fields = append(fields, apperr.FieldError{Field: f, Message: msg}) }
	if p.Mailbox == nil && p.Labels == nil {
		return &apperr.Error{Code: apperr.Invalid, Message: "mailbox or labels is required",
			Fields: []apperr.FieldError{{Field: "mailbox", Message: "required unless labels is given"}}}
	}
	if p.Mailbox != nil {
		if msg := limits.Text(*p.Mailbox, limits.Mailbox); msg != "" {
			bad("mailbox", msg)
		}
	}
	if p.Labels != nil {
		if len(*p.Labels) > limits.Labels {
			bad("labels", fmt.Sprintf("at most %d labels", limits.Labels))
		}
		for i, l := range *p.Labels {
			msg := limits.Text(l, limits.Label)
			if msg == "" && strings.TrimSpace(l) == "" {
				msg = "must not be empty"
			}
			if msg != "" && len(fields) < 50 {
				bad(fmt.Sprintf("labels[%d]", i), msg)
			}
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: fields[0].Field + " " + fields[0].Message, Fields: fields}
}

// Patch applies p to email id when it is at version expected: in one
// transaction the row changes, its version goes up by one, an outbox upsert
// carries the new version to MongoDB, and the audit trail records a. A patch
// that changes nothing returns the email as it is. Errors: apperr NotFound,
// Gone (the email was erased), Stale (expected is not the current version),
// Invalid (p breaks a rule).
func (s *Service) Patch(ctx context.Context, id, expected int64, p Patch, a audit.Actor) (email.Stored, error) {
	if err := p.Validate(); err != nil {
		return email.Stored{}, err
	}
	var out email.Stored
	changed := false
	err := db.InTx(ctx, s.pool, func(q *db.Queries) error {
		changed = false
		cur, err := q.LockEmail(ctx, id)
		if err != nil {
			return err
		}
		if cur.Erased() {
			return apperr.New(apperr.Gone, "email %d was erased", id)
		}
		if cur.Version != expected {
			return apperr.New(apperr.Stale, "email %d is at version %d, not %d; read it again and retry", id, cur.Version, expected)
		}
		next := cur.Content
		if p.Mailbox != nil {
			next.Mailbox = *p.Mailbox
		}
		if p.Labels != nil {
			next.Labels = slices.Clone(*p.Labels)
		}
		next.Normalize()
		if next.Mailbox == cur.Mailbox && slices.Equal(next.Labels, cur.Labels) {
			out = cur
			return nil
		}
		updated, ok, err := q.UpdateEmailPlacement(ctx, db.PlacementUpdate{
			ID: id, ExpectedVersion: expected, Mailbox: next.Mailbox, Labels: next.Labels,
			ContentHash: next.Hash(), MaxRetries: s.cfg.MaxRetries, Trace: traceOf(ctx)})
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.Stale, "email %d changed meanwhile; read it again and retry", id)
		}
		out, changed = updated, true
		return audit.Record(ctx, q, a, audit.ActionPatch, fmt.Sprint("email:", id), map[string]any{
			"from_version": expected, "version": out.Version,
			"mailbox_changed": p.Mailbox != nil && *p.Mailbox != cur.Mailbox, "labels_changed": p.Labels != nil})
	})
	if err != nil {
		if db.IsUnavailable(err) {
			return email.Stored{}, apperr.New(apperr.Unavailable, "the database is unavailable; retry later")
		}
		return email.Stored{}, err
	}
	if changed && s.cfg.Committed != nil {
		s.cfg.Committed(1)
	}
	return out, nil
}
