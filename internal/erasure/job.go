package erasure

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/gen"
)

// The statuses of a job (erasure_jobs.status).
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Criteria select the emails a job erases; all given ones must match and
// at least one is given. Address is matched case-insensitively in from, to
// and cc, bare or inside "Name <address>".
type Criteria struct {
	Address        *string
	Mailbox        *string
	ReceivedBefore *time.Time
}

// Job is an erasure job (one erasure_jobs row).
type Job struct {
	ID           int64
	RequestedBy  string
	Criteria     Criteria
	Reason       string
	Status       string
	Matched      int64
	Erased       int64
	CreatedAt    time.Time
	StartedAt    *time.Time
	CompletedAt  *time.Time
	ErrorMessage *string
}

func jobFromRow(r gen.ErasureJob) Job {
	return Job{ID: r.ID, RequestedBy: r.RequestedBy, Reason: r.Reason, Status: r.Status, Matched: r.Matched,
		Erased: r.Erased, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt,
		ErrorMessage: r.ErrorMessage,
		Criteria:     Criteria{Address: r.Address, Mailbox: r.Mailbox, ReceivedBefore: r.ReceivedBefore}}
}

// Normalize trims and lower-cases the address and checks the criteria: an
// apperr Invalid when none is given or one is out of bounds.
func (c *Criteria) Normalize() error {
	if c.Address != nil {
		a := strings.ToLower(strings.TrimSpace(*c.Address))
		a = strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
		if len(a) < 3 || len(a) > 998 || !strings.Contains(a, "@") || strings.ContainsAny(a, "<>\x00") {
			return &apperr.Error{Code: apperr.Invalid, Message: "address must be an email address",
				Fields: []apperr.FieldError{{Field: "address", Message: "must be an email address"}}}
		}
		c.Address = &a
	}
	if c.Mailbox != nil && (*c.Mailbox == "" || len(*c.Mailbox) > 255 || strings.IndexByte(*c.Mailbox, 0) >= 0) {
		return &apperr.Error{Code: apperr.Invalid, Message: "mailbox must be 1 to 255 characters",
			Fields: []apperr.FieldError{{Field: "mailbox", Message: "1 to 255 characters, no NUL bytes"}}}
	}
	if c.Address == nil && c.Mailbox == nil && c.ReceivedBefore == nil {
		return &apperr.Error{Code: apperr.Invalid, Message: "give at least one of address, mailbox, received_before",
			Fields: []apperr.FieldError{{Field: "address", Message: "at least one criterion is required"}}}
	}
	return nil
}

// Request is a job to start under an idempotency key.
type Request struct {
	Criteria    Criteria
	Reason      string
	Key         string // the bare Idempotency-Key
	Fingerprint string // identifies the request under Key
	TTL         time.Duration
}

// StartJob records a job for a and wakes the runner; the job runs in the
// background. A retry with the same key and request returns the same job
// (replayed true). Errors: apperr Invalid, KeyReused (the key was used for
// a different request), Conflict (the first request is still in flight).
func (s *Service) StartJob(ctx context.Context, r Request, a audit.Actor) (job Job, replayed bool, err error) {
	if err := r.Criteria.Normalize(); err != nil {
		return Job{}, false, err
	}
	if len(r.Reason) > 1000 || strings.IndexByte(r.Reason, 0) >= 0 {
		return Job{}, false, apperr.New(apperr.Invalid, "reason must be at most 1000 characters without NUL bytes")
	}
	err = db.InTx(ctx, s.pool, func(dq *db.Queries) error {
		q := dq.Gen()
		var claimed int64
		var claimErr error
		q.ClaimIdempotencyKey(ctx, []gen.ClaimIdempotencyKeyParams{{ClientID: a.ClientID, Key: r.Key,
			RequestFingerprint: r.Fingerprint, ExpiresAt: time.Now().Add(r.TTL)}}).QueryRow(func(_ int, id int64, err error) {
			claimed, claimErr = id, err
		})
		if errors.Is(claimErr, pgx.ErrNoRows) {
			job, replayed, err = s.existing(ctx, q, a.ClientID, r)
			return err
		}
		if claimErr != nil {
			return fmt.Errorf("claim idempotency key: %w", claimErr)
		}
		row, err := q.InsertErasureJob(ctx, gen.InsertErasureJobParams{RequestedBy: a.ClientID, RequestID: a.RequestID,
			Address: r.Criteria.Address, Mailbox: r.Criteria.Mailbox, ReceivedBefore: r.Criteria.ReceivedBefore, Reason: r.Reason})
		if err != nil {
			return fmt.Errorf("insert erasure job: %w", err)
		}
		job = jobFromRow(row)
		status := int32(202)
		var complete error
		q.CompleteIdempotencyKey(ctx, []gen.CompleteIdempotencyKeyParams{{ID: claimed, ResponseStatus: &status,
			ResourceID: &job.ID}}).Exec(func(_ int, err error) { complete = err })
		if complete != nil {
			return fmt.Errorf("complete idempotency key: %w", complete)
		}
		return audit.Record(ctx, q, a, audit.ActionErasureStart, "erasure:"+strconv.FormatInt(job.ID, 10), map[string]any{
			"address": r.Criteria.Address, "mailbox": r.Criteria.Mailbox, "received_before": r.Criteria.ReceivedBefore, "reason": r.Reason})
	})
	if err != nil {
		if db.IsLockTimeout(err) {
			return Job{}, false, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
		}
		if db.IsUnavailable(err) {
			return Job{}, false, apperr.New(apperr.Unavailable, "the database is unavailable; retry later with the same Idempotency-Key")
		}
		return Job{}, false, err
	}
	if !replayed {
		s.run.notify()
	}
	return job, replayed, nil
}

// existing answers a key that was used before: the same job for the same
// request, a refusal otherwise.
func (s *Service) existing(ctx context.Context, q *gen.Queries, clientID string, r Request) (Job, bool, error) {
	k, err := q.GetIdempotencyKey(ctx, gen.GetIdempotencyKeyParams{ClientID: clientID, Key: r.Key})
	if err != nil {
		return Job{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if k.Status != "completed" {
		return Job{}, false, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
	}
	if k.RequestFingerprint != r.Fingerprint || k.ResourceID == nil {
		return Job{}, false, apperr.New(apperr.KeyReused, "this Idempotency-Key was already used for a different request")
	}
	row, err := q.GetErasureJob(ctx, *k.ResourceID)
	if err != nil {
		return Job{}, false, fmt.Errorf("read erasure job %d: %w", *k.ResourceID, err)
	}
	return jobFromRow(row), true, nil
}

// Job returns job id, or an apperr NotFound.
func (s *Service) Job(ctx context.Context, id int64) (Job, error) {
	row, err := s.q.GetErasureJob(ctx, id)
	if err != nil {
		return Job{}, db.NotFound(err, "erasure", id)
	}
	return jobFromRow(row), nil
}

// Jobs returns up to limit jobs before beforeID (all when nil), newest
// first, and the cursor of the next page (nil on the last page).
func (s *Service) Jobs(ctx context.Context, beforeID *int64, limit int32) ([]Job, *int64, error) {
	rows, err := s.q.ListErasureJobs(ctx, gen.ListErasureJobsParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, fmt.Errorf("list erasure jobs: %w", err)
	}
	var next *int64
	if len(rows) > int(limit) {
		rows = rows[:limit]
		next = &rows[len(rows)-1].ID
	}
	out := make([]Job, len(rows))
	for i, r := range rows {
		out[i] = jobFromRow(r)
	}
	return out, next, nil
}
