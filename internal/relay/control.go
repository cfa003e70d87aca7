package relay

import (
	"context"

	"mailsync/internal/audit"
	"mailsync/internal/db"
)

// Control is the relay's pause state (see db.RelayControl).
type Control = db.RelayControl

// Pause stops every instance's relay from claiming: workers finish the
// batch in their hands and claim nothing more until Resume. Ingest is
// unaffected. The state is stored in PostgreSQL, so it holds across
// restarts. The change and by's relay.pause audit event commit together;
// pausing a paused relay keeps when and by whom it was first paused.
// reason is optional (nil).
func (a *Admin) Pause(ctx context.Context, by audit.Actor, reason *string) (Control, error) {
	var c Control
	err := db.InTx(ctx, a.pool, func(q *db.Queries) error {
		var err error
		if c, _, err = q.SetRelayPaused(ctx, true, by.ClientID, reason); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, audit.ActionRelayPause, "relay", map[string]any{"reason": reason})
	})
	return c, err
}

// Resume lets every instance's relay claim again and wakes the workers
// (this instance's at once, the others' through NOTIFY). The change and
// by's relay.resume audit event commit together; resuming a running relay
// changes nothing but is still recorded.
func (a *Admin) Resume(ctx context.Context, by audit.Actor, reason *string) (Control, error) {
	var c Control
	err := db.InTx(ctx, a.pool, func(q *db.Queries) error {
		var err error
		if c, _, err = q.SetRelayPaused(ctx, false, by.ClientID, nil); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, audit.ActionRelayResume, "relay", map[string]any{"reason": reason})
	})
	if err != nil {
		return c, err
	}
	a.wake()
	return c, nil
}
