package handlers

import (
	"context"

	"mailsync/internal/api"
	"mailsync/internal/relay"
)

// PauseRelay stops every instance's relay from claiming.
func (h *Handlers) PauseRelay(ctx context.Context, req api.PauseRelayRequestObject) (api.PauseRelayResponseObject, error) {
	c, err := h.cfg.Sync.Pause(ctx, actor(ctx), relayReason(req.Body))
	if err != nil {
		return nil, err
	}
	return api.PauseRelay200JSONResponse(relayControl(c)), nil
}

// ResumeRelay lets every instance's relay claim again.
func (h *Handlers) ResumeRelay(ctx context.Context, req api.ResumeRelayRequestObject) (api.ResumeRelayResponseObject, error) {
	c, err := h.cfg.Sync.Resume(ctx, actor(ctx), relayReason(req.Body))
	if err != nil {
		return nil, err
	}
	return api.ResumeRelay200JSONResponse(relayControl(c)), nil
}

func relayReason(b *api.RelayControlRequest) *string {
	if b == nil {
		return nil
	}
	return b.Reason
}

func relayControl(c relay.Control) api.RelayControl {
	return api.RelayControl{Paused: c.Paused, PausedSince: c.PausedSince, PausedBy: c.PausedBy, Reason: c.Reason}
}
