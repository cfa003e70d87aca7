package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFailedBeforeUsesTheFailureTime: an email stored before T that fails
// after T did not fail before T. failed_before filters on when it failed,
// and the failure list's updated_at moves with every update of the row.
func TestFailedBeforeUsesTheFailureTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	ctx := context.Background()
	created := e.postEmail("fb-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, created.status)
	id := strconv.Itoa(int(created.json(t)["id"].(float64)))
	e.waitStatus(id, "synced")
	_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '42' WHERE id = $1::bigint`, id) // refused by the relay
	require.NoError(t, err)

	var between time.Time // after the email was stored and changed, before it fails
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&between))
	require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/v1/emails/"+id+"/sync/retry", "", nil).status)
	e.waitStatus(id, "failed")

	items := e.do(http.MethodGet, "/v1/sync/failures", "", nil).json(t)["items"].([]any)
	require.Len(t, items, 1)
	item := items[0].(map[string]any)
	for _, field := range []string{"updated_at", "failed_at"} {
		at, err := time.Parse(time.RFC3339Nano, item[field].(string))
		require.NoError(t, err)
		require.True(t, at.After(between), "%s %s is not after %s", field, at, between)
	}

	body := []byte(`{"failed_before": "` + between.UTC().Format(time.RFC3339Nano) + `"}`)
	r := e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", body)
	require.Equal(t, http.StatusAccepted, r.status)
	require.EqualValues(t, 0, r.json(t)["requeued"], "it failed after failed_before")
	e.waitStatus(id, "failed")

	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	r = e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte(`{"failed_before": "`+later+`"}`))
	require.Equal(t, http.StatusAccepted, r.status)
	require.EqualValues(t, 1, r.json(t)["requeued"])
}
