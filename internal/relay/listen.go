package relay

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"mailsync/internal/lifecycle"
)

// channel is the PostgreSQL NOTIFY channel relays wake each other on.
const channel = "mailsync_outbox"

// listen wakes a local worker when another instance enqueued messages. The
// instance's own NOTIFYs are ignored: its workers were woken in-process.
// Polling covers the gaps while the listening connection is re-established.
func (r *Relay) listen(ctx context.Context) {
	for ctx.Err() == nil {
		if err := r.listenOnce(ctx); err != nil && ctx.Err() == nil {
			slog.Debug("relay listen connection lost", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context) error {
	pooled, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listen connection: %w", err)
	}
	// The connection has session state (LISTEN): never return it to the pool.
	conn := pooled.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen %s: %w", channel, err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		if n.Payload != r.self {
			r.wakeOne()
		}
	}
}

// notifier sends at most one NOTIFY per debounce interval, after commits,
// outside any ingest transaction (a NOTIFY inside one serialises commits).
// When the relay stops claiming it sends the last one due, so that commits
// made just before Stop still wake the other instances.
func (r *Relay) notifier(claim, work context.Context) {
	debounce := lifecycle.Loop{Name: "relay notify", Interval: 25 * time.Millisecond, Pass: r.notifyOnce}
	debounce.Run(claim, work)
	_ = r.notifyOnce(claim, work)
}

// notifyOnce sends the NOTIFY if one is due; a failure is only logged at
// Debug (polling covers a lost wake-up).
func (r *Relay) notifyOnce(_, ctx context.Context) error {
	if r.notify.Swap(false) {
		if err := r.q.NotifyOutboxFrom(ctx, r.self); err != nil && ctx.Err() == nil {
			slog.Debug("relay notify failed", "err", err)
		}
	}
	return nil
}
