package handlers

import (
	"context"

	"mailsync/internal/api"
	"mailsync/internal/reconcile"
)

// StartReconciliation starts a run in the background: 202 with the running
// report and its Location. While a run holds the lock the reconciler's
// apperr RunInProcess becomes a 409 problem with running_id. Without a
// configured reconciler it answers 501.
func (h *Handlers) StartReconciliation(ctx context.Context, req api.StartReconciliationRequestObject) (api.StartReconciliationResponseObject, error) {
	if h.cfg.Reconciler == nil {
		return api.StartReconciliation501ApplicationProblemPlusJSONResponse{NotImplementedApplicationProblemPlusJSONResponse: notImplementedProblem("reconciliation")}, nil
	}
	dryRun := req.Body != nil && req.Body.DryRun != nil && *req.Body.DryRun
	rep, err := h.cfg.Reconciler.StartRun(ctx, dryRun, actor(ctx))
	if err != nil {
		return nil, err
	}
	return api.StartReconciliation202JSONResponse{
		Body:    toAPIReconciliation(rep),
		Headers: api.StartReconciliation202ResponseHeaders{Location: "/v1/reconciliations/" + itoa(rep.ID)},
	}, nil
}

// ListReconciliations lists reports newest first, keyset-paginated.
func (h *Handlers) ListReconciliations(ctx context.Context, req api.ListReconciliationsRequestObject) (api.ListReconciliationsResponseObject, error) {
	if h.cfg.Reconciler == nil {
		return api.ListReconciliations501ApplicationProblemPlusJSONResponse{NotImplementedApplicationProblemPlusJSONResponse: notImplementedProblem("reconciliation")}, nil
	}
	n, err := limit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("r", req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	reps, next, err := h.cfg.Reconciler.List(ctx, before, n)
	if err != nil {
		return nil, err
	}
	items := make([]api.Reconciliation, len(reps))
	for i, r := range reps {
		items[i] = toAPIReconciliation(r)
	}
	return api.ListReconciliations200JSONResponse{Items: items, NextCursor: encodeCursor("r", next)}, nil
}

// GetReconciliation returns one report with its details; an unknown id is 404.
func (h *Handlers) GetReconciliation(ctx context.Context, req api.GetReconciliationRequestObject) (api.GetReconciliationResponseObject, error) {
	if h.cfg.Reconciler == nil {
		return api.GetReconciliation501ApplicationProblemPlusJSONResponse{NotImplementedApplicationProblemPlusJSONResponse: notImplementedProblem("reconciliation")}, nil
	}
	rep, err := h.cfg.Reconciler.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetReconciliation200JSONResponse(toAPIReconciliation(rep)), nil
}

// toAPIReconciliation maps a report to the response schema.
func toAPIReconciliation(r reconcile.Report) api.Reconciliation {
	c, s := r.Details.Counts, r.Details.Samples
	d := api.ReconciliationDetails{
		Counts: api.ReconciliationCounts{MissingInMongo: c.MissingInMongo, ContentMismatch: c.ContentMismatch,
			OrphanInMongo: c.OrphanInMongo, StatusDrift: c.StatusDrift, AheadOfPostgres: c.AheadOfPostgres,
			ErasedButPresent: c.ErasedButPresent, BlobMissing: c.BlobMissing, BlobOrphan: c.BlobOrphan},
		Samples: api.ReconciliationSamples{MissingInMongo: s.MissingInMongo, ContentMismatch: s.ContentMismatch,
			OrphanInMongo: s.OrphanInMongo, StatusDrift: s.StatusDrift, AheadOfPostgres: s.AheadOfPostgres,
			ErasedButPresent: s.ErasedButPresent, BlobMissing: s.BlobMissing, BlobOrphan: s.BlobOrphan},
	}
	d.BlobSamples.BlobMissing = r.Details.BlobSamples["blob_missing"]
	d.BlobSamples.BlobOrphan = r.Details.BlobSamples["blob_orphan"]
	return api.Reconciliation{
		Id: r.ID, RunAt: r.RunAt, CompletedAt: r.CompletedAt, Trigger: api.ReconciliationTrigger(r.Trigger),
		DryRun: r.DryRun, Status: api.ReconciliationStatus(r.Status), RecordsChecked: r.RecordsChecked,
		MismatchesFound: r.MismatchesFound, AutoRepaired: r.AutoRepaired, FailedRepairs: r.FailedRepairs,
		ErrorMessage: r.ErrorMessage,
		Details:      d,
	}
}

func notImplementedProblem(what string) api.NotImplementedApplicationProblemPlusJSONResponse {
	return api.NotImplementedApplicationProblemPlusJSONResponse{
		Type: problemType + "not_implemented", Title: "Not implemented", Status: 501,
		Detail: ptr(what + " is not configured on this server"),
	}
}
