package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
	"mailsync/internal/tracing"
)

// errLeaseLost means a batch overran its lease: its remaining rows were
// given back (or are claimable by now) and another worker finishes them.
var errLeaseLost = errors.New("the batch overran its lease")

// errStoreDown means MongoDB was unreachable: the batch was given back and
// the relay pauses until a probe reaches the store.
var errStoreDown = errors.New("MongoDB unreachable")

// batch is one claim of one worker. Its work is split into chunks: the
// deletes, then the emails in groups whose loaded bytes stay under
// cfg.LoadBytes. Each chunk is loaded, written and recorded before the next,
// so a batch of big emails holds at most one chunk in memory and a batch
// that overruns its lease keeps what it finished.
type batch struct {
	r       *Relay
	worker  string
	parent  context.Context // the work context: ends only when Stop's deadline passes
	ctx     context.Context // parent bounded by the lease
	writeBy time.Time       // writes end by then, leaving time to record them
	rows    map[int64][]db.OutboxMessage
	// aggregateOf maps each claimed outbox row's id to its aggregate id.
	aggregateOf map[int64]int64
}

type chunk struct {
	ids    []int64 // aggregate ids
	delete bool
}

// RunOnce claims one batch as worker and relays it. It returns how many
// outbox rows it claimed. Exposed so tests and tools can drive the relay
// step by step.
func (r *Relay) RunOnce(ctx context.Context, worker string) (_ int, err error) {
	start := time.Now()
	lctx, cancel := context.WithDeadline(ctx, start.Add(r.cfg.Lease))
	defer cancel()
	rows, err := r.q.ClaimOutbox(lctx, worker, r.cfg.Lease, r.cfg.BatchSize)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		r.emptyClaims.Add(1)
		return 0, nil
	}
	claimed := len(rows)
	ctx, lctx, span := batchSpan(ctx, lctx, start, worker, rows)
	defer func() { tracing.End(span, err) }()
	rows, blobRows := splitBlobRows(rows)
	b := &batch{r: r, worker: worker, parent: ctx, ctx: lctx, writeBy: start.Add(r.cfg.Lease * 7 / 8),
		rows: map[int64][]db.OutboxMessage{}, aggregateOf: make(map[int64]int64, len(rows))}
	var upserts, deletes []int64
	for _, m := range rows {
		if _, seen := b.rows[m.AggregateID]; !seen {
			upserts = append(upserts, m.AggregateID)
		}
		b.rows[m.AggregateID] = append(b.rows[m.AggregateID], m)
		b.aggregateOf[m.ID] = m.AggregateID
	}
	// Ids are never reused: an aggregate with a delete in the batch is gone.
	kept := upserts[:0]
	for _, id := range upserts {
		if isDelete(b.rows[id]) {
			deletes = append(deletes, id)
		} else {
			kept = append(kept, id)
		}
	}
	if err := b.deleteBlobs(blobRows); err != nil {
		return claimed, err
	}
	chunks, err := b.chunks(kept)
	if err != nil {
		return claimed, b.interrupted(err)
	}
	if len(deletes) > 0 {
		chunks = append([]chunk{{ids: deletes, delete: true}}, chunks...)
	}
	return claimed, b.run(chunks)
}

func isDelete(rows []db.OutboxMessage) bool {
	for _, m := range rows {
		if m.Operation == db.OpDelete {
			return true
		}
	}
	return false
}

