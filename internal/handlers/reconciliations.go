package handlers

import (
	"context"

	"mailsync/internal/api"
)

// StartReconciliation starts a run; it answers 501 until reconciliation lands.
func (h *Handlers) StartReconciliation(context.Context, api.StartReconciliationRequestObject) (api.StartReconciliationResponseObject, error) {
	return api.StartReconciliation501ApplicationProblemPlusJSONResponse{NotImplementedApplicationProblemPlusJSONResponse: notImplementedProblem("reconciliation")}, nil
}

// ListReconciliations lists reports; it answers 501 until reconciliation lands.
func (h *Handlers) ListReconciliations(context.Context, api.ListReconciliationsRequestObject) (api.ListReconciliationsResponseObject, error) {
	return api.ListReconciliations501ApplicationProblemPlusJSONResponse{NotImplementedApplicationProblemPlusJSONResponse: notImplementedProblem("reconciliation")}, nil
}

// GetReconciliation returns a report; it answers 501 until reconciliation lands.
func (h *Handlers) GetReconciliation(context.Context, api.GetReconciliationRequestObject) (api.GetReconciliationResponseObject, error) {
	return api.GetReconciliation501ApplicationProblemPlusJSONResponse{NotImplementedApplicationProblemPlusJSONResponse: notImplementedProblem("reconciliation")}, nil
}

func notImplementedProblem(what string) api.NotImplementedApplicationProblemPlusJSONResponse {
	return api.NotImplementedApplicationProblemPlusJSONResponse{
		Type: problemType + "not_implemented", Title: "Not implemented", Status: 501,
		Detail: ptr(what + " is not implemented yet"),
	}
}
