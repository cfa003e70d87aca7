package erasure

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/limits"
)

// The statuses of a job (erasure_jobs.status).
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Criteria select the emails a job erases; all given ones must match and
// at least one is given. Address is one address, normalised as every
// email's addresses are (see db.ParseAddresses), and matched among the
// parsed addresses of from, to, cc and the envelope. AddressHMAC is set by
// StartJob; Address is cleared (nil) once the job has ended.
type Criteria db.ErasureCriteria

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
	Attempts     int32 // attempts in a row without progress
	Scope        *Scope
}

// Scope is how a job knows which emails it must erase: once every
// transaction in progress when it was requested (Awaited of them) had
// ended, at ScopedAt, it took the emails up to NewestID, which holds every
// email acknowledged before the request whatever the order ids were
// committed in.
type Scope struct {
	ScopedAt time.Time
	NewestID int64
	Awaited  int
}

// Statement says the scope in one sentence.
func (sc Scope) Statement() string {
	return fmt.Sprintf("The job waited until the %d transactions in progress when it was requested had ended, then at %s "+
		"took the matching emails with ids up to %d: every email acknowledged before the request is among them, "+
		"whatever order ids were committed in.", sc.Awaited, sc.ScopedAt.UTC().Format(time.RFC3339), sc.NewestID)
}

func jobFrom(j db.ErasureJob) Job {
	out := Job{ID: j.ID, RequestedBy: j.RequestedBy, Reason: j.Reason, Status: j.Status, Matched: j.Matched,
		Erased: j.Erased, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt,
		ErrorMessage: j.ErrorMessage, Criteria: Criteria(j.Criteria), Attempts: j.Attempts}
	if j.ScopedAt != nil && j.HighWaterID != nil {
		out.Scope = &Scope{ScopedAt: *j.ScopedAt, NewestID: *j.HighWaterID, Awaited: j.Awaited}
	}
	return out
}

// Normalize trims and lower-cases the address and checks the criteria: an
// apperr Invalid when none is given or one is out of bounds.
func (c *Criteria) Normalize() error {
	if c.Address != nil {
		a := strings.ToLower(strings.TrimSpace(*c.Address))
		a = strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
		if limits.Chars(a) < 3 || limits.Text(a, limits.HeaderField) != "" || !strings.Contains(a, "@") || strings.ContainsAny(a, "<>\x00") {
			return &apperr.Error{Code: apperr.Invalid, Message: "address must be an email address",
				Fields: []apperr.FieldError{{Field: "address", Message: "must be an email address"}}}
		}
		c.Address = &a
	}
	if c.Mailbox != nil && (*c.Mailbox == "" || limits.Text(*c.Mailbox, limits.Mailbox) != "") {
		return &apperr.Error{Code: apperr.Invalid, Message: fmt.Sprintf("mailbox must be 1 to %d characters", limits.Mailbox),
			Fields: []apperr.FieldError{{Field: "mailbox", Message: fmt.Sprintf("1 to %d characters, no NUL bytes", limits.Mailbox)}}}
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
	if limits.Text(r.Reason, limits.Reason) != "" {
		return Job{}, false, apperr.New(apperr.Invalid, "reason must be at most %d characters without NUL bytes", limits.Reason)
	}
	if err := s.parseAddress(ctx, &r.Criteria); err != nil {
		return Job{}, false, err
	}
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		keyID, err := q.ClaimIdempotencyKey(ctx, db.KeyClaim{ClientID: a.ClientID, Key: r.Key,
			Fingerprint: r.Fingerprint, ExpiresAt: time.Now().Add(r.TTL)})
		if err != nil {
			return err
		}
		if keyID == 0 {
			job, replayed, err = s.existing(ctx, q, a.ClientID, r)
			return err
		}
		row, err := q.InsertErasureJob(ctx, db.NewErasureJob{RequestedBy: a.ClientID, RequestID: a.RequestID,
			Criteria: db.ErasureCriteria(r.Criteria), Reason: r.Reason})
		if err != nil {
			return err
		}
		job = jobFrom(row)
		if err := q.CompleteIdempotencyKey(ctx, db.KeyCompletion{ID: keyID, Status: 202, ResourceID: job.ID}); err != nil {
			return err
		}
		// Neither the address nor the free-text reason in clear: the
		// event outlives the job's record of them.
		return audit.Record(ctx, q, a, audit.ActionErasureStart, "erasure:"+strconv.FormatInt(job.ID, 10), map[string]any{
			"address_hmac": r.Criteria.AddressHMAC, "mailbox": r.Criteria.Mailbox, "received_before": r.Criteria.ReceivedBefore,
			"reason_given": r.Reason != ""})
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

// parseAddress normalises c's address as the addresses of every email are
// (one address, or an apperr Invalid) and sets its keyed hash.
func (s *Service) parseAddress(ctx context.Context, c *Criteria) error {
	if c.Address == nil {
		return nil
	}
	parsed, err := s.q.ParseAddresses(ctx, *c.Address)
	if err != nil {
		if db.IsUnavailable(err) {
			return apperr.New(apperr.Unavailable, "the database is unavailable; retry later with the same Idempotency-Key")
		}
		return err
	}
	if len(parsed) != 1 {
		return &apperr.Error{Code: apperr.Invalid, Message: "address must be one email address",
			Fields: []apperr.FieldError{{Field: "address", Message: "must be one email address"}}}
	}
	c.Address = &parsed[0]
	h := AddressHMAC(s.cfg.AddressKey, parsed[0])
	c.AddressHMAC = &h
	return nil
}

// AddressHMAC is the keyed hash a job keeps of its normalised address:
// hex HMAC-SHA-256 under key.
func AddressHMAC(key []byte, address string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(address))
	return hex.EncodeToString(m.Sum(nil))
}

// existing answers a key that was used before: the same job for the same
// request, a refusal otherwise.
func (s *Service) existing(ctx context.Context, q *db.Queries, clientID string, r Request) (Job, bool, error) {
	k, ok, err := q.FindIdempotencyKey(ctx, clientID, r.Key)
	if err != nil {
		return Job{}, false, err
	}
	if !ok { // deleted by retention since the claim found it
		return Job{}, false, apperr.New(apperr.Conflict, "this Idempotency-Key expired just now; retry")
	}
	if !k.Completed() {
		return Job{}, false, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed; retry later")
	}
	if k.RequestFingerprint != r.Fingerprint || k.ResourceID == 0 {
		return Job{}, false, apperr.New(apperr.KeyReused, "this Idempotency-Key was already used for a different request")
	}
	row, err := q.GetErasureJob(ctx, k.ResourceID)
	if err != nil {
		return Job{}, false, err
	}
	return jobFrom(row), true, nil
}

// Job returns job id, or an apperr NotFound.
func (s *Service) Job(ctx context.Context, id int64) (Job, error) {
	j, err := s.q.GetErasureJob(ctx, id)
	if err != nil {
		return Job{}, err
	}
	return jobFrom(j), nil
}

// Jobs returns up to limit jobs before beforeID (all when nil), newest
// first, and the cursor of the next page (nil on the last page).
func (s *Service) Jobs(ctx context.Context, beforeID *int64, limit int32) ([]Job, *int64, error) {
	jobs, next, err := s.q.ListErasureJobs(ctx, beforeID, limit)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Job, len(jobs))
	for i, j := range jobs {
		out[i] = jobFrom(j)
	}
	return out, next, nil
}
