package handlers

import (
	"context"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/limits"
	"mailsync/internal/relay"
)

// PauseRelay stops every instance's relay from claiming.
func (h *Handlers) PauseRelay(ctx context.Context, req api.PauseRelayRequestObject) (api.PauseRelayResponseObject, error) {
	reason, err := relayReason(req.Body)
	if err != nil {
		return nil, err
	}
	c, err := h.cfg.Sync.Pause(ctx, actor(ctx), reason)
	if err != nil {
		return nil, err
	}
	return api.PauseRelay200JSONResponse(relayControl(c)), nil
}

// ResumeRelay lets every instance's relay claim again.
func (h *Handlers) ResumeRelay(ctx context.Context, req api.ResumeRelayRequestObject) (api.ResumeRelayResponseObject, error) {
	reason, err := relayReason(req.Body)
	if err != nil {
		return nil, err
	}
	c, err := h.cfg.Sync.Resume(ctx, actor(ctx), reason)
	if err != nil {
		return nil, err
	}
	return api.ResumeRelay200JSONResponse(relayControl(c)), nil
}

// relayReason returns the optional reason of b, within limits.RelayReason (422
// naming it otherwise: it is stored and shown on every status read).
func relayReason(b *api.RelayControlRequest) (*string, error) {
	if b == nil || b.Reason == nil {
		return nil, nil
	}
	if msg := limits.Text(*b.Reason, limits.RelayReason); msg != "" {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "reason " + msg,
			Fields: []apperr.FieldError{{Field: "reason", Message: msg}}}
	}
	return b.Reason, nil
}

func relayControl(c relay.Control) api.RelayControl {
	return api.RelayControl{Paused: c.Paused, PausedSince: c.PausedSince, PausedBy: c.PausedBy, Reason: c.Reason}
}
