// Package lifecycle is how mailsync's background services (the relay, the
// reconciliation scheduler, the erasure runner, the retention cleaner) start
// and stop, all the same way. A service runs its goroutines in a Group, which
// hands each of them two contexts: claim, which ends when the service must
// stop claiming new work, and work, which ends when the work still in flight
// must be abandoned. Stop(ctx) ends claim at once, waits for the goroutines
// while ctx lasts, and only then ends work. Loop is the usual goroutine of a
// service: one pass per tick, each with its own timeout.
package lifecycle

import (
	"context"
	"fmt"
	"sync"
)

// Group runs the goroutines of one service and stops them. Create it with
// NewGroup.
type Group struct {
	name     string // the service, in errors: "relay"
	inFlight string // what Stop may cut off, in errors: "in-flight batches"

	claim    context.Context // ends when Stop begins or Start's ctx ends
	endClaim context.CancelFunc
	work     context.Context // ends when Stop stops waiting
	abort    context.CancelFunc
	drained  chan struct{} // closed once every goroutine returned after Stop began

	mu       sync.Mutex // guards the fields below, and wg.Add against Stop's wg.Wait
	started  bool
	stopping bool
	unlink   func() bool // detaches claim from Start's ctx
	wg       sync.WaitGroup
}

// NewGroup returns the Group of the service name, whose work in flight
// errors call inFlight ("stop relay: in-flight batches cut off: …").
func NewGroup(name, inFlight string) *Group {
	g := &Group{name: name, inFlight: inFlight, drained: make(chan struct{})}
	g.claim, g.endClaim = context.WithCancel(context.Background())
	g.work, g.abort = context.WithCancel(context.Background())
	return g
}

// Start marks the service started. From then on the claim context also ends
// when ctx ends (ctx's values are not passed on; the work context never ends
// with ctx, only at Stop). It returns an error when the service was started
// or stopped before.
func (g *Group) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.stopping:
		return fmt.Errorf("start %s: stopped", g.name)
	case g.started:
		return fmt.Errorf("start %s: already started", g.name)
	}
	g.started = true
	g.unlink = context.AfterFunc(ctx, g.endClaim)
	return nil
}

// Go runs f on a new goroutine of the group, with the claim and work
// contexts. It reports false, running nothing, once Stop has begun.
func (g *Group) Go(f func(claim, work context.Context)) bool {
	if !g.add() {
		return false
	}
	go func() {
		defer g.wg.Done()
		f(g.claim, g.work)
	}()
	return true
}

// Join counts work done on the caller's goroutine (a run a caller waits
// for) as in flight until leave is called: Stop waits for it, and cuts it
// off at its deadline by ending the returned context, which otherwise ends
// with ctx. It works before Start, and reports false once Stop has begun
// (leave is then a no-op and ctx is returned as is).
func (g *Group) Join(ctx context.Context) (joined context.Context, leave func(), ok bool) {
	if !g.add() {
		return ctx, func() {}, false
	}
	joined, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(g.work, cancel)
	return joined, func() {
		stop()
		cancel()
		g.wg.Done()
	}, true
}

func (g *Group) add() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return false
	}
	g.wg.Add(1)
	return true
}

// Claim returns the context that ends when the service must stop claiming
// new work: when Stop begins, or when Start's ctx ends.
func (g *Group) Claim() context.Context { return g.claim }

// Stop stops claiming new work and waits, while ctx lasts, for every
// goroutine of Go and every Join to return. Then, or when ctx ends first,
// it ends the work context; in the second case the work still in flight is
// cut off (its goroutines return on their own, soon after) and Stop returns
// at once an error wrapping ctx's, which names the service. Stop is
// idempotent: a later call waits again, while its own ctx lasts, for the
// goroutines to be gone. A Stop before Start returns nil at once (unless
// Joined work is in flight) and the service can no longer be started: a
// Start racing a Stop never leaves a service running that nobody stops.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	if !g.stopping {
		g.stopping = true
		if g.unlink != nil {
			g.unlink()
		}
		g.endClaim()
		go func() {
			g.wg.Wait()
			close(g.drained)
		}()
	}
	g.mu.Unlock()
	select {
	case <-g.drained:
	case <-ctx.Done():
	}
	// Whether the work drained is decided before it is cut off: once abort
	// ends the work contexts, the work exits at once and would look drained.
	select {
	case <-g.drained:
		g.abort()
		return nil
	default:
	}
	g.abort()
	return fmt.Errorf("stop %s: %s cut off: %w", g.name, g.inFlight, ctx.Err())
}
