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

// releaseTimeout bounds giving rows back: a late release is a no-op anyway
// (the lease is fenced) and the rows come back when the lease expires.
const releaseTimeout = 5 * time.Second

// complete records a written chunk in one transaction: its rows processed
// and its emails synced, deferred rows released, refused documents dead.
// Every update is fenced by this worker's lease: rows whose lease was lost
// are left to their new owner.
func (b *batch) complete(c chunk, res mongostore.WriteResult, docs int) error {
	deferred := make(map[int64]bool, len(res.Deferred))
	for _, id := range res.Deferred {
		deferred[id] = true
	}
	var done, later []int64
	var failed []gen.OutboxMessage
	for _, id := range c.ids {
		for _, m := range b.rows[id] {
			switch e, bad := res.Refused[id]; {
			case deferred[id]: // not compared in time: claimable again at once
				later = append(later, m.ID)
			case bad:
				m.ErrorMessage = ptr(e.Error())
				failed = append(failed, m)
			default:
				done = append(done, m.ID)
			}
		}
	}
	err := db.InTx(b.ctx, b.r.pool, func(q *gen.Queries, _ pgx.Tx) error {
		got, err := q.MarkOutboxProcessed(b.ctx, gen.MarkOutboxProcessedParams{Ids: done, Worker: b.worker})
		if err != nil {
			return err
		}
		if len(got) < len(done) {
			slog.Info("relay lease lost: rows left to their new owner", "worker", b.worker, "rows", len(done)-len(got))
		}
		var synced []int64
		if !c.delete {
			synced = b.aggregates(got)
		}
		if err := q.MarkEmailsSynced(b.ctx, synced); err != nil {
			return err
		}
		if len(later) > 0 {
			if _, err := q.ReleaseOutbox(b.ctx, gen.ReleaseOutboxParams{Ids: later, Worker: b.worker,
				ErrorMessage: ptr("deferred: comparing existing MongoDB documents took longer than the lease")}); err != nil {
				return err
			}
		}
		if err := q.ResolveDeadOutbox(b.ctx, synced); err != nil {
			return err
		}
		// A document MongoDB refuses will be refused again: dead at once.
		return b.fail(q, failed, true)
	})
	if err == nil && b.r.cfg.Metrics != nil {
		b.r.cfg.Metrics.Batch(docs)
	}
	return err
}

// aggregates returns the distinct aggregate ids of the outbox rows ids.
func (b *batch) aggregates(ids []int64) []int64 {
	agg := make(map[int64]int64)
	for a, rows := range b.rows {
		for _, m := range rows {
			agg[m.ID] = a
		}
	}
	seen := map[int64]bool{}
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if a := agg[id]; !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// release gives the rows of chunks back, fenced by this worker's lease,
// without counting an attempt and without delaying them.
func (b *batch) release(chunks []chunk, reason string) error {
	var ids []int64
	for _, c := range chunks {
		for _, id := range c.ids {
			for _, m := range b.rows[id] {
				ids = append(ids, m.ID)
			}
		}
	}
	ctx, cancel := context.WithTimeout(b.parent, releaseTimeout)
	defer cancel()
	_, err := b.r.q.ReleaseOutbox(ctx, gen.ReleaseOutboxParams{Ids: ids, Worker: b.worker, ErrorMessage: &reason})
	return err
}

// failAll records a failed attempt for every row of chunk c.
func (b *batch) failAll(c chunk, cause error) error {
	var msgs []gen.OutboxMessage
	for _, id := range c.ids {
		for _, m := range b.rows[id] {
			m.ErrorMessage = ptr(cause.Error())
			msgs = append(msgs, m)
		}
	}
	return db.InTx(b.ctx, b.r.pool, func(q *gen.Queries, _ pgx.Tx) error { return b.fail(q, msgs, false) })
}

// fail records an attempt of each message still leased to this worker:
// retried with backoff, or dead (with the email failed) at max_retries or
// when permanent.
func (b *batch) fail(q *gen.Queries, msgs []gen.OutboxMessage, permanent bool) error {
	retried, dead := 0, 0
	for _, m := range msgs {
		attempt := m.RetryCount + 1
		isDead := permanent || attempt >= m.MaxRetries
		n, err := q.FailOutbox(b.ctx, gen.FailOutboxParams{ID: m.ID, Worker: b.worker, ErrorMessage: m.ErrorMessage,
			NextAttemptAt: time.Now().Add(b.r.retryDelay(attempt)), Dead: isDead})
		if err != nil {
			return err
		}
		if n == 0 {
			continue // the lease was lost: the new owner decides
		}
		if isDead {
			dead++
		} else {
			retried++
		}
		if m.Operation == "delete" {
			continue
		}
		if err := q.MarkEmailSyncError(b.ctx, gen.MarkEmailSyncErrorParams{ID: m.AggregateID, SyncError: m.ErrorMessage, Dead: isDead}); err != nil {
			return err
		}
	}
	if b.r.cfg.Metrics != nil && retried+dead > 0 {
		b.r.cfg.Metrics.Retried(retried)
		b.r.cfg.Metrics.Dead(dead)
	}
	return nil
}
