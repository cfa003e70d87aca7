package ingest

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"mailsync/internal/apperr"
	"mailsync/internal/tracing"
)

// Group commit: IngestOne queues a call; a gathering goroutine (running only
// while calls are queued) waits for a free slot (GroupInFlight transactions
// at once), gathers calls for up to GroupWindow or until GroupMax are
// queued, and commits them in one transaction of pipelined statements. While
// every slot is busy calls pile up, so groups grow with the load and the
// commits per second stay what PostgreSQL can do.

// call is one IngestOne waiting for its group.
type call struct {
	ctx    context.Context
	job    job
	res    Result
	err    error
	done   chan struct{}
	ticket *Ticket
	taken  bool // in a group (guarded by gatherer.mu)
}

// finish answers a call taken into a group and frees its room.
func (c *call) finish(r Result, err error) {
	c.res, c.err = r, err
	close(c.done)
	c.ticket.unref()
}

// gatherer holds the queued calls.
type gatherer struct {
	mu      sync.Mutex
	queue   []*call
	running bool          // a gathering goroutine is running
	full    chan struct{} // GroupMax calls are queued
	slots   chan struct{} // one token per group transaction running
}

func (s *Service) enqueue(c *call) {
	g := &s.g
	g.mu.Lock()
	g.queue = append(g.queue, c)
	n, start := len(g.queue), !g.running
	g.running = true
	g.mu.Unlock()
	switch {
	case start:
		go s.gather()
	case n >= s.cfg.GroupMax:
		select {
		case g.full <- struct{}{}:
		default:
		}
	}
}

// gather forms groups until the queue is empty.
func (s *Service) gather() {
	g := &s.g
	for {
		waited := false
		select {
		case g.slots <- struct{}{}:
		default:
			g.slots <- struct{}{} // every slot busy: calls gather meanwhile
			waited = true
		}
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		if !waited && n < s.cfg.GroupMax && s.cfg.GroupWindow > 0 {
			t := time.NewTimer(s.cfg.GroupWindow)
			select {
			case <-t.C:
			case <-g.full:
			}
			t.Stop()
		}
		g.mu.Lock()
		group, gaveUp, rest := make([]*call, 0, min(len(g.queue), s.cfg.GroupMax)), []*call(nil), 0
		for i, c := range g.queue {
			switch {
			case len(group) == s.cfg.GroupMax:
				g.queue[rest] = g.queue[i]
				rest++
			case c.ctx.Err() != nil: // its request gave up: dropped
				gaveUp = append(gaveUp, c)
			default:
				c.taken = true
				group = append(group, c)
			}
		}
		clear(g.queue[rest:])
		g.queue = g.queue[:rest]
		more := len(g.queue) > 0
		g.running = more
		g.mu.Unlock()
		for _, c := range gaveUp {
			c.ticket.unref()
		}
		if len(group) > 0 {
			go func() {
				defer func() { <-g.slots }()
				s.commitGroup(group)
			}()
		} else {
			<-g.slots
		}
		if !more {
			return
		}
	}
}

// drop takes c out of the queue when its request gave up before c was
// taken into a group; a call already taken is answered by its group.
func (s *Service) drop(c *call) bool {
	g := &s.g
	g.mu.Lock()
	if c.taken {
		g.mu.Unlock()
		return false
	}
	i := slices.Index(g.queue, c)
	if i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
	}
	g.mu.Unlock()
	if i >= 0 {
		c.ticket.unref()
	}
	return i >= 0
}

// commitGroup writes the calls of one group in one transaction. A request
// repeating a (client, key) of the group is answered as if it came right
// after the first: from the first's outcome, or alone after the commit.
func (s *Service) commitGroup(calls []*call) {
	live := calls[:0]
	for _, c := range calls { // the group starts: a request that gave up is dropped
		if err := c.ctx.Err(); err != nil {
			c.finish(Result{}, err)
			continue
		}
		live = append(live, c)
	}
	calls = live
	if len(calls) == 0 {
		return
	}
	type ck struct{ client, key string }
	firstOf := make(map[ck]*call, len(calls))
	var firsts, dups []*call
	for _, c := range calls {
		k := ck{c.job.clientID, c.job.item.Key}
		if _, ok := firstOf[k]; ok {
			dups = append(dups, c)
			continue
		}
		firstOf[k] = c
		firsts = append(firsts, c)
	}
	jobs := make([]job, len(firsts))
	for i, c := range firsts {
		jobs[i] = c.job
	}
	// One span per group transaction, linked to each request's span.
	gctx, span := tracing.StartLinked(context.Background(), tracing.SpanGroupCommit, len(firsts),
		func(i int) context.Context { return firsts[i].ctx }, trace.WithAttributes(tracing.AttrGroupSize.Int(len(calls))))
	ctx, cancel := context.WithTimeout(gctx, s.cfg.GroupTimeout)
	results, inserted, err := s.writeRetrying(ctx, jobs)
	cancel()
	tracing.End(span, err)
	switch {
	case err == nil:
		s.committed(inserted, len(jobs)-inserted)
		for i, c := range firsts {
			c.finish(results[i], nil)
		}
	case len(firsts) == 1 && len(dups) == 0:
		firsts[0].finish(Result{}, err)
	default: // each request alone, so none fails because of a neighbour
		var wg sync.WaitGroup
		for _, c := range firsts {
			wg.Go(func() { s.alone(c) })
		}
		wg.Wait()
	}
	for _, c := range dups {
		first := firstOf[ck{c.job.clientID, c.job.item.Key}]
		if r, ok := repeated(first, c); ok {
			s.committed(0, 1)
			c.finish(r, nil)
			continue
		}
		s.alone(c)
	}
}

// alone runs one call in its own transaction.
func (s *Service) alone(c *call) {
	results, inserted, err := s.writeRetrying(c.ctx, []job{c.job})
	if err != nil {
		c.finish(Result{}, err)
		return
	}
	s.committed(inserted, 1-inserted)
	c.finish(results[0], nil)
}

// repeated answers dup, a request with the key of first that came in the
// same group, as the request right after first would be answered, when
// first's outcome settles it: the same request gets first's outcome as a
// replay; a different request under a key first has just used is refused.
func repeated(first, dup *call) (Result, bool) {
	r, err := first.res, first.err
	if err != nil || (r.Err != nil && apperr.CodeOf(r.Err) != apperr.KeyReused) {
		return Result{}, false
	}
	if dup.job.item.Fingerprint == first.job.item.Fingerprint {
		if r.Err == nil {
			r.Replayed, r.Email = true, nil
		}
		return r, true
	}
	if r.Err == nil && r.Status == http.StatusCreated && !r.Replayed { // first stored a new email
		return keyReused(), true
	}
	return Result{}, false
}
