package relay

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db"
	"mailsync/internal/db/gen"
	"mailsync/internal/mongostore"
)

// RunOnce claims one batch as worker and relays it. It returns how many
// outbox rows it claimed. Exposed so tests and tools can drive the relay
// step by step.
func (r *Relay) RunOnce(ctx context.Context, worker string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Lease)
	defer cancel()
	rows, err := r.q.ClaimOutbox(ctx, gen.ClaimOutboxParams{
		LeaseSeconds: r.cfg.Lease.Seconds(), Worker: worker, RowLimit: int32(r.cfg.BatchSize)})
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return len(rows), r.relay(ctx, rows)
}

func (r *Relay) relay(ctx context.Context, rows []gen.OutboxMessage) error {
	var emailIDs, deleteIDs []int64
	seen := map[int64]bool{}
	for _, m := range rows {
		if seen[m.AggregateID] {
			continue
		}
		seen[m.AggregateID] = true
		if m.Operation == "delete" {
			deleteIDs = append(deleteIDs, m.AggregateID)
		} else {
			emailIDs = append(emailIDs, m.AggregateID)
		}
	}
	emails, err := r.q.GetEmailsByIDs(ctx, emailIDs)
	if err != nil {
		return r.release(ctx, rows, err)
	}
	now := time.Now()
	docs := make([]mongostore.Document, 0, len(emails))
	refused := map[int64]error{}
	for _, row := range emails {
		if row.ErasedAt != nil {
			// The current state of an erased email is "no document": an
			// upsert queued before the erasure deletes instead.
			deleteIDs = append(deleteIDs, row.ID)
			continue
		}
		e, err := db.EmailFromRow(row)
		if err != nil {
			refused[row.ID] = err
			continue
		}
		docs = append(docs, mongostore.FromEmail(e, now))
	}
	res, err := r.mongo.Write(ctx, docs)
	if err == nil && len(deleteIDs) > 0 {
		_, err = r.mongo.Delete(ctx, deleteIDs)
	}
	if err != nil {
		if mongostore.IsTransient(err) {
			return r.release(ctx, rows, err)
		}
		return r.failAll(ctx, rows, err)
	}
	r.outage.Store(0)
	for id, e := range res.Refused {
		refused[id] = e
	}
	deferred := make(map[int64]bool, len(res.Deferred))
	for _, id := range res.Deferred {
		deferred[id] = true
	}
	var done, synced, later []int64
	var failed []gen.OutboxMessage
	for _, m := range rows {
		if deferred[m.AggregateID] { // not compared in time: claimable again at once
			later = append(later, m.ID)
			continue
		}
		if e, bad := refused[m.AggregateID]; bad {
			m.ErrorMessage = ptr(e.Error())
			failed = append(failed, m)
			continue
		}
		done = append(done, m.ID)
		// A relayed delete syncs an erased email too (a no-op for an
		// orphan's id, which has no email).
		synced = append(synced, m.AggregateID)
	}
	err = db.InTx(ctx, r.pool, func(q *gen.Queries, _ pgx.Tx) error {
		done, synced, later, err = r.superseded(ctx, q, docs, rows, done, synced, later)
		if err != nil {
			return err
		}
		if err := q.MarkOutboxProcessed(ctx, done); err != nil {
			return err
		}
		if err := q.MarkEmailsSynced(ctx, synced); err != nil {
			return err
		}
		if len(later) > 0 {
			if err := q.ReleaseOutbox(ctx, gen.ReleaseOutboxParams{Ids: later, NextAttemptAt: time.Now(),
				ErrorMessage: ptr("deferred: the document was not compared in time, or the email changed while it was written")}); err != nil {
				return err
			}
		}
		if err := q.ResolveDeadOutbox(ctx, synced); err != nil {
			return err
		}
		// A document MongoDB refuses will be refused again: dead at once.
		return r.fail(ctx, q, failed, true)
	})
	if err == nil && r.cfg.Metrics != nil {
		r.cfg.Metrics.Batch(len(docs))
	}
	return err
}

