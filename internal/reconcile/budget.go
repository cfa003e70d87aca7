package reconcile

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// budget bounds the bytes of MongoDB documents one read holds at once: the
// reader takes a document's size before it copies the document, and the
// hasher gives it back once the document is summarised. A document larger
// than the whole budget takes all of it, so it is then held alone.
type budget struct {
	sem   *semaphore.Weighted
	limit int64
	held  atomic.Int64 // bytes of the documents held now
	peak  atomic.Int64 // the most held at once
}

func newBudget(limit int64) *budget {
	return &budget{sem: semaphore.NewWeighted(limit), limit: limit}
}

// weight is what a document of n bytes takes of the budget.
func (b *budget) weight(n int64) int64 { return max(1, min(n, b.limit)) }

// tryTake takes room for a document of n bytes if there is room now.
func (b *budget) tryTake(n int64) bool {
	if !b.sem.TryAcquire(b.weight(n)) {
		return false
	}
	b.note(n)
	return true
}

// take waits for room for a document of n bytes; it fails only when ctx
// ends first.
func (b *budget) take(ctx context.Context, n int64) error {
	if err := b.sem.Acquire(ctx, b.weight(n)); err != nil {
		return err
	}
	b.note(n)
	return nil
}

func (b *budget) note(n int64) {
	h := b.held.Add(n)
	for p := b.peak.Load(); h > p && !b.peak.CompareAndSwap(p, h); p = b.peak.Load() {
	}
}

// give gives back the room of a document of n bytes.
func (b *budget) give(n int64) {
	b.held.Add(-n)
	b.sem.Release(b.weight(n))
}
