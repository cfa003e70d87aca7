// Package audit records who did what to which resource (audit_events) and
// lists the trail. Events are written with the queries of the transaction
// that does the action, so an action and its record commit together.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"mailsync/internal/db/gen"
)

// The actions recorded.
const (
	ActionPatch               = "email.patch"
	ActionErase               = "email.erase"
	ActionErasureStart        = "erasure.start"
	ActionErasureBatch        = "erasure.batch"
	ActionRetentionErase      = "retention.erase"
	ActionSyncRetry           = "sync.retry"
	ActionSyncRetryFailed     = "sync.retry_failed"
	ActionReconciliationStart = "reconciliation.start"
)

// RetentionActor is the client_id of what the retention service does.
const RetentionActor = "retention"

// Actor is who acts: the API client and the request id ("" for background
// work).
type Actor struct {
	ClientID  string
	RequestID string
}

// Event is one audit record. Details is encoded as JSON (an object).
type Event struct {
	ID        int64
	At        time.Time
	ClientID  string
	Action    string
	Target    string
	RequestID string
	Details   map[string]any
}

// Record writes an event by a with q (a transaction's queries, so that it
// commits with the action). It fails only when the write fails.
func Record(ctx context.Context, q *gen.Queries, a Actor, action, target string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: encode details: %w", action, err)
	}
	err = q.InsertAuditEvent(ctx, gen.InsertAuditEventParams{
		ClientID: a.ClientID, Action: action, Target: target, RequestID: a.RequestID, Details: b})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// List returns up to limit events before beforeID (all when nil), newest
// first, and the cursor of the next page (nil on the last page).
func List(ctx context.Context, q *gen.Queries, beforeID *int64, limit int32) ([]Event, *int64, error) {
	rows, err := q.ListAuditEvents(ctx, gen.ListAuditEventsParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, fmt.Errorf("list audit events: %w", err)
	}
	var next *int64
	if len(rows) > int(limit) {
		rows = rows[:limit]
		next = &rows[len(rows)-1].ID
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, At: r.At, ClientID: r.ClientID, Action: r.Action, Target: r.Target,
			RequestID: r.RequestID, Details: map[string]any{}}
		if err := json.Unmarshal(r.Details, &out[i].Details); err != nil {
			return nil, nil, fmt.Errorf("audit event %d: details: %w", r.ID, err)
		}
	}
	return out, next, nil
}
