// Package audit records who did what to which resource (audit_events) and
// lists the trail. Events are written with the queries of the transaction
// that does the action, so an action and its record commit together.
//
// The trail is a hash chain: the database gives every event, as it is
// inserted, its place (seq) and a hash over its fields and the previous
// event's hash, under a lock that keeps the chain linear. Verify recomputes
// the chain and checks the signed checkpoints of its head (Checkpointer),
// and names the first event that was changed, inserted or deleted.
package audit

import (
	"context"
	"fmt"

	"mailsync/internal/db"
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
	ActionRelayPause          = "relay.pause"
	ActionRelayResume         = "relay.resume"
)

// The client_id of background actors.
const (
	// RetentionActor is what the retention service does.
	RetentionActor = "retention"
	// SchedulerActor starts scheduled reconciliations.
	SchedulerActor = "scheduler"
	// CommandLineActor is an operator's server command (server reconcile).
	CommandLineActor = "cli"
)

// Actor is who acts: the API client and the request id ("" for background
// work).
type Actor struct {
	ClientID  string
	RequestID string
}

// Event is one audit record (see db.AuditEvent).
type Event = db.AuditEvent

// Record writes an event by a with q (a transaction's queries, so that it
// commits with the action). Appending takes the chain's lock until the
// transaction ends, so call Record last in the transaction, after the
// action's own writes. It fails only when the write fails; the error names
// the action.
func Record(ctx context.Context, q *db.Queries, a Actor, action, target string, details map[string]any) error {
	err := q.InsertAuditEvent(ctx, db.AuditEvent{ClientID: a.ClientID, Action: action, Target: target,
		RequestID: a.RequestID, Details: details})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Filter narrows List (see db.AuditFilter); the zero Filter matches all.
type Filter = db.AuditFilter

// List returns up to limit events matching f before beforeID (all when
// nil), newest first, and the cursor of the next page (nil on the last
// page). Errors are those of db.Queries.ListAuditEvents.
func List(ctx context.Context, q *db.Queries, f Filter, beforeID *int64, limit int32) ([]Event, *int64, error) {
	return q.ListAuditEvents(ctx, f, beforeID, limit)
}

// Checkpoint is a signed checkpoint of the chain (see Checkpointer).
type Checkpoint = db.AuditCheckpoint

// Checkpoints returns up to limit checkpoints before beforeID (all when
// nil), newest first, and the cursor of the next page (nil on the last
// page). Errors are those of db.Queries.ListAuditCheckpoints.
func Checkpoints(ctx context.Context, q *db.Queries, beforeID *int64, limit int32) ([]Checkpoint, *int64, error) {
	return q.ListAuditCheckpoints(ctx, beforeID, limit)
}
