package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// storeState tracks a MongoDB outage: while up is non-nil the workers wait
// for it to be closed, which one probe goroutine does when the store
// answers a ping again.
type storeState struct {
	mu sync.Mutex
	up chan struct{}
}

// probeFirst is the first interval between probes of an unreachable store.
const probeFirst = 50 * time.Millisecond

// storeDown pauses every worker of this relay and starts probing the store.
// MongoDB being down is nobody's fault: the batches were released without
// counting an attempt and without delay, so the backlog is claimable the
// moment a probe succeeds. A relay that was not started (RunOnce driven by
// hand) does not pause.
func (r *Relay) storeDown(cause error) {
	if r.run == nil {
		return
	}
	r.store.mu.Lock()
	defer r.store.mu.Unlock()
	if r.store.up != nil || r.run.Err() != nil {
		return
	}
	up := make(chan struct{})
	r.store.up = up
	slog.Warn("relay paused: MongoDB unreachable; probing", "err", cause)
	r.wg.Add(1) // a worker is still running: the count is above zero
	go r.probe(up)
}

// probe pings the store with a backoff from probeFirst to cfg.ProbeMax until
// it answers, then resumes the workers.
func (r *Relay) probe(up chan struct{}) {
	defer r.wg.Done()
	wait := probeFirst
	start := time.Now()
	for {
		if !sleep(r.run, wait) {
			return
		}
		ctx, cancel := context.WithTimeout(r.run, r.cfg.ProbeMax)
		err := r.mongo.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		if r.run.Err() != nil {
			return
		}
		wait = min(wait*2, r.cfg.ProbeMax)
	}
	r.store.mu.Lock()
	r.store.up = nil
	close(up)
	r.store.mu.Unlock()
	slog.Info("relay resumed: MongoDB reachable again", "outage", time.Since(start).Round(time.Millisecond).String())
}

// waitStore blocks while the store is down. It returns false when ctx ends.
func (r *Relay) waitStore(ctx context.Context) bool {
	r.store.mu.Lock()
	up := r.store.up
	r.store.mu.Unlock()
	if up == nil {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-up:
		return true
	}
}
