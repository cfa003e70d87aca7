package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/client"
)

// TestFailureFiltersReachTheServer: the re-drive's filters, its dry run and
// the failure groups travel as the API defines them; a refused filter is a
// typed 422 problem.
func TestFailureFiltersReachTheServer(t *testing.T) {
	t.Parallel()
	c, err := client.New(&client.Config{BaseURL: serve(t), Token: token})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	mailbox, errText, clientID := "support", "document failed validation", "ops"
	after, before := time.Now().Add(-time.Hour), time.Now()
	dry := true
	res, err := c.RetryFailures(ctx, client.RetrySyncFailuresRequest{Mailbox: &mailbox, Error: &errText, ClientId: &clientID,
		FailedAfter: &after, FailedBefore: &before, DryRun: &dry})
	require.NoError(t, err)
	require.Equal(t, client.RetrySyncFailuresResult{Matched: 0, Requeued: 0, DryRun: true}, *res)

	list, err := c.Failures(ctx, &client.ListSyncFailuresParams{Mailbox: &mailbox, Error: &errText, ClientId: &clientID,
		FailedAfter: &after, FailedBefore: &before})
	require.NoError(t, err)
	require.Empty(t, list.Items)

	groups, err := c.FailureErrors(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, groups.Items)
	require.Zero(t, groups.Failed)

	// failed_after not before failed_before: refused, on both calls.
	_, err = c.RetryFailures(ctx, client.RetrySyncFailuresRequest{FailedAfter: &before, FailedBefore: &after})
	var pe *client.ProblemError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 422, pe.Status)
	require.Contains(t, pe.Detail, "failed_after")
	_, err = c.Failures(ctx, &client.ListSyncFailuresParams{FailedAfter: &before, FailedBefore: &after})
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 422, pe.Status)
}