// release gives the batch back without counting an attempt and pauses the
// pool: the store, not the emails, is at fault.
func (r *Relay) release(ctx context.Context, rows []gen.OutboxMessage, cause error) error {
	pause := r.outageBackoff()
	ids := make([]int64, len(rows))
	for i, m := range rows {
		ids[i] = m.ID
	}
	slog.Warn("relay paused: store unreachable", "pause", pause.String(), "err", cause)
	msg := "store unreachable: " + cause.Error()
	err := r.q.ReleaseOutbox(context.WithoutCancel(ctx), gen.ReleaseOutboxParams{
		Ids: ids, NextAttemptAt: time.Now().Add(pause), ErrorMessage: &msg})
	if err != nil {
		return err // the lease expires and the rows come back anyway
	}
	return cause
}

// failAll records a failed attempt for every row of the batch.
func (r *Relay) failAll(ctx context.Context, rows []gen.OutboxMessage, cause error) error {
	for i := range rows {
		rows[i].ErrorMessage = ptr(cause.Error())
	}
	err := db.InTx(ctx, r.pool, func(q *gen.Queries, _ pgx.Tx) error { return r.fail(ctx, q, rows, false) })
	if err != nil {
		return err
	}
	return cause
}

// fail records an attempt of each message: retried with backoff, or dead
// (with the email failed) at max_retries or when permanent.
func (r *Relay) fail(ctx context.Context, q *gen.Queries, msgs []gen.OutboxMessage, permanent bool) error {
	dead := 0
	for _, m := range msgs {
		attempt := m.RetryCount + 1
		isDead := permanent || attempt >= m.MaxRetries
		if isDead {
			dead++
		}
		if err := q.FailOutbox(ctx, gen.FailOutboxParams{ID: m.ID, ErrorMessage: m.ErrorMessage,
			NextAttemptAt: time.Now().Add(r.retryDelay(attempt)), Dead: isDead}); err != nil {
			return err
		}
		if err := q.MarkEmailSyncError(ctx, gen.MarkEmailSyncErrorParams{ID: m.AggregateID, SyncError: m.ErrorMessage, Dead: isDead}); err != nil {
			return err
		}
	}
	if r.cfg.Metrics != nil && len(msgs) > 0 {
		r.cfg.Metrics.Retried(len(msgs) - dead)
		r.cfg.Metrics.Dead(dead)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// superseded locks the batch's emails (so that two relays completing
// messages of one email at the same time do not both see the other's
// message in flight and leave it pending) and moves the messages of emails
// whose row moved past the version this batch wrote from done to later:
// they are relayed again at once and then write the current state. Two
// relays may write one email at the same time, and a MongoDB-compatible
// server whose version-guarded replace is not atomic (FerretDB checks the
// filter and writes in two steps) can let the older write land last; the
// relay that wrote it sees here that the email is newer and does not count
// its message as done.
func (r *Relay) superseded(ctx context.Context, q *gen.Queries, docs []mongostore.Document, rows []gen.OutboxMessage,
	done, synced, later []int64) ([]int64, []int64, []int64, error) {
	if len(synced) == 0 {
		return done, synced, later, nil
	}
	written := make(map[int64]int64, len(docs))
	for _, d := range docs {
		written[d.ID] = d.Version
	}
	cur, err := q.LockEmailVersions(ctx, synced)
	if err != nil {
		return nil, nil, nil, err
	}
	moved := map[int64]bool{}
	for _, c := range cur {
		if w, ok := written[c.ID]; ok && c.Version > w {
			moved[c.ID] = true
		}
	}
	if len(moved) == 0 {
		return done, synced, later, nil
	}
	isDone := make(map[int64]bool, len(done))
	for _, id := range done {
		isDone[id] = true
	}
	done, synced = done[:0], synced[:0]
	for _, m := range rows {
		if !isDone[m.ID] {
			continue
		}
		if moved[m.AggregateID] {
			later = append(later, m.ID)
			continue
		}
		done = append(done, m.ID)
		synced = append(synced, m.AggregateID)
	}
	return done, synced, later, nil
}
