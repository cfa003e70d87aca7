package db

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
)

// ErasureCriteria select the emails an erasure job erases; every given one
// must match, and the table requires at least one. Address is stored
// lower-cased and matched case-insensitively in from, to, cc and the
// envelope, bare or inside "Name <address>" (the erasure_job_emails view).
type ErasureCriteria struct {
	Address        *string
	Mailbox        *string
	ReceivedBefore *time.Time
}

// ErasureJob is an erasure job (an erasure_jobs row). The lease columns
// (locked_by, locked_until) stay inside this package.
type ErasureJob struct {
	ID           int64
	RequestedBy  string // the client that started it; its erasures are recorded as this client
	RequestID    string // the request that started it
	Criteria     ErasureCriteria
	Reason       string
	Status       string // pending, running, completed or failed
	Matched      int64  // emails in scope, counted when the job is scoped
	Erased       int64
	HighWaterID  *int64 // the newest email id in scope; nil until the job is scoped
	LastID       int64  // the progress: emails up to this id are done
	CreatedAt    time.Time
	StartedAt    *time.Time
	CompletedAt  *time.Time
	ErrorMessage *string
}

func erasureJobFromRow(r gen.ErasureJob) ErasureJob {
	return ErasureJob{ID: r.ID, RequestedBy: r.RequestedBy, RequestID: r.RequestID, Reason: r.Reason,
		Status: r.Status, Matched: r.Matched, Erased: r.Erased, HighWaterID: r.HighWaterID, LastID: r.LastID,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt, ErrorMessage: r.ErrorMessage,
		Criteria: ErasureCriteria{Address: r.Address, Mailbox: r.Mailbox, ReceivedBefore: r.ReceivedBefore}}
}

// NewErasureJob is what InsertErasureJob records.
type NewErasureJob struct {
	RequestedBy string
	RequestID   string
	Criteria    ErasureCriteria
	Reason      string
}

// InsertErasureJob records a pending job and returns it. Errors are named
// "insert erasure job" (a job without criteria breaks a CHECK).
func (q *Queries) InsertErasureJob(ctx context.Context, j NewErasureJob) (ErasureJob, error) {
	row, err := q.g.InsertErasureJob(ctx, gen.InsertErasureJobParams{RequestedBy: j.RequestedBy, RequestID: j.RequestID,
		Address: j.Criteria.Address, Mailbox: j.Criteria.Mailbox, ReceivedBefore: j.Criteria.ReceivedBefore, Reason: j.Reason})
	if err != nil {
		return ErasureJob{}, wrap("insert erasure job", err)
	}
	return erasureJobFromRow(row), nil
}

// GetErasureJob returns job id, or an apperr NotFound ("erasure <id> not
// found").
func (q *Queries) GetErasureJob(ctx context.Context, id int64) (ErasureJob, error) {
	row, err := q.g.GetErasureJob(ctx, id)
	if err != nil {
		return ErasureJob{}, found("get erasure job", err, "erasure", id)
	}
	return erasureJobFromRow(row), nil
}

// ListErasureJobs returns up to limit jobs with ids below beforeID (all when
// nil), newest first, and the cursor of the next page (nil on the last
// page). Errors are named "list erasure jobs".
func (q *Queries) ListErasureJobs(ctx context.Context, beforeID *int64, limit int32) ([]ErasureJob, *int64, error) {
	rows, err := q.g.ListErasureJobs(ctx, gen.ListErasureJobsParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, wrap("list erasure jobs", err)
	}
	rows, next := page(rows, limit, func(r gen.ErasureJob) int64 { return r.ID })
	out := make([]ErasureJob, len(rows))
	for i, r := range rows {
		out[i] = erasureJobFromRow(r)
	}
	return out, next, nil
}

// ClaimErasureJob leases the oldest open job whose lease is free or expired
// (its instance died) to worker for lease, marks it running and returns it;
// ok is false when there is none. Errors are named "claim erasure job".
func (q *Queries) ClaimErasureJob(ctx context.Context, worker string, lease time.Duration) (job ErasureJob, ok bool, err error) {
	row, err := q.g.ClaimErasureJob(ctx, gen.ClaimErasureJobParams{LeaseSeconds: lease.Seconds(), Worker: worker})
	if errors.Is(err, pgx.ErrNoRows) {
		return ErasureJob{}, false, nil
	}
	if err != nil {
		return ErasureJob{}, false, wrap("claim erasure job", err)
	}
	return erasureJobFromRow(row), true, nil
}

