package handlers_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// metric returns the value of the first sample of name (with labels, if
// given as part of name) in the /metrics exposition.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	r := e.do(http.MethodGet, "/metrics", "", nil)
	require.Equal(e.t, http.StatusOK, r.status)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+-]+)$`).FindSubmatch(r.body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(e.t, err)
	return v
}

func (e *env) waitStatus(id, status string) {
	e.t.Helper()
	testwait.Until(e.t, time.Minute, "email "+id+" to become "+status, func() bool {
		var got string
		require.NoError(e.t, e.pool.QueryRow(context.Background(), `SELECT sync_status FROM incoming_emails WHERE id = $1::bigint`, id).Scan(&got))
		return got == status
	})
}

func TestSyncEndpointsAndMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	require.Zero(t, e.metric("mailsync_emails_ingested_total"))
	created := e.postEmail("s-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, created.status)
	id := strconv.Itoa(int(created.json(t)["id"].(float64)))
	e.postEmail("s-1", sampleEmail(1))
	e.waitStatus(id, "synced")

	require.Equal(t, 1.0, e.metric("mailsync_emails_ingested_total"))
	require.Equal(t, 1.0, e.metric("mailsync_idempotent_replays_total"))
	require.Equal(t, 1.0, e.metric("mailsync_relay_documents_written_total"))
	require.Equal(t, 0.0, e.metric(`mailsync_outbox_messages{state="pending"}`))
	require.Positive(t, e.metric(`mailsync_http_requests_total{method="POST",route="/v1/emails",status="201"}`))

	detail := e.do(http.MethodGet, "/v1/emails/"+id+"/sync", "", nil)
	require.Equal(t, http.StatusOK, detail.status)
	d := detail.json(t)
	require.Equal(t, "synced", d["sync_status"])
	require.NotNil(t, d["synced_at"])
	require.Len(t, d["outbox"], 1)

	status := e.do(http.MethodGet, "/v1/sync/status", "", nil).json(t)
	require.EqualValues(t, 1, status["emails"].(map[string]any)["synced"])
	require.EqualValues(t, 2, status["relay"].(map[string]any)["workers"])
	require.EqualValues(t, 1, status["relay"].(map[string]any)["synced_last_minute"])
	require.Contains(t, status, "last_reconciliation")

	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/emails/424242/sync", "", nil).status)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/v1/emails/424242/sync/retry", "", nil).status)
}

func TestRetryMovesFailedEmailBackToSynced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		r := e.postEmail("f-"+itoa(i), sampleEmail(i))
		ids = append(ids, strconv.Itoa(int(r.json(t)["id"].(float64))))
	}
	for _, id := range ids {
		e.waitStatus(id, "synced")
	}
	// Make two of them fail for good: a corrupt row is refused at once.
	_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '42' WHERE id = ANY($1::bigint[])`, ids[:2])
	require.NoError(t, err)
	for _, id := range ids[:2] {
		require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/v1/emails/"+id+"/sync/retry", "", nil).status)
		e.waitStatus(id, "failed")
	}
	failures := e.do(http.MethodGet, "/v1/sync/failures", "", nil).json(t)
	require.Len(t, failures["items"], 2)
	require.NotEmpty(t, failures["items"].([]any)[0].(map[string]any)["sync_error"])
	require.Equal(t, 2.0, e.metric("mailsync_relay_dead_letters_total"))

	// The operator fixes the data and re-drives one, then all.
	_, err = e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '{}' WHERE id = ANY($1::bigint[])`, ids[:2])
	require.NoError(t, err)
	r := e.do(http.MethodPost, "/v1/emails/"+ids[0]+"/sync/retry", "", nil)
	require.Equal(t, http.StatusAccepted, r.status)
	require.EqualValues(t, 1, r.json(t)["requeued"])
	e.waitStatus(ids[0], "synced")
	all := e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte(`{}`))
	require.Equal(t, http.StatusAccepted, all.status)
	require.EqualValues(t, 1, all.json(t)["requeued"])
	e.waitStatus(ids[1], "synced")
	require.Empty(t, e.do(http.MethodGet, "/v1/sync/failures", "", nil).json(t)["items"])
	outbox := e.do(http.MethodGet, "/v1/sync/status", "", nil).json(t)["outbox"].(map[string]any)
	require.EqualValues(t, 0, outbox["failed"], "re-driven dead letters are no longer counted")
}
