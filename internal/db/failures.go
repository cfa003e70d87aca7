package db

import (
	"context"
	"time"

	"mailsync/internal/db/gen"
)

// SyncFailure is a failed email with its last error.
type SyncFailure struct {
	ID             int64
	ClientID       string // the API client that ingested it
	MessageID      string
	Mailbox        string
	SyncError      *string
	SyncRetryCount int32
	UpdatedAt      time.Time
	// FailedAt is when its last outbox message died (UpdatedAt when it
	// has none).
	FailedAt time.Time
}

// FailedFilter selects failed emails, for listing, counting and
// re-driving alike; nil fields do not filter, and the fields given must
// all match.
type FailedFilter struct {
	Mailbox  *string // exact
	ClientID *string // exact: the API client that ingested the email
	// Error keeps the emails whose last sync error, or its pattern (see
	// GroupSyncFailures), contains it, ignoring case.
	Error *string
	// FailedBefore keeps the emails whose last message died before it;
	// FailedAfter those whose last message died at or after it.
	FailedBefore *time.Time
	FailedAfter  *time.Time
}

// ListSyncFailures returns up to limit failed emails f selects with ids
// below beforeID (all when nil), newest first, and the cursor of the next
// page (nil on the last page).
func (q *Queries) ListSyncFailures(ctx context.Context, f FailedFilter, beforeID *int64, limit int32) ([]SyncFailure, *int64, error) {
	rows, err := q.g.ListSyncFailures(ctx, gen.ListSyncFailuresParams{BeforeID: beforeID, Mailbox: f.Mailbox,
		ClientID: f.ClientID, Error: f.Error, FailedBefore: f.FailedBefore, FailedAfter: f.FailedAfter, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, wrap("list sync failures", err)
	}
	rows, next := page(rows, limit, func(r gen.SyncFailure) int64 { return r.ID })
	out := make([]SyncFailure, len(rows))
	for i, r := range rows {
		out[i] = SyncFailure{ID: r.ID, ClientID: r.ClientID, MessageID: r.MessageID, Mailbox: r.Mailbox,
			SyncError: r.SyncError, SyncRetryCount: r.SyncRetryCount, UpdatedAt: r.UpdatedAt, FailedAt: r.FailedAt}
	}
	return out, next, nil
}

// CountSyncFailures returns how many failed emails f selects.
func (q *Queries) CountSyncFailures(ctx context.Context, f FailedFilter) (int64, error) {
	n, err := q.g.CountSyncFailures(ctx, gen.CountSyncFailuresParams{Mailbox: f.Mailbox, ClientID: f.ClientID,
		Error: f.Error, FailedBefore: f.FailedBefore, FailedAfter: f.FailedAfter})
	return n, wrap("count sync failures", err)
}

// RequeueFailedEmails enqueues a fresh sync, with maxRetries attempts, of
// every failed email f selects, resets them to pending, and returns how
// many.
func (q *Queries) RequeueFailedEmails(ctx context.Context, f FailedFilter, maxRetries int32) (int64, error) {
	n, err := q.g.RequeueFailedEmails(ctx, gen.RequeueFailedEmailsParams{Mailbox: f.Mailbox, ClientID: f.ClientID,
		Error: f.Error, FailedBefore: f.FailedBefore, FailedAfter: f.FailedAfter, MaxRetries: maxRetries})
	return n, wrap("requeue failed emails", err)
}

// FailureGroup is the number of failed emails whose last sync error has
// one pattern (nil: none recorded).
type FailureGroup struct {
	Pattern *string
	Emails  int64
}

// GroupSyncFailures returns the limit largest groups, by the pattern of
// their last sync error (sync_error_pattern: every run of 32 or more hex
// digits, then of digits, written "#"), of the newest sample failed emails,
// largest first (ties by pattern, none recorded last), and how many failed
// emails were counted (at most sample). Its cost is bounded by sample.
func (q *Queries) GroupSyncFailures(ctx context.Context, limit, sample int32) ([]FailureGroup, int64, error) {
	rows, err := q.g.GroupSyncFailures(ctx, gen.GroupSyncFailuresParams{RowLimit: limit, SampleSize: sample})
	if err != nil {
		return nil, 0, wrap("group sync failures", err)
	}
	var sampled int64
	out := make([]FailureGroup, len(rows))
	for i, r := range rows {
		out[i] = FailureGroup{Emails: r.Emails}
		if r.Pattern != "" {
			out[i].Pattern = &r.Pattern
		}
		sampled = r.Sampled
	}
	return out, sampled, nil
}
