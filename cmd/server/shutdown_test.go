package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// part is a fake stopper: its Stop logs, and finishes when finish is
// closed or is cut off when ctx ends.
type part struct {
	name   string
	log    *events
	finish chan struct{}
	gotCtx context.Context
}

func (p *part) Stop(ctx context.Context) error {
	p.gotCtx = ctx
	p.log.add("stop " + p.name)
	select {
	case <-p.finish:
		p.log.add("done " + p.name)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: cut off: %w", p.name, ctx.Err())
	}
}

type events struct {
	mu    sync.Mutex
	list  []string
	waits map[string]chan struct{} // closed when their event is logged
}

func (e *events) add(ev string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	if c, ok := e.waits[ev]; ok {
		close(c)
		delete(e.waits, ev)
	}
}

// on returns a channel closed once ev is logged.
func (e *events) on(ev string) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := make(chan struct{})
	if slices.Contains(e.list, ev) {
		close(c)
		return c
	}
	e.waits[ev] = c
	return c
}

// TestShutdownOrder: each stage starts when the previous one has finished,
// the parts of a stage stop together, and all share the one ctx.
func TestShutdownOrder(t *testing.T) {
	t.Parallel()
	log := &events{waits: map[string]chan struct{}{}}
	mk := func(name string) *part { return &part{name: name, log: log, finish: make(chan struct{})} }
	http, cleaner, eraser, rel := mk("http"), mk("cleaner"), mk("eraser"), mk("relay")
	// The middle parts finish only once both have begun: a sequential stage
	// would wait for ctx, which the test never ends.
	go func() { <-log.on("stop cleaner"); <-log.on("stop eraser"); close(cleaner.finish); close(eraser.finish) }()
	go func() { <-log.on("stop http"); close(http.finish) }()
	close(rel.finish)
	ctx := context.Background()
	require.NoError(t, shutdown(ctx, []stopper{http}, []stopper{cleaner, eraser}, []stopper{rel}))
	pos := func(ev string) int { return slices.Index(log.list, ev) }
	require.Less(t, pos("done http"), pos("stop cleaner"))
	require.Less(t, pos("done http"), pos("stop eraser"))
	require.Less(t, pos("done cleaner"), pos("stop relay"))
	require.Less(t, pos("done eraser"), pos("stop relay"))
	for _, p := range []*part{http, cleaner, eraser, rel} {
		require.Equal(t, ctx, p.gotCtx, p.name)
	}
}

// TestShutdownBudgetIsShared: a stage that takes the whole budget does not
// extend it: the later stages are still stopped, and cut off at once.
func TestShutdownBudgetIsShared(t *testing.T) {
	t.Parallel()
	log := &events{waits: map[string]chan struct{}{}}
	mk := func(name string) *part { return &part{name: name, log: log, finish: make(chan struct{})} }
	http, eraser, rel := mk("http"), mk("eraser"), mk("relay")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-log.on("stop http"); cancel() }() // the requests take all the time
	err := shutdown(ctx, []stopper{http}, []stopper{eraser}, []stopper{rel})
	require.ErrorIs(t, err, context.Canceled)
	for _, name := range []string{"http", "eraser", "relay"} {
		require.ErrorContains(t, err, "stop "+name+": cut off")
	}
	require.Equal(t, []string{"stop http", "stop eraser", "stop relay"}, log.list)
}

// TestServeStages: serve's background services stop after HTTP, the
// relay last.
func TestServeStages(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	b := newBackground(nil, nil, cfg, 1, true, nil)
	front := &part{name: "http"}
	require.Equal(t, [][]stopper{{front}, {b.cleaner, b.eraser, b.rec}, {b.rel}}, b.stages(front))
	relayOnly := newBackground(nil, nil, cfg, 1, false, nil)
	require.Equal(t, [][]stopper{nil, {relayOnly.cleaner, relayOnly.eraser}, {relayOnly.rel}}, relayOnly.stages())
	require.Equal(t, 20*time.Second, cfg.ShutdownTimeout, "the one budget of all stages")
}
