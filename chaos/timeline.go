package chaos

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Timeline prints what the suite does, each line stamped with the time since
// the start, and remembers the fault phase the load generator is in, so
// every client-visible error is attributed to the fault that caused it.
type Timeline struct {
	start time.Time
	out   io.Writer
	mu    sync.Mutex
	phase atomic.Value // string
}

// NewTimeline starts a timeline printing to out.
func NewTimeline(out io.Writer) *Timeline {
	t := &Timeline{start: time.Now(), out: out}
	t.phase.Store("steady")
	return t
}

// Printf prints one timeline line.
func (t *Timeline) Printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, "[%6.1fs] %s\n", time.Since(t.start).Seconds(), fmt.Sprintf(format, args...))
}

// Since is the time elapsed since the start.
func (t *Timeline) Since() time.Duration { return time.Since(t.start) }

// SetPhase names the fault in progress ("steady" when none) and prints it.
func (t *Timeline) SetPhase(p string) {
	t.phase.Store(p)
	t.Printf("phase: %s", p)
}

// Phase is the fault in progress.
func (t *Timeline) Phase() string { return t.phase.Load().(string) }
