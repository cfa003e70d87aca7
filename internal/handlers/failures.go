package handlers

import (
	"context"
	"time"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/limits"
	"mailsync/internal/relay"
)

// The lengths, in characters, of the failure filters' texts beyond the
// mailbox (limits.Mailbox): as api/openapi.yaml states them.
const (
	clientIDFilterLimit = 255
	errorFilterLimit    = 1000
)

// failedFilter checks the failure filters shared by the list and the
// re-drive: a text that is not valid, too long, or (client_id, error)
// empty, or failed_after not before failed_before is an apperr Invalid
// naming the fields.
func failedFilter(mailbox, clientID, errText *string, before, after *time.Time) (relay.FailedFilter, error) {
	var bad []apperr.FieldError
	check := func(field string, v *string, max int, nonEmpty bool) {
		switch {
		case v == nil:
		case nonEmpty && *v == "":
			bad = append(bad, apperr.FieldError{Field: field, Message: "must not be empty"})
		default:
			if msg := limits.Text(*v, max); msg != "" {
				bad = append(bad, apperr.FieldError{Field: field, Message: msg})
			}
		}
	}
	check("mailbox", mailbox, limits.Mailbox, false)
	check("client_id", clientID, clientIDFilterLimit, true)
	check("error", errText, errorFilterLimit, true)
	if before != nil && after != nil && !after.Before(*before) {
		bad = append(bad, apperr.FieldError{Field: "failed_after", Message: "must be earlier than failed_before"})
	}
	if len(bad) > 0 {
		return relay.FailedFilter{}, &apperr.Error{Code: apperr.Invalid,
			Message: bad[0].Field + " " + bad[0].Message, Fields: bad}
	}
	return relay.FailedFilter{Mailbox: mailbox, ClientID: clientID, Error: errText,
		FailedBefore: before, FailedAfter: after}, nil
}

// ListSyncFailures lists the failed emails the filters select, with their
// last error.
func (h *Handlers) ListSyncFailures(ctx context.Context, req api.ListSyncFailuresRequestObject) (api.ListSyncFailuresResponseObject, error) {
	p := req.Params
	n, err := limit(p.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("f", p.Cursor)
	if err != nil {
		return nil, err
	}
	f, err := failedFilter(p.Mailbox, p.ClientId, p.Error, p.FailedBefore, p.FailedAfter)
	if err != nil {
		return nil, err
	}
	rows, next, err := h.cfg.Sync.Failures(ctx, f, before, n)
	if err != nil {
		return nil, err
	}
	items := make([]api.SyncFailure, len(rows))
	for i, r := range rows {
		items[i] = api.SyncFailure{EmailId: r.ID, ClientId: r.ClientID, MessageId: r.MessageID, Mailbox: r.Mailbox,
			SyncRetryCount: int64(r.SyncRetryCount), FailedAt: ptr(r.FailedAt), UpdatedAt: r.UpdatedAt}
		if r.SyncError != nil {
			items[i].SyncError = *r.SyncError
		}
	}
	return api.ListSyncFailures200JSONResponse{Items: items, NextCursor: encodeCursor("f", next)}, nil
}

// ListSyncFailureErrors groups the failed emails by the pattern of their
// last error.
func (h *Handlers) ListSyncFailureErrors(ctx context.Context, req api.ListSyncFailureErrorsRequestObject) (api.ListSyncFailureErrorsResponseObject, error) {
	n := int32(10)
	if l := req.Params.Limit; l != nil {
		if *l < 1 || *l > 100 {
			return nil, apperr.New(apperr.Malformed, "limit must be between 1 and 100")
		}
		n = *l
	}
	g, err := h.cfg.Sync.FailureGroups(ctx, n)
	if err != nil {
		return nil, err
	}
	out := api.SyncFailureErrors{Items: make([]api.SyncFailureErrorGroup, len(g.Groups)),
		Failed: g.Failed, Sampled: g.Sampled, Other: g.Sampled}
	for i, x := range g.Groups {
		out.Items[i] = api.SyncFailureErrorGroup{Error: x.Pattern, Count: x.Emails}
		out.Other -= x.Emails
	}
	return api.ListSyncFailureErrors200JSONResponse(out), nil
}

// RetrySyncFailures re-drives (or, as a dry run, counts) all or the
// filtered failed emails.
func (h *Handlers) RetrySyncFailures(ctx context.Context, req api.RetrySyncFailuresRequestObject) (api.RetrySyncFailuresResponseObject, error) {
	var b api.RetrySyncFailuresRequest
	if req.Body != nil {
		b = *req.Body
	}
	f, err := failedFilter(b.Mailbox, b.ClientId, b.Error, b.FailedBefore, b.FailedAfter)
	if err != nil {
		return nil, err
	}
	dry := b.DryRun != nil && *b.DryRun
	r, err := h.cfg.Sync.RetryFailed(ctx, f, dry, actor(ctx))
	if err != nil {
		return nil, err
	}
	return api.RetrySyncFailures202JSONResponse{Matched: r.Matched, Requeued: r.Requeued, DryRun: dry}, nil
}
