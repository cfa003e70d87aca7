package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Loop is the usual goroutine of a service: one pass at a time, at every
// tick of a ticker (and at every wake-up), each pass with its own timeout.
// Run it with Group.Go(loop.Run).
type Loop struct {
	// Name names the pass in log lines: "retention pass" logs "retention
	// pass failed".
	Name string
	// Interval is the time between ticks; it must be positive.
	Interval time.Duration
	// Timeout bounds one pass; 0 means no bound of its own.
	Timeout time.Duration
	// Immediate runs the first pass at once rather than one Interval later.
	Immediate bool
	// Wake, when not nil, starts a pass early on each receive.
	Wake <-chan struct{}
	// Pass does one pass. claim ends when the service stops claiming new
	// work: a pass of several steps checks it between steps and returns
	// after the step in hand (an error of claim's is not logged then). ctx
	// ends when the pass's Timeout passes or Stop cuts the pass off. An
	// error is logged at Warn unless the pass was cut off or told to stop.
	Pass func(claim, ctx context.Context) error
}

// Run runs passes until claim ends; a pass in flight then is finished
// (within work's life) before Run returns. claim and work are the
// contexts of Group.Go.
func (l *Loop) Run(claim, work context.Context) {
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	if l.Immediate {
		l.pass(claim, work)
	}
	for {
		select {
		case <-claim.Done():
			return
		case <-t.C:
		case <-l.Wake:
		}
		l.pass(claim, work)
	}
}

func (l *Loop) pass(claim, work context.Context) {
	if claim.Err() != nil { // a tick and the stop arrived together
		return
	}
	ctx, cancel := work, context.CancelFunc(func() {})
	if l.Timeout > 0 {
		ctx, cancel = context.WithTimeout(work, l.Timeout)
	}
	defer cancel()
	err := l.Pass(claim, ctx)
	switch {
	case err == nil, work.Err() != nil: // cut off by Stop: not the pass's failure
	case claim.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// told to stop between steps
	default:
		slog.Warn(l.Name+" failed", "err", err)
	}
}
