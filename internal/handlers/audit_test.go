package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuditTrailListsAdminActionsWithCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	id := e.create("a-1", sampleEmail(1))
	e.waitSynced(id)
	path := "/v1/emails/" + itoa(int(id))

	require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, path+"/sync/retry", "", nil, "X-Request-Id", "req-retry").status)
	require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte(`{}`)).status)
	require.Equal(t, http.StatusOK, e.patch(id, `"1"`, `{"labels": ["x"]}`).status)
	rec := e.do(http.MethodPost, "/v1/reconciliations", "application/json", []byte(`{"dry_run": true}`))
	require.Equal(t, http.StatusAccepted, rec.status)
	e.waitReconciliation(rec.header.Get("Location"))

	require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/v1/audit", "", nil, "Authorization", "Bearer "+tokenRead).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/v1/audit?cursor=nope", "", nil).status)

	var actions []string
	var ids []float64
	page := "/v1/audit?limit=3"
	for pages := 0; page != ""; pages++ {
		require.Less(t, pages, 3)
		r := e.do(http.MethodGet, page, "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		body := r.json(t)
		for _, it := range body["items"].([]any) {
			ev := it.(map[string]any)
			actions = append(actions, ev["action"].(string))
			ids = append(ids, ev["id"].(float64))
			require.Equal(t, "ops", ev["client_id"])
			if ev["action"] == "sync.retry" {
				require.Equal(t, "req-retry", ev["request_id"])
				require.Equal(t, "email:"+itoa(int(id)), ev["target"])
			}
		}
		page = ""
		if c, ok := body["next_cursor"].(string); ok {
			page = "/v1/audit?limit=3&cursor=" + url.QueryEscape(c)
		}
	}
	require.Equal(t, []string{"reconciliation.start", "email.patch", "sync.retry_failed", "sync.retry"}, actions)
	require.Greater(t, ids[0], ids[3], "newest first")
}
