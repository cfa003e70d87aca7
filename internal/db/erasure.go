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
	Address *string
	// AddressHMAC is the keyed hash of Address; it stays when Address is
	// cleared at the job's end.
	AddressHMAC    *string
	Mailbox        *string
	ReceivedBefore *time.Time
}

// ErasureJob is an erasure job (an erasure_jobs row). The lease columns
// (locked_by, locked_until) stay inside this package.
type ErasureJob struct {
	ID          int64
	RequestedBy string // the client that started it; its erasures are recorded as this client
	RequestID   string // the request that started it
	Criteria    ErasureCriteria
	Reason      string
	Status      string // pending, running, completed or failed
	Matched     int64  // emails in scope, counted when the job is scoped
	Erased      int64
	HighWaterID *int64 // the newest email id in scope; nil until the job is scoped
	LastID      int64  // the progress: emails up to this id are done
	// Awaited is how many transactions were in progress when the job was
	// requested: its scope was fixed once they had all ended.
	Awaited      int
	ScopedAt     *time.Time // when the scope was fixed; nil until then
	Attempts     int32      // claims in a row without progress
	CreatedAt    time.Time
	StartedAt    *time.Time
	CompletedAt  *time.Time
	ErrorMessage *string
}

func erasureJobFromRow(r gen.ErasureJob) ErasureJob {
	return ErasureJob{ID: r.ID, RequestedBy: r.RequestedBy, RequestID: r.RequestID, Reason: r.Reason,
		Status: r.Status, Matched: r.Matched, Erased: r.Erased, HighWaterID: r.HighWaterID, LastID: r.LastID,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt, ErrorMessage: r.ErrorMessage,
		Awaited: len(r.RequestedXids), ScopedAt: r.ScopedAt, Attempts: r.Attempts,
		Criteria: ErasureCriteria{Address: r.Address, AddressHMAC: r.AddressHmac, Mailbox: r.Mailbox, ReceivedBefore: r.ReceivedBefore}}
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
		Address: j.Criteria.Address, AddressHmac: j.Criteria.AddressHMAC, Mailbox: j.Criteria.Mailbox, ReceivedBefore: j.Criteria.ReceivedBefore, Reason: j.Reason})
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
// claim, once every transaction in progress when the job was requested has
// ended: the emails up to the newest id then, and how many of them match.
// scoped is false while one of those transactions is still open (or when
// the job is already scoped, or no longer worker's). Errors are named
// "scope erasure job".
func (q *Queries) ScopeErasureJob(ctx context.Context, id int64, worker string) (scoped bool, err error) {
	n, err := q.g.ScopeErasureJob(ctx, gen.ScopeErasureJobParams{ID: id, Worker: worker})
	return n > 0, wrap("scope erasure job", err)
}

// ParseAddresses returns the normalised addresses of one address list, as
// the erasure matcher stores them for every email. Errors are named "parse
// addresses".
func (q *Queries) ParseAddresses(ctx context.Context, list string) ([]string, error) {
	a, err := q.g.ParseAddresses(ctx, list)
	return a, wrap("parse addresses", err)
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

// ReleaseErasureJob gives job id back (a shutdown, or a scope still
// waiting) without counting the attempt; it can be claimed again after
// delay. Nothing happens unless worker holds it. Errors are named "release
// erasure job".
func (q *Queries) ReleaseErasureJob(ctx context.Context, id int64, worker string, delay time.Duration) error {
	return wrap("release erasure job", q.g.ReleaseErasureJob(ctx, gen.ReleaseErasureJobParams{
		ID: id, Worker: worker, DelaySeconds: delay.Seconds()}))
}

// RetryErasureJob records a failed attempt of job id, leased by worker:
// errorMessage, and the next attempt after delay; when the job has made
// maxAttempts attempts in a row without progress it fails for good. It
// returns the job's status after that ("failed", or "running" to be tried
// again; "" when worker no longer held it). Errors are named "retry erasure
// job".
func (q *Queries) RetryErasureJob(ctx context.Context, id int64, worker, errorMessage string, delay time.Duration, maxAttempts int32) (string, error) {
	st, err := q.g.RetryErasureJob(ctx, gen.RetryErasureJobParams{ID: id, Worker: worker, ErrorMessage: &errorMessage,
		DelaySeconds: delay.Seconds(), MaxAttempts: maxAttempts})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return st, wrap("retry erasure job", err)
}

// ErasureStats is what the metrics report of erasure jobs.
type ErasureStats struct {
	Failed               int64   // jobs that failed, ever
	Open                 int64   // jobs pending or running
	OldestOpenAgeSeconds float64 // 0 when none is open
}

// ErasureJobStats returns the jobs' figures for the metrics. Errors are
// named "erasure job stats".
func (q *Queries) ErasureJobStats(ctx context.Context) (ErasureStats, error) {
	r, err := q.g.ErasureJobStats(ctx)
	return ErasureStats{Failed: r.Failed, Open: r.Open, OldestOpenAgeSeconds: r.OldestOpenAgeSeconds}, wrap("erasure job stats", err)
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
