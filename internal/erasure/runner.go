package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/lifecycle"
)

// runner is the background loop of a Service that carries out jobs.
type runner struct {
	wake chan struct{}
	life *lifecycle.Group
}

func (r *runner) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// errLeaseLost means another instance took the job over (this one was too
// slow to renew its lease); this instance lets go of it.
var errLeaseLost = errors.New("erasure job lease lost")

// Start runs open jobs in the background until Stop, or until ctx ends:
// one at a time per instance, any number of instances sharing them through
// leases. A job whose instance died is taken over once its lease expires.
// It returns an error when the runner was started or stopped before.
func (s *Service) Start(ctx context.Context) error {
	if s.pool == nil {
		return errors.New("start erasure runner: a PostgreSQL pool is required")
	}
	if err := s.run.life.Start(ctx); err != nil {
		return err
	}
	jobs := &lifecycle.Loop{Name: "erasure job pass", Interval: s.cfg.PollInterval, Immediate: true, Wake: s.run.wake,
		Pass: func(claim, ctx context.Context) error {
			for claim.Err() == nil {
				if ran, err := s.runOnce(claim, ctx); !ran || err != nil {
					return err
				}
			}
			return nil
		}}
	s.run.life.Go(jobs.Run)
	return nil
}

// Stop stops claiming jobs and waits, while ctx lasts, for the batch in
// progress to commit; its job is then given back for another instance (or
// the next start) to go on with. When ctx ends first, the batch is cut off
// (rolled back), the job given back all the same, and Stop returns at once
// an error wrapping ctx's. Stop is idempotent; a Stop before Start returns
// nil, and the runner cannot be started after it.
func (s *Service) Stop(ctx context.Context) error { return s.run.life.Stop(ctx) }

// releaseTimeout bounds the giving back of a job whose work was cut off.
const releaseTimeout = 5 * time.Second

// RunOnce claims one open job and works it to its end, batch by batch. It
// reports whether it found a job. When ctx ends, the job is given back.
// Exposed so tests can drive jobs step by step.
func (s *Service) RunOnce(ctx context.Context) (bool, error) { return s.runOnce(ctx, ctx) }

// runOnce is RunOnce, which stops after the batch in hand (and gives the
// job back) once claim ends. A job whose scope still waits for the
// transactions open at its request is given back for a poll interval. A
// failed attempt is recorded on the job with its error and retried after a
// backoff; after cfg.MaxAttempts in a row without progress the job fails.
func (s *Service) runOnce(claim, ctx context.Context) (bool, error) {
	job, ok, err := s.q.ClaimErasureJob(ctx, s.cfg.Worker, s.cfg.Lease)
	if err != nil || !ok {
		return false, err
	}
	err = s.work(claim, ctx, job)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, errLeaseLost) {
		return true, fmt.Errorf("erasure job %d: %w", job.ID, err)
	}
	release, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	switch {
	case errors.Is(err, errScopeWaits):
		_ = s.q.ReleaseErasureJob(release, job.ID, s.cfg.Worker, s.cfg.PollInterval)
		return true, nil
	case claim.Err() != nil || ctx.Err() != nil: // stopping: not the job's fault
		_ = s.q.ReleaseErasureJob(release, job.ID, s.cfg.Worker, 0)
	default:
		st, rerr := s.q.RetryErasureJob(release, job.ID, s.cfg.Worker, err.Error(), s.backoff(job.Attempts), s.cfg.MaxAttempts)
		if rerr == nil && st == StatusFailed {
			slog.Error("erasure job failed", "job", job.ID, "attempts", job.Attempts, "err", err)
		}
	}
	return true, fmt.Errorf("erasure job %d: %w", job.ID, err)
}

// backoff is the wait after the attempt-th failed attempt in a row.
func (s *Service) backoff(attempt int32) time.Duration {
	d := s.cfg.RetryBase
	for i := int32(1); i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// errScopeWaits means a transaction that was open when the job was
// requested is still open: the job cannot know its scope yet.
var errScopeWaits = errors.New("waiting for the transactions open at the request to end")

func (s *Service) work(claim, ctx context.Context, job db.ErasureJob) error {
	if job.HighWaterID == nil {
		scoped, err := s.q.ScopeErasureJob(ctx, job.ID, s.cfg.Worker)
		if err != nil {
			return err
		}
		if !scoped {
			return errScopeWaits
		}
	}
	a := audit.Actor{ClientID: job.RequestedBy, RequestID: job.RequestID}
	target := "erasure:" + strconv.FormatInt(job.ID, 10)
	for {
		if err := claim.Err(); err != nil {
			return err
		}
		// The free-text reason stays with the job (cleared at its end);
		// tombstones and audit events name the job instead.
		done, err := s.batch(ctx, job.ID, a, target, "erasure job "+strconv.FormatInt(job.ID, 10))
		if err != nil || done {
			return err
		}
	}
}

// batch erases the job's next batch in one transaction with its progress;
// done when nothing was left and the job is completed.
func (s *Service) batch(ctx context.Context, jobID int64, a audit.Actor, target, reason string) (done bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Lease)
	defer cancel()
	erasedAny := false
	err = db.InTx(ctx, s.pool, func(q *db.Queries) error {
		ids, err := q.NextErasureBatch(ctx, jobID, s.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			done = true
			return q.FinishErasureJob(ctx, jobID, s.cfg.Worker, StatusCompleted, nil)
		}
		erased, err := EraseIDs(ctx, q, ids, a, audit.ActionErasureBatch, target, reason, s.cfg.MaxRetries)
		if err != nil {
			return err
		}
		ok, err := q.AdvanceErasureJob(ctx, db.ErasureProgress{JobID: jobID, Worker: s.cfg.Worker,
			LastID: ids[len(ids)-1], Erased: int64(len(erased)), Lease: s.cfg.Lease})
		if err != nil {
			return err
		}
		if !ok {
			return errLeaseLost
		}
		erasedAny = len(erased) > 0
		return nil
	})
	if err == nil && erasedAny {
		s.cfg.Wake()
	}
	return done, err
}
