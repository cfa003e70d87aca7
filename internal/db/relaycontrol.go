package db

import (
	"context"
	"time"

	"mailsync/internal/db/gen"
)

// RelayControl is the relay's pause state, shared by every instance.
type RelayControl struct {
	Paused bool
	// PausedSince, PausedBy and Reason are set only while Paused (Reason
	// may stay nil: it is optional).
	PausedSince *time.Time
	PausedBy    *string
	Reason      *string
}

// GetRelayControl returns the relay's pause state.
func (q *Queries) GetRelayControl(ctx context.Context) (RelayControl, error) {
	r, err := q.g.GetRelayControl(ctx)
	if err != nil {
		return RelayControl{}, wrap("get relay control", err)
	}
	return RelayControl{Paused: r.Paused, PausedSince: r.PausedSince, PausedBy: r.PausedBy, Reason: r.Reason}, nil
}

// SetRelayPaused pauses (paused true) or resumes the relay as by, and
// returns the new state and whether it was paused before. Pausing a paused
// relay keeps when and by whom it was first paused (a nil reason keeps its
// reason); resuming clears them.
func (q *Queries) SetRelayPaused(ctx context.Context, paused bool, by string, reason *string) (RelayControl, bool, error) {
	r, err := q.g.SetRelayPaused(ctx, gen.SetRelayPausedParams{Paused: paused, By: by, Reason: reason})
	if err != nil {
		return RelayControl{}, false, wrap("set relay paused", err)
	}
	return RelayControl{Paused: r.Paused, PausedSince: r.PausedSince, PausedBy: r.PausedBy, Reason: r.Reason}, r.WasPaused, nil
}
