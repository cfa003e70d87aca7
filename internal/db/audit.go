package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"mailsync/internal/db/gen"
)

// AuditEvent is one record of the audit trail (an audit_events row): who
// did what to which resource. Rows are never updated, and deleted only as
// the oldest prefix of the chain (AUDIT_RETENTION); email retention leaves
// them alone.
type AuditEvent struct {
	// ID and At are set by the database on insert.
	ID int64
	At time.Time
	// Seq, Hash and PrevHash are the event's place in the hash chain, set
	// by the database on insert (see PruneAuditEvents and audit.Verify).
	Seq      int64
	Hash     []byte
	PrevHash []byte
	// ClientID is the API client that acted, or a background actor such as
	// "retention".
	ClientID string
	// Action names what was done ("email.erase").
	Action string
	// Target names the resource ("email:42"); "" when there is none.
	Target string
	// RequestID is the HTTP request that acted; "" for background work.
	RequestID string
	// Details is stored as a JSON object; nil is stored as {}.
	Details map[string]any
}

// InsertAuditEvent records e; its ID and At are ignored. Run it with the
// queries of the transaction that does the action, so that the two commit
// together. Errors: details that cannot be encoded as JSON, or the insert's
// error, named "insert audit event".
func (q *Queries) InsertAuditEvent(ctx context.Context, e AuditEvent) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("insert audit event: encode details: %w", err)
	}
	return wrap("insert audit event", q.g.InsertAuditEvent(ctx, gen.InsertAuditEventParams{
		ClientID: e.ClientID, Action: e.Action, Target: e.Target, RequestID: e.RequestID, Details: b}))
}

// AuditFilter narrows ListAuditEvents; each nil field matches every event.
type AuditFilter struct {
	Action   *string // exactly this action ("email.erase")
	ClientID *string // exactly this actor
	Target   *string // exactly this target ("email:42")
	After    *time.Time
	Before   *time.Time // After <= At < Before
}

// ListAuditEvents returns up to limit events matching f with ids below
// beforeID (all when nil), newest first, and the cursor of the next page
// (nil on the last page). Errors are named "list audit events"; a stored
// details value that is not a JSON object fails the list naming the event.
func (q *Queries) ListAuditEvents(ctx context.Context, f AuditFilter, beforeID *int64, limit int32) ([]AuditEvent, *int64, error) {
	rows, err := q.g.ListAuditEvents(ctx, gen.ListAuditEventsParams{BeforeID: beforeID, Action: f.Action,
		ClientID: f.ClientID, Target: f.Target, After: f.After, Before: f.Before, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, wrap("list audit events", err)
	}
	rows, next := page(rows, limit, func(r gen.AuditEvent) int64 { return r.ID })
	out := make([]AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = AuditEvent{ID: r.ID, At: r.At, ClientID: r.ClientID, Action: r.Action, Target: r.Target,
			RequestID: r.RequestID, Details: map[string]any{}, Seq: r.Seq, Hash: r.Hash, PrevHash: r.PrevHash}
		if err := json.Unmarshal(r.Details, &out[i].Details); err != nil {
			return nil, nil, fmt.Errorf("list audit events: event %d: details: %w", r.ID, err)
		}
	}
	return out, next, nil
}
