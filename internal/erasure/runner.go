package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/gen"
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
	row, err := s.q.ClaimErasureJob(ctx, gen.ClaimErasureJobParams{LeaseSeconds: s.cfg.Lease.Seconds(), Worker: s.cfg.Worker})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim erasure job: %w", err)
	}
	if err := s.work(ctx, row); err != nil {
		if !errors.Is(err, errLeaseLost) {
			release := context.WithoutCancel(ctx)
			_ = s.q.ReleaseErasureJob(release, gen.ReleaseErasureJobParams{ID: row.ID, Worker: s.cfg.Worker})
		}
		return true, fmt.Errorf("erasure job %d: %w", row.ID, err)
	}
	return true, nil
}

func (s *Service) work(ctx context.Context, row gen.ErasureJob) error {
	if row.HighWaterID == nil {
		if _, err := s.q.ScopeErasureJob(ctx, gen.ScopeErasureJobParams{ID: row.ID, Worker: s.cfg.Worker}); err != nil {
			return fmt.Errorf("scope: %w", err)
		}
	}
	a := audit.Actor{ClientID: row.RequestedBy, RequestID: row.RequestID}
	target := "erasure:" + strconv.FormatInt(row.ID, 10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := s.batch(ctx, row.ID, a, target, row.Reason)
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
	err = db.InTx(ctx, s.pool, func(dq *db.Queries) error {
		q := dq.Gen()
		ids, err := q.NextErasureBatch(ctx, gen.NextErasureBatchParams{JobID: jobID, RowLimit: s.cfg.BatchSize})
		if err != nil {
			return fmt.Errorf("next batch: %w", err)
		}
		if len(ids) == 0 {
			done = true
			return q.FinishErasureJob(ctx, gen.FinishErasureJobParams{ID: jobID, Status: StatusCompleted, Worker: s.cfg.Worker})
		}
		erased, err := EraseIDs(ctx, q, ids, a, audit.ActionErasureBatch, target, reason, s.cfg.MaxRetries)
		if err != nil {
			return err
		}
		n, err := q.AdvanceErasureJob(ctx, gen.AdvanceErasureJobParams{ID: jobID, Worker: s.cfg.Worker,
			LastID: ids[len(ids)-1], Erased: int64(len(erased)), LeaseSeconds: s.cfg.Lease.Seconds()})
		if err != nil {
			return fmt.Errorf("record progress: %w", err)
		}
		if n == 0 {
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
