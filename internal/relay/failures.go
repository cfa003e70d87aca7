package relay

import (
	"context"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/email"
)

// Failure is a failed email with its last error.
type Failure = db.SyncFailure

// FailedFilter selects failed emails; the same filter lists, counts and
// re-drives the same emails.
type FailedFilter = db.FailedFilter

// Failures returns the failed emails f selects, newest first, and the next
// page's cursor.
func (a *Admin) Failures(ctx context.Context, f FailedFilter, beforeID *int64, limit int32) ([]Failure, *int64, error) {
	return a.q.ListSyncFailures(ctx, f, beforeID, limit)
}

// FailureSample bounds the failed emails FailureGroups counts: the newest
// ones, so that the dashboard's poll costs the same however many failed.
const FailureSample = 10000

// FailureGroups are the largest groups of failed emails by error pattern.
type FailureGroups struct {
	Groups  []db.FailureGroup
	Failed  int64 // all failed emails
	Sampled int64 // the newest failed emails the groups were counted over
}

// FailureGroups returns the limit largest groups, by error pattern, of the
// newest FailureSample failed emails, and the number of all failed emails.
func (a *Admin) FailureGroups(ctx context.Context, limit int32) (FailureGroups, error) {
	var out FailureGroups
	var err error
	if out.Groups, out.Sampled, err = a.q.GroupSyncFailures(ctx, limit, FailureSample); err != nil {
		return out, err
	}
	counts, err := a.q.CountEmailsByStatus(ctx)
	out.Failed = max(counts[email.StatusFailed], out.Sampled)
	return out, err
}

// Redrive is the outcome of RetryFailed.
type Redrive struct {
	Matched  int64 // failed emails the filter selected
	Requeued int64 // of them re-enqueued: 0 for a dry run, Matched otherwise
}

// RetryFailed re-enqueues the failed emails f selects (every failed email
// for a zero filter) and records by's sync.retry_failed audit event with
// the filters and the count, in one transaction. With dryRun it only counts
// them: nothing changes and nothing is audited.
func (a *Admin) RetryFailed(ctx context.Context, f FailedFilter, dryRun bool, by audit.Actor) (Redrive, error) {
	if dryRun {
		n, err := a.q.CountSyncFailures(ctx, f)
		return Redrive{Matched: n}, err
	}
	var n int64
	err := db.InTx(ctx, a.pool, func(q *db.Queries) error {
		var err error
		if n, err = q.RequeueFailedEmails(ctx, f, a.maxRetries); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, audit.ActionSyncRetryFailed, "emails", map[string]any{
			"requeued": n, "mailbox": f.Mailbox, "client_id": f.ClientID, "error": f.Error,
			"failed_before": f.FailedBefore, "failed_after": f.FailedAfter})
	})
	if err != nil {
		return Redrive{}, err
	}
	if n > 0 {
		a.wake()
	}
	return Redrive{Matched: n, Requeued: n}, nil
}
