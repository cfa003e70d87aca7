package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/audit"
	"mailsync/internal/erasure"
	"mailsync/internal/maintenance"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore"
	"mailsync/internal/reconcile"
	"mailsync/internal/relay"
)

// background is the background services of serve.
type background struct {
	rel     *relay.Relay
	cleaner *maintenance.Cleaner
	eraser  *erasure.Service
	rec     *reconcile.Reconciler // nil when the instance runs no reconciliations (--role=relay)
	ckpt    *audit.Checkpointer   // nil without AUDIT_SIGNING_KEY_FILE
}

// withCheckpoints adds the audit checkpointer when AUDIT_SIGNING_KEY_FILE
// is set and AUDIT_CHECKPOINT_INTERVAL is not 0. A key file that is set but
// cannot be read is an error naming the file.
func (b *background) withCheckpoints(pool *pgxpool.Pool, cfg config) error {
	if cfg.Audit.SigningKeyFile == "" {
		return nil
	}
	key, err := audit.LoadKey(cfg.Audit.SigningKeyFile)
	if err != nil || cfg.Audit.CheckpointInterval == 0 {
		return err
	}
	b.ckpt = audit.NewCheckpointer(pool, &audit.CheckpointConfig{Key: key, Interval: cfg.Audit.CheckpointInterval})
	return nil
}

// newBackground builds the services from the configuration: a relay with
// workers goroutines (none for --role=api: it still sends the debounced
// NOTIFY that wakes the other instances' relays after an ingest commit),
// the retention cleaner, the erasure job runner (on every instance: leases
// share the jobs out) and, when reconciler is true, the reconciler
// (scheduled runs, one at a time across instances, and the runs of POST
// /v1/reconciliations).
func newBackground(pool *pgxpool.Pool, mongo *mongostore.Store, cfg config, workers int, reconciler bool, m *metrics.Metrics) *background {
	b := &background{}
	b.rel = relay.New(pool, mongo, &relay.Config{
		Workers: workers, BatchSize: cfg.RelayBatchSize, MaxRetries: int32(cfg.RelayMaxRetries), Metrics: m})
	b.cleaner = maintenance.New(pool, &maintenance.Config{
		OutboxRetention: cfg.OutboxRetention, ReportRetention: cfg.ReportRetention, Metrics: m,
		EmailRetention: cfg.EmailRetention, AuditRetention: cfg.AuditRetention, MaxRetries: int32(cfg.RelayMaxRetries), Wake: b.rel.Notify})
	if cfg.ErasureHMACKey == "" {
		slog.Warn("ERASURE_HMAC_KEY is not set: erasure address hashes use a random key of this process and compare only within it")
	}
	b.eraser = erasure.New(pool, &erasure.Config{MaxRetries: int32(cfg.RelayMaxRetries), Wake: b.rel.Notify,
		AddressKey: []byte(cfg.ErasureHMACKey), MaxAttempts: int32(cfg.ErasureMaxAttempts)})
	if reconciler {
		wakeRelays := b.rel.Notify
		if workers == 0 {
			wakeRelays = notifyRelays(pool)
		}
		b.rec = reconcile.New(pool, mongo, reconcileConfig(cfg, wakeRelays))
	}
	return b
}

// start starts every service on ctx, the relay first (the others wake it).
// On an error some may be running: stop them with the stages all the same.
func (b *background) start(ctx context.Context) error {
	for _, s := range b.services() {
		if err := s.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (b *background) services() []service {
	out := []service{b.rel, b.cleaner, b.eraser}
	if b.rec != nil {
		out = append(out, b.rec)
	}
	if b.ckpt != nil {
		out = append(out, b.ckpt)
	}
	return out
}

// stages is the shutdown order, for shutdown:
//  1. front: HTTP and the LMTP listener stop accepting connections and
//     finish the requests and transactions in flight (their commits still
//     wake the relay);
//  2. the reconciler (schedule and runs), the erasure runner and the
//     retention cleaner, together: each stops claiming and finishes its
//     run, batch or pass in flight, whose outbox messages wake the relay;
//  3. the relay: it stops claiming and finishes its batches in flight; its
//     notifier sends the last NOTIFY due to the other instances.
//
// serve then closes the MongoDB client and the PostgreSQL pool.
func (b *background) stages(front ...stopper) [][]stopper {
	middle := []stopper{b.cleaner, b.eraser}
	if b.rec != nil {
		middle = append(middle, b.rec)
	}
	if b.ckpt != nil {
		middle = append(middle, b.ckpt)
	}
	return [][]stopper{front, middle, {b.rel}}
}

// service is a background service of serve: started once, stopped in its
// turn by shutdown.
type service interface {
	Start(ctx context.Context) error
	stopper
}

// stopper is a part of the server that shutdown stops: it stops taking new
// work, finishes the work in flight while ctx lasts, then cuts it off and
// returns an error naming it.
type stopper interface {
	Stop(ctx context.Context) error
}

// stopFunc is a function as a stopper.
type stopFunc func(ctx context.Context) error

// Stop calls f.
func (f stopFunc) Stop(ctx context.Context) error { return f(ctx) }

// shutdown stops the stages in turn, the parts of one stage together, every
// one of them within the one ctx: a stage that takes all the time left has
// the later ones cut off at once, and never extends the deadline. It
// returns the errors of all parts, joined (nil when everything finished in
// time).
func shutdown(ctx context.Context, stages ...[]stopper) error {
	var errs []error
	for _, stage := range stages {
		done := make(chan error, len(stage))
		for _, s := range stage {
			go func() { done <- s.Stop(ctx) }()
		}
		for range stage {
			errs = append(errs, <-done)
		}
	}
	return errors.Join(errs...)
}
