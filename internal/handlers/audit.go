package handlers

import (
	"context"
	"encoding/hex"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/db"
)

// ListAuditEvents lists the audit trail, newest first, narrowed by the
// filters given; after not before before is a 400.
func (h *Handlers) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	n, err := limit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("a", req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if p.After != nil && p.Before != nil && !p.After.Before(*p.Before) {
		return nil, apperr.New(apperr.Malformed, "after must be earlier than before")
	}
	f := audit.Filter{Action: p.Action, ClientID: p.ClientId, Target: p.Target, After: p.After, Before: p.Before}
	events, next, err := audit.List(ctx, db.New(h.cfg.Pool), f, before, n)
	if err != nil {
		return nil, err
	}
	items := make([]api.AuditEvent, len(events))
	for i, e := range events {
		items[i] = api.AuditEvent{Id: e.ID, At: e.At, ClientId: e.ClientID, Action: e.Action, Target: e.Target,
			RequestId: e.RequestID, Details: e.Details, Seq: e.Seq, Hash: hex.EncodeToString(e.Hash)}
	}
	return api.ListAuditEvents200JSONResponse{Items: items, NextCursor: encodeCursor("a", next)}, nil
}

// ListAuditCheckpoints lists the signed checkpoints of the audit chain,
// newest first.
func (h *Handlers) ListAuditCheckpoints(ctx context.Context, req api.ListAuditCheckpointsRequestObject) (api.ListAuditCheckpointsResponseObject, error) {
	n, err := limit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("k", req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	cps, next, err := audit.Checkpoints(ctx, db.New(h.cfg.Pool), before, n)
	if err != nil {
		return nil, err
	}
	items := make([]api.AuditCheckpoint, len(cps))
	for i, c := range cps {
		items[i] = api.AuditCheckpoint{Id: c.ID, Seq: c.Seq, Hash: hex.EncodeToString(c.Hash), At: c.At,
			KeyName: c.KeyName, Note: c.Note}
	}
	return api.ListAuditCheckpoints200JSONResponse{Items: items, NextCursor: encodeCursor("k", next)}, nil
}
