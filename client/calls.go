package client

import (
	"context"
	"net/http"
)

// GetEmail returns the email with this id. A missing email is a
// *ProblemError with Status 404; an erased one 410.
func (c *Client) GetEmail(ctx context.Context, id EmailID) (*Email, error) {
	return decoded[Email](ctx, c, func() (*http.Request, error) { return NewGetEmailRequest(c.base, id) })
}

// SyncStatus returns the sync status: emails by state, the outbox and the
// relay (scope read).
func (c *Client) SyncStatus(ctx context.Context) (*SyncStatus, error) {
	return decoded[SyncStatus](ctx, c, func() (*http.Request, error) { return NewGetSyncStatusRequest(c.base) })
}

// Failures returns one page of the emails whose sync failed for good
// (params may be nil: the first page of the default size).
func (c *Client) Failures(ctx context.Context, params *ListSyncFailuresParams) (*SyncFailureList, error) {
	if params == nil {
		params = &ListSyncFailuresParams{}
	}
	return decoded[SyncFailureList](ctx, c, func() (*http.Request, error) { return NewListSyncFailuresRequest(c.base, params) })
}

// FailureErrors returns the failed emails grouped by their last error,
// largest groups first (params may be nil: the 10 largest).
func (c *Client) FailureErrors(ctx context.Context, params *ListSyncFailureErrorsParams) (*SyncFailureErrors, error) {
	if params == nil {
		params = &ListSyncFailureErrorsParams{}
	}
	return decoded[SyncFailureErrors](ctx, c, func() (*http.Request, error) { return NewListSyncFailureErrorsRequest(c.base, params) })
}

// RetryFailures re-drives the failed syncs that req's filters select
// (scope admin): how many matched and were re-enqueued. With req.DryRun
// set it only counts them (Requeued 0) and nothing changes.
func (c *Client) RetryFailures(ctx context.Context, req RetrySyncFailuresRequest) (*RetrySyncFailuresResult, error) {
	return decoded[RetrySyncFailuresResult](ctx, c, func() (*http.Request, error) { return NewRetrySyncFailuresRequest(c.base, req) })
}

// CreateErasure starts an erasure job under the Idempotency-Key key
// (required: ErrNoKey when empty; scope admin) and returns the job as
// accepted. Retrying with the same key returns the same job.
func (c *Client) CreateErasure(ctx context.Context, key string, req ErasureRequest) (*Erasure, error) {
	if key == "" {
		return nil, ErrNoKey
	}
	params := &StartErasureParams{IdempotencyKey: key}
	return decoded[Erasure](ctx, c, func() (*http.Request, error) { return NewStartErasureRequest(c.base, params, req) })
}
