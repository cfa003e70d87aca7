package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The status figures come from counters and partial indexes, not from
// counting the tables: they must still follow every change.
func TestSyncStatusAndMetricsFollowEveryChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for i := range 3 {
		require.Equal(t, http.StatusCreated, e.postEmail("c-"+itoa(i), sampleEmail(i)).status)
	}
	emails := func() map[string]any {
		return e.do(http.MethodGet, "/v1/sync/status", "", nil).json(t)["emails"].(map[string]any)
	}
	require.EqualValues(t, 3, emails()["pending"])
	require.Equal(t, 3.0, e.metric(`mailsync_emails{status="pending"}`))
	require.Equal(t, 3.0, e.metric(`mailsync_outbox_messages{state="pending"}`))

	// What the relay does when a message dies, then a re-drive.
	_, err := e.pool.Exec(context.Background(), `
		UPDATE outbox_messages SET failed_at = now() WHERE aggregate_id = (SELECT min(id) FROM incoming_emails);
		UPDATE incoming_emails SET sync_status = 'failed' WHERE id = (SELECT min(id) FROM incoming_emails);`)
	require.NoError(t, err)
	require.EqualValues(t, 1, emails()["failed"])
	require.EqualValues(t, 2, emails()["pending"])
	require.Equal(t, 1.0, e.metric(`mailsync_outbox_messages{state="failed"}`))
	failures := e.do(http.MethodGet, "/v1/sync/failures", "", nil).json(t)["items"].([]any)
	require.Len(t, failures, 1)

	r := e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte(`{}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.EqualValues(t, 0, emails()["failed"])
	require.EqualValues(t, 3, emails()["pending"])
	require.Equal(t, 3.0, e.metric(`mailsync_emails{status="pending"}`))
}

// An erased email is counted as erased once its document is gone, not as
// synced, in GET /v1/sync/status and in mailsync_emails{status}; the counts
// still add up to every row.
func TestSyncStatusCountsErasedEmailsApart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	var ids []string
	for i := range 2 {
		r := e.postEmail("erased-"+itoa(i), sampleEmail(i))
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		ids = append(ids, itoa(int(r.json(t)["id"].(float64))))
	}
	for _, id := range ids {
		e.waitStatus(id, "synced")
	}
	r := e.do(http.MethodDelete, "/v1/emails/"+ids[0], "", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	e.waitStatus(ids[0], "synced") // the relay removed its document

	emails := e.do(http.MethodGet, "/v1/sync/status", "", nil).json(t)["emails"].(map[string]any)
	require.EqualValues(t, 1, emails["erased"], "%v", emails)
	require.EqualValues(t, 1, emails["synced"], "the tombstone is not a synced email: %v", emails)
	require.EqualValues(t, 0, emails["pending"])
	require.Equal(t, 1.0, e.metric(`mailsync_emails{status="erased"}`))
	require.Equal(t, 1.0, e.metric(`mailsync_emails{status="synced"}`))
}