// chunks groups ids so that each group's emails weigh at most cfg.LoadBytes
// (a single heavier email is a group of its own).
func (b *batch) chunks(ids []int64) ([]chunk, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	size, err := b.r.q.EmailLoadSizes(b.ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []chunk
	var cur chunk
	var bytes int64
	for _, id := range ids {
		if len(cur.ids) > 0 && bytes+size[id] > b.r.cfg.LoadBytes {
			out = append(out, cur)
			cur, bytes = chunk{}, 0
		}
		cur.ids = append(cur.ids, id)
		bytes += size[id]
	}
	return append(out, cur), nil
}

// run writes and records the chunks in turn. When the relay is stopping,
// the chunks not started yet are released.
func (b *batch) run(chunks []chunk) error {
	for i, c := range chunks {
		if i > 0 && b.r.run != nil && b.r.run.Err() != nil {
			return b.release(chunks[i:], "relay stopped before this message")
		}
		res, written, err := b.write(c)
		if err != nil {
			if errors.Is(err, errLoad) {
				return b.interrupted(err)
			}
			if err := b.writeFailed(chunks[i:], err); err != nil {
				return err
			}
			continue
		}
		if err := b.complete(c, res, written); err != nil {
			return b.interrupted(fmt.Errorf("record relayed messages: %w", err))
		}
	}
	return nil
}

var errLoad = errors.New("load emails")

// write loads the chunk's emails and writes them to MongoDB (or deletes the
// chunk's documents), and returns the version it wrote of each document.
// The current state of an erased email is "no document": an upsert queued
// before the erasure deletes instead.
func (b *batch) write(c chunk) (mongostore.WriteResult, map[int64]int64, error) {
	wctx, cancel := context.WithDeadline(b.ctx, b.writeBy)
	defer cancel()
	if c.delete {
		return b.erase(wctx, c.ids)
	}
	emails, err := b.r.q.LoadEmailsToRelay(b.ctx, c.ids)
	if err != nil {
		return mongostore.WriteResult{}, nil, fmt.Errorf("%w: %w", errLoad, err)
	}
	now := time.Now()
	docs := make([]mongostore.Document, 0, len(emails))
	refused := map[int64]error{}
	var erased []int64
	erasedAt := map[int64]int64{}
	var loaded int64
	for _, e := range emails {
		if e.Erased {
			erased = append(erased, e.ID)
			erasedAt[e.ID] = e.Version
			continue
		}
		loaded += e.Bytes
		if e.Err != nil {
			refused[e.ID] = e.Err
			continue
		}
		docs = append(docs, mongostore.FromEmail(e.Email, now))
	}
	if b.r.onLoad != nil {
		b.r.onLoad(len(emails), loaded)
	}
	emails = nil // the documents hold what is needed
	// Blob writes are idempotent and need no lease (only recording the
	// rows does): a big blob may take longer than the lease.
	if err := b.syncBlobs(b.parent, docs); err != nil {
		return mongostore.WriteResult{}, nil, err
	}
	res, err := b.r.mongo.Write(wctx, docs)
	if err == nil && len(erased) > 0 {
		var er mongostore.EraseResult
		er, err = b.r.mongo.Erase(wctx, erased, erasedAt)
		res.Deferred = append(res.Deferred, er.Deferred...)
	}
	written := make(map[int64]int64, len(docs))
	for _, d := range docs {
		written[d.ID] = d.Version
	}
	for id, e := range refused {
		if res.Refused == nil {
			res.Refused = map[int64]error{}
		}
		res.Refused[id] = e
	}
	return res, written, err
}

// writeFailed handles a failed write of rest[0]; rest are the chunks not
// recorded yet. A nil return means the batch goes on with rest[1:].
func (b *batch) writeFailed(rest []chunk, err error) error {
	switch {
	case b.parent.Err() != nil:
		return err // Stop's deadline passed: the rows stay leased
	case b.ctx.Err() != nil || (errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(b.writeBy)):
		// The chunk that overran is backed off like a failed attempt, so
		// it is not issued again at once while the writes behind it wait;
		// the chunks not tried are given back.
		_ = b.backOff(rest[0], fmt.Errorf("lease overrun: the write took longer than the lease: %w", err))
		_ = b.release(rest[1:], "lease overrun: the batch took longer than the lease")
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	case mongostore.IsTransient(err):
		b.r.storeDown(err)
		if rerr := b.release(rest, "store unreachable: "+err.Error()); rerr != nil {
			return rerr
		}
		return fmt.Errorf("%w: %w", errStoreDown, err)
	default:
		slog.WarnContext(b.ctx, "relay write refused: attempt counted", "worker", b.worker, "err", err)
		return b.failAll(rest[0], err)
	}
}

// interrupted turns an error of PostgreSQL into the batch's result: lost
// lease, cut by Stop, or the error itself (the rows stay leased and come
// back when the lease expires).
func (b *batch) interrupted(err error) error {
	if b.parent.Err() == nil && b.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	}
	return err
}
