package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mailsync/internal/audit"
	"mailsync/internal/db"
)

// runner is the background loop of a Service that carries out jobs.
type runner struct {
	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
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

// Start runs open jobs in the background until Stop: one at a time per
// instance, any number of instances sharing them through leases. A job
// whose instance died is taken over once its lease expires.
func (s *Service) Start(ctx context.Context) {
	ctx, s.run.cancel = context.WithCancel(ctx)
	s.run.wg.Add(1)
	go func() {
		defer s.run.wg.Done()
		t := time.NewTicker(s.cfg.PollInterval)
		defer t.Stop()
		for {
			for {
				ran, err := s.RunOnce(ctx)
				if err != nil && ctx.Err() == nil {
					slog.Warn("erasure job pass failed", "err", err)
				}
				if !ran || err != nil {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-s.run.wake:
			}
		}
	}()
}

// Stop ends the loop; a job in progress stops after its current batch and
// is given back for another instance (or the next start) to finish.
func (s *Service) Stop() {
	if s.run.cancel != nil {
		s.run.cancel()
	}
	s.run.wg.Wait()
}

// RunOnce claims one open job and works it to its end, batch by batch. It
// reports whether it found a job. Exposed so tests can drive jobs step by
// step.
func (s *Service) RunOnce(ctx context.Context) (bool, error) {
	job, ok, err := s.q.ClaimErasureJob(ctx, s.cfg.Worker, s.cfg.Lease)
	if err != nil || !ok {
		return false, err
	}
	if err := s.work(ctx, job); err != nil {
		if !errors.Is(err, errLeaseLost) {
			release := context.WithoutCancel(ctx)
			_ = s.q.ReleaseErasureJob(release, job.ID, s.cfg.Worker)
		}
		return true, fmt.Errorf("erasure job %d: %w", job.ID, err)
	}
	return true, nil
}

func (s *Service) work(ctx context.Context, job db.ErasureJob) error {
	if job.HighWaterID == nil {
		if err := s.q.ScopeErasureJob(ctx, job.ID, s.cfg.Worker); err != nil {
			return err
		}
	}
	a := audit.Actor{ClientID: job.RequestedBy, RequestID: job.RequestID}
	target := "erasure:" + strconv.FormatInt(job.ID, 10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := s.batch(ctx, job.ID, a, target, job.Reason)
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
