package relay

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
)

// releaseTimeout bounds giving rows back: a late release is a no-op anyway
// (the lease is fenced) and the rows come back when the lease expires.
const releaseTimeout = 5 * time.Second

// complete records a written chunk in one transaction: its rows processed
// and its emails synced, deferred rows released, refused documents dead.
// Every update is fenced by this worker's lease: rows whose lease was lost
// are left to their new owner. written is the version written of each
// document (nil for a chunk of deletes).
func (b *batch) complete(c chunk, res mongostore.WriteResult, written map[int64]int64) error {
	deferred := make(map[int64]bool, len(res.Deferred))
	for _, id := range res.Deferred {
		deferred[id] = true
	}
	var done, later []int64
	var failed []db.OutboxMessage
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
	err := db.InTx(b.ctx, b.r.pool, func(q *db.Queries) error {
		done, later, err := b.superseded(q, written, done, later)
		if err != nil {
			return err
		}
		got, err := q.MarkOutboxProcessed(b.ctx, b.worker, done)
		if err != nil {
			return err
		}
		if len(got) < len(done) {
			slog.InfoContext(b.ctx, "relay lease lost: rows left to their new owner", "worker", b.worker, "rows", len(done)-len(got))
		}
		// A relayed delete syncs an erased email too (a no-op for an
		// orphan's id, which has no email).
		synced := b.aggregates(got)
		if err := q.MarkEmailsSynced(b.ctx, synced); err != nil {
			return err
		}
		if len(later) > 0 {
			if err := q.ReleaseOutbox(b.ctx, b.worker, later,
				"deferred: the document was not compared in time, or the email changed while it was written"); err != nil {
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
		b.r.cfg.Metrics.Batch(len(written))
	}
	return err
}

// aggregates returns the distinct aggregate ids of the outbox rows ids.
func (b *batch) aggregates(ids []int64) []int64 {
	agg := b.aggregateOf
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
	return b.r.q.ReleaseOutbox(ctx, b.worker, ids, reason)
}

// failAll records a failed attempt for every row of chunk c.
func (b *batch) failAll(c chunk, cause error) error {
	var msgs []db.OutboxMessage
	for _, id := range c.ids {
		for _, m := range b.rows[id] {
			m.ErrorMessage = ptr(cause.Error())
			msgs = append(msgs, m)
		}
	}
	if err := db.InTx(b.ctx, b.r.pool, func(q *db.Queries) error { return b.fail(q, msgs, false) }); err != nil {
		return fmt.Errorf("record failed attempts: %w", err)
	}
	return nil
}

// fail records an attempt of each message still leased to this worker:
// retried with backoff, or dead (with the email failed) at max_retries or
// when permanent.
func (b *batch) fail(q *db.Queries, msgs []db.OutboxMessage, permanent bool) error {
	retried, dead := 0, 0
	for _, m := range msgs {
		attempt := m.RetryCount + 1
		isDead := permanent || attempt >= m.MaxRetries
		emailID := m.AggregateID
		if m.AggregateType == db.AggregateBlob {
			emailID = 0 // a blob's message: no email to mark
		}
		ok, err := q.FailOutbox(b.ctx, db.OutboxFailure{ID: m.ID, EmailID: emailID, Worker: b.worker,
			Error: m.ErrorMessage, RetryAt: time.Now().Add(b.r.retryDelay(attempt)), Dead: isDead})
		if err != nil {
			return err
		}
		if !ok {
			continue // the lease was lost: the new owner decides
		}
		if isDead {
			dead++
		} else {
			retried++
		}
	}
	if b.r.cfg.Metrics != nil && retried+dead > 0 {
		b.r.cfg.Metrics.Retried(retried)
		b.r.cfg.Metrics.Dead(dead)
	}
	return nil
}

// superseded locks the emails of the rows in done, in id order (so that two
// relays completing messages of one email at the same time do not both see
// the other's message in flight and leave it pending), and moves the rows of
// emails whose version moved past the one this chunk wrote from done to
// later: they are relayed again at once and then write the current state.
// Two relays may write one email at the same time, and a MongoDB-compatible
// server whose version-guarded replace is not atomic (FerretDB checks the
// filter and writes in two steps) can let the older write land last; the
// relay that wrote it sees here that the email is newer.
func (b *batch) superseded(q *db.Queries, written map[int64]int64, done, later []int64) ([]int64, []int64, error) {
	if len(done) == 0 {
		return done, later, nil
	}
	cur, err := q.LockEmailVersions(b.ctx, b.aggregates(done))
	if err != nil {
		return nil, nil, err
	}
	moved := map[int64]bool{}
	for id, v := range cur {
		if w, ok := written[id]; ok && v > w {
			moved[id] = true
		}
	}
	if len(moved) == 0 {
		return done, later, nil
	}
	kept := done[:0]
	for _, id := range done {
		if moved[b.aggregateOf[id]] {
			later = append(later, id)
		} else {
			kept = append(kept, id)
		}
	}
	return kept, later, nil
}

// backOff records a failed attempt of every row of chunk c, with the usual
// backoff, when the chunk overran the lease; it uses its own short context,
// since the batch's may have ended. Rows whose lease was lost already are
// left to their new owner.
func (b *batch) backOff(c chunk, cause error) error {
	var msgs []db.OutboxMessage
	for _, id := range c.ids {
		for _, m := range b.rows[id] {
			m.ErrorMessage = ptr(cause.Error())
			msgs = append(msgs, m)
		}
	}
	ctx, cancel := context.WithTimeout(b.parent, releaseTimeout)
	defer cancel()
	saved := b.ctx
	b.ctx = ctx
	defer func() { b.ctx = saved }()
	return db.InTx(ctx, b.r.pool, func(q *db.Queries) error { return b.fail(q, msgs, false) })
}
