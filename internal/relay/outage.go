package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// storeState tracks a MongoDB outage like a circuit breaker. While up is
// non-nil the workers wait. When a probe reaches the store again, one
// worker gets a trial token and relays a batch alone (a store that just
// restarted answers its first writes slowly; a crowd would only slow the
// first one down); its success closes up and resumes everybody, its
// failure starts probing again.
type storeState struct {
	mu      sync.Mutex
	up      chan struct{}
	trial   chan struct{}
	probing bool
	since   time.Time
}

// probeFirst is the first interval between probes of an unreachable store.
const probeFirst = 50 * time.Millisecond

// storeDown pauses every worker of this relay and starts probing the store.
// MongoDB being down is nobody's fault: the batches were released without
// counting an attempt and without delay, so the backlog is claimable the
// moment the store answers. A relay that was not started (RunOnce driven
// by hand) does not pause.
func (r *Relay) storeDown(cause error) {
	if r.run == nil {
		return
	}
	s := &r.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probing || r.run.Err() != nil {
		return
	}
	if s.up == nil {
		s.up, s.trial, s.since = make(chan struct{}), make(chan struct{}, 1), time.Now()
		slog.Warn("relay paused: MongoDB unreachable; probing", "err", cause)
	}
	trial := s.trial
	s.probing = r.life.Go(func(context.Context, context.Context) { r.probe(trial) })
}

// storeUp resumes every worker after a successful trial.
func (r *Relay) storeUp() {
	s := &r.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up == nil {
		return
	}
	close(s.up)
	s.up, s.trial = nil, nil
	slog.Info("relay resumed: MongoDB reachable again", "outage", time.Since(s.since).Round(time.Millisecond).String())
}

// probe pings the store until it answers, then hands out the trial token.
// Each ping may take up to the current interval (backing off from
// probeFirst to cfg.ProbeMax): while no server is selectable the driver
// re-checks the server every half second, so a ping waiting in selection
// notices the store's return at once, and a ping failing fast is followed
// by the rest of its interval.
func (r *Relay) probe(trial chan struct{}) {
	wait := probeFirst
	for {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(r.run, wait)
		err := r.mongo.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		if !sleep(r.run, wait-time.Since(t0)) {
			return
		}
		wait = min(wait*2, r.cfg.ProbeMax)
	}
	r.store.mu.Lock()
	r.store.probing = false
	r.store.mu.Unlock()
	trial <- struct{}{}
}

// waitStore blocks while the store is down. It returns false when ctx
// ends, and trial true when this worker is to try the store alone: it must
// then call endTrial.
func (r *Relay) waitStore(ctx context.Context) (ok, trial bool) {
	r.store.mu.Lock()
	up, tr := r.store.up, r.store.trial
	r.store.mu.Unlock()
	if up == nil {
		return ctx.Err() == nil, false
	}
	select {
	case <-ctx.Done():
		return false, false
	case <-up:
		return true, false
	case <-tr:
		return true, true
	}
}

// endTrial resumes everybody unless the trial batch met the outage again
// (which restarted the probe).
func (r *Relay) endTrial(err error) {
	if !errors.Is(err, errStoreDown) {
		r.storeUp()
	}
}
