package client

import (
	"context"
	"net/http"
)

// StartReconciliation starts a reconciliation run of PostgreSQL against
// MongoDB (scope admin) and returns it as accepted, with status running.
// A run already in progress is a *ProblemError with Status 409 (not
// retried). With req.DryRun it reports mismatches without repairing them.
func (c *Client) StartReconciliation(ctx context.Context, req ReconciliationRequest) (*Reconciliation, error) {
	return decoded[Reconciliation](ctx, c, func() (*http.Request, error) { return NewStartReconciliationRequest(c.base, req) })
}

// GetReconciliation returns the report of one reconciliation run (scope
// admin).
func (c *Client) GetReconciliation(ctx context.Context, id ReconciliationID) (*Reconciliation, error) {
	return decoded[Reconciliation](ctx, c, func() (*http.Request, error) { return NewGetReconciliationRequest(c.base, id) })
}
