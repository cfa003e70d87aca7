package handlers

import (
	"context"

	"mailsync/internal/api"
	"mailsync/internal/db"
	"mailsync/internal/email"
)

// GetEmailSync returns an email's sync state and outbox history.
func (h *Handlers) GetEmailSync(ctx context.Context, req api.GetEmailSyncRequestObject) (api.GetEmailSyncResponseObject, error) {
	d, err := h.cfg.Sync.Detail(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	out := api.SyncDetail{
		EmailId: d.Email.ID, SyncStatus: api.EmailSyncStatus(d.Email.SyncStatus), SyncError: d.Email.SyncError,
		SyncRetryCount: int64(d.Email.SyncRetryCount), SyncedAt: d.Email.SyncedAt, Version: d.Email.Version,
		Outbox: make([]api.OutboxEntry, len(d.Outbox)),
	}
	for i, o := range d.Outbox {
		out.Outbox[i] = api.OutboxEntry{
			Id: o.ID, Operation: o.Operation, CreatedAt: o.CreatedAt, ProcessedAt: o.ProcessedAt,
			FailedAt: o.FailedAt, RetryCount: int64(o.RetryCount), MaxRetries: int64(o.MaxRetries),
			LockedUntil: o.LockedUntil, ErrorMessage: o.ErrorMessage,
		}
		if o.ProcessedAt == nil && o.FailedAt == nil {
			next := o.NextAttemptAt
			out.Outbox[i].NextAttemptAt = &next
			if out.NextAttemptAt == nil || next.Before(*out.NextAttemptAt) {
				out.NextAttemptAt = &next
			}
		}
	}
	return api.GetEmailSync200JSONResponse(out), nil
}

// RetryEmailSync re-enqueues one email.
func (h *Handlers) RetryEmailSync(ctx context.Context, req api.RetryEmailSyncRequestObject) (api.RetryEmailSyncResponseObject, error) {
	if err := h.cfg.Sync.Retry(ctx, req.Id, actor(ctx)); err != nil {
		return nil, err
	}
	return api.RetryEmailSync202JSONResponse{Requeued: 1}, nil
}

// GetSyncStatus is the summary dashboards poll.
func (h *Handlers) GetSyncStatus(ctx context.Context, _ api.GetSyncStatusRequestObject) (api.GetSyncStatusResponseObject, error) {
	s, err := h.cfg.Sync.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := api.SyncStatus{
		Emails: api.SyncStatusEmails{
			Pending: s.Emails[email.StatusPending], Synced: s.Emails[email.StatusSynced],
			Failed: s.Emails[email.StatusFailed], NotApplicable: s.Emails[email.StatusNotApplicable],
			Erased: s.Emails[db.CountErased],
		},
		Outbox: api.SyncStatusOutbox{
			Pending: s.Outbox.Pending, InFlight: s.Outbox.InFlight, Failed: s.Outbox.Failed,
			OldestPendingAgeSeconds: s.Outbox.OldestPendingAgeSeconds,
		},
		Relay: api.SyncStatusRelay{Workers: int64(s.Workers), SyncedLastMinute: s.SyncedLastMinute,
			Paused: s.Control.Paused, PausedSince: s.Control.PausedSince, PausedBy: s.Control.PausedBy},
	}
	out.Blobs = &struct {
		Mongodb    api.BlobCount `json:"mongodb"`
		Postgresql api.BlobCount `json:"postgresql"`
	}{Mongodb: api.BlobCount{Count: s.Blobs.MongoBlobs, Bytes: s.Blobs.MongoBytes},
		Postgresql: api.BlobCount{Count: s.Blobs.PostgresBlobs, Bytes: s.Blobs.PostgresBytes}}
	if r := s.LastReport; r != nil {
		out.LastReconciliation = &api.ReconciliationSummary{
			Id: r.ID, Status: api.ReconciliationStatus(r.Status), MismatchesFound: r.MismatchesFound, CompletedAt: r.CompletedAt,
		}
	}
	return api.GetSyncStatus200JSONResponse(out), nil
}
