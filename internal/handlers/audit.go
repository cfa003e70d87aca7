package handlers

import (
	"context"

	"mailsync/internal/api"
	"mailsync/internal/audit"
	"mailsync/internal/db"
)

// ListAuditEvents lists the audit trail, newest first.
func (h *Handlers) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	n, err := limit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("a", req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	events, next, err := audit.List(ctx, db.New(h.cfg.Pool), audit.Filter{}, before, n)
	if err != nil {
		return nil, err
	}
	items := make([]api.AuditEvent, len(events))
	for i, e := range events {
		items[i] = api.AuditEvent{Id: e.ID, At: e.At, ClientId: e.ClientID, Action: e.Action, Target: e.Target,
			RequestId: e.RequestID, Details: e.Details}
	}
	return api.ListAuditEvents200JSONResponse{Items: items, NextCursor: encodeCursor("a", next)}, nil
}
