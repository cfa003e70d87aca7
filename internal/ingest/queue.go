package ingest

import (
	"context"
	"sync"
	"sync/atomic"

	"mailsync/internal/apperr"
)

// The group-commit queue is bounded: a request takes its room with Admit
// before its body is read, and keeps it until its call has left the queue,
// written by its group or dropped because the request gave up. A request
// that gave up while its group is being written keeps the room until that
// group ends, so the bound holds the memory of every call PostgreSQL has
// not answered yet, also while it stalls.

// Ticket is the room one request holds in the queue.
type Ticket struct {
	s    *Service
	size int64
	refs atomic.Int32 // the holder, and the call while it is queued or written
	once sync.Once
}

// queueRoom counts the room taken by tickets.
type queueRoom struct {
	mu    sync.Mutex
	calls int
	bytes int64
}

// Admit takes room in the queue for one IngestOne call of a request of
// size bytes (its Content-Length; a size above QueueBytes counts as
// QueueBytes, so a request the body limit admits fits in an empty queue).
// Past QueueMax calls or QueueBytes bytes it returns an apperr Unavailable
// (503 + Retry-After) and takes nothing. The caller releases the ticket
// when it has answered, and passes it to IngestOne with WithTicket.
func (s *Service) Admit(size int64) (*Ticket, error) {
	size = min(max(size, 0), s.cfg.QueueBytes)
	q := &s.room
	q.mu.Lock()
	if q.calls+1 > s.cfg.QueueMax || q.bytes+size > s.cfg.QueueBytes {
		q.mu.Unlock()
		return nil, apperr.New(apperr.Unavailable,
			"too many requests are waiting for the database (at most %d, %d bytes); retry later", s.cfg.QueueMax, s.cfg.QueueBytes)
	}
	q.calls++
	q.bytes += size
	q.mu.Unlock()
	t := &Ticket{s: s, size: size}
	t.refs.Store(1)
	return t, nil
}

// Release gives the holder's share of the room back; the room is free
// once the call made under the ticket, if any, has left the queue too.
// Calling it again does nothing.
func (t *Ticket) Release() {
	if t != nil {
		t.once.Do(t.unref)
	}
}

func (t *Ticket) ref() { t.refs.Add(1) }

func (t *Ticket) unref() {
	if t.refs.Add(-1) != 0 {
		return
	}
	q := &t.s.room
	q.mu.Lock()
	q.calls--
	q.bytes -= t.size
	q.mu.Unlock()
}

type ticketKey struct{}

// WithTicket returns ctx carrying t, for IngestOne.
func WithTicket(ctx context.Context, t *Ticket) context.Context {
	return context.WithValue(ctx, ticketKey{}, t)
}

// ticketOf returns the ticket ctx carries for s, or nil.
func ticketOf(ctx context.Context, s *Service) *Ticket {
	if t, ok := ctx.Value(ticketKey{}).(*Ticket); ok && t.s == s {
		return t
	}
	return nil
}