// ScopeErasureJob fixes the scope of job id, leased by worker, on its first
// claim: the emails up to the newest id now, and how many of them match. A
// job already scoped, or no longer worker's, is left as it is. Errors are
// named "scope erasure job".
func (q *Queries) ScopeErasureJob(ctx context.Context, id int64, worker string) error {
	_, err := q.g.ScopeErasureJob(ctx, gen.ScopeErasureJobParams{ID: id, Worker: worker})
	return wrap("scope erasure job", err)
}

// NextErasureBatch returns the ids of up to limit emails of job jobID's
// scope after its progress that are not erased yet, in id order; none when
// the job is done. Errors are named "next erasure batch".
func (q *Queries) NextErasureBatch(ctx context.Context, jobID int64, limit int32) ([]int64, error) {
	ids, err := q.g.NextErasureBatch(ctx, gen.NextErasureBatchParams{JobID: jobID, RowLimit: limit})
	return ids, wrap("next erasure batch", err)
}

// ErasureProgress is one batch of a job, recorded by AdvanceErasureJob.
type ErasureProgress struct {
	JobID  int64
	Worker string        // the lease holder
	LastID int64         // the last email id of the batch
	Erased int64         // emails the batch erased
	Lease  time.Duration // the lease is renewed for this long
}

// AdvanceErasureJob records p and renews the lease. ok is false when
// p.Worker lost its lease (the caller rolls the batch back). Errors are
// named "advance erasure job".
func (q *Queries) AdvanceErasureJob(ctx context.Context, p ErasureProgress) (ok bool, err error) {
	n, err := q.g.AdvanceErasureJob(ctx, gen.AdvanceErasureJobParams{ID: p.JobID, Worker: p.Worker,
		LastID: p.LastID, Erased: p.Erased, LeaseSeconds: p.Lease.Seconds()})
	if err != nil {
		return false, wrap("advance erasure job", err)
	}
	return n > 0, nil
}

// FinishErasureJob ends job id, leased by worker, with status and
// errorMessage (nil when it completed) and frees its lease. Errors are
// named "finish erasure job".
func (q *Queries) FinishErasureJob(ctx context.Context, id int64, worker, status string, errorMessage *string) error {
	return wrap("finish erasure job", q.g.FinishErasureJob(ctx, gen.FinishErasureJobParams{
		ID: id, Worker: worker, Status: status, ErrorMessage: errorMessage}))
}

// ReleaseErasureJob gives job id back (a shutdown) so that another instance
// may go on at once; nothing happens unless worker holds it. Errors are
// named "release erasure job".
func (q *Queries) ReleaseErasureJob(ctx context.Context, id int64, worker string) error {
	return wrap("release erasure job", q.g.ReleaseErasureJob(ctx, gen.ReleaseErasureJobParams{ID: id, Worker: worker}))
}

// EraseEmails turns each email in ids that is not erased yet into a
// tombstone erased by erasedBy for reason: its personal columns cleared, its
// version bumped, an outbox 'delete' (with maxRetries attempts) to remove
// its MongoDB document, and the cached responses of its idempotency record
// purged (a request with its key is answered Gone). It returns the ids
// erased, in id order. Errors are named "erase emails".
func (q *Queries) EraseEmails(ctx context.Context, ids []int64, erasedBy, reason string, maxRetries int32) ([]int64, error) {
	erased, err := q.g.EraseEmails(ctx, gen.EraseEmailsParams{Ids: ids, ErasedBy: erasedBy, EraseReason: reason, MaxRetries: maxRetries})
	return erased, wrap("erase emails", err)
}

// ExpiredEmailIDs returns the ids of up to limit emails received before
// before and not erased yet, oldest first. Errors are named "expired email
// ids".
func (q *Queries) ExpiredEmailIDs(ctx context.Context, before time.Time, limit int32) ([]int64, error) {
	ids, err := q.g.ExpiredEmailIDs(ctx, gen.ExpiredEmailIDsParams{Before: before, RowLimit: limit})
	return ids, wrap("expired email ids", err)
}
