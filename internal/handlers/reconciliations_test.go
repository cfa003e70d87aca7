package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/reconcile"
	"mailsync/internal/testwait"
)

// newReconcileEnv is newEnv with a reconciler wired in.
func newReconcileEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOpts{})
}

// waitReconciliation polls GET path until the run is no longer running.
func (e *env) waitReconciliation(path string) map[string]any {
	e.t.Helper()
	var m map[string]any
	testwait.Until(e.t, time.Minute, "the reconciliation to finish", func() bool {
		r := e.do(http.MethodGet, path, "", nil)
		require.Equal(e.t, http.StatusOK, r.status, string(r.body))
		m = r.json(e.t)
		return m["status"] != "running"
	})
	return m
}

func TestReconciliationEndpoints(t *testing.T) {
	t.Parallel()
	e := newReconcileEnv(t)

	// Start one (no body: not a dry run), and follow its Location.
	r := e.do(http.MethodPost, "/v1/reconciliations", "", nil)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	started := r.json(t)
	require.Equal(t, "running", started["status"])
	require.Equal(t, "manual", started["trigger"])
	require.Equal(t, false, started["dry_run"])
	loc := r.header.Get("Location")
	require.Equal(t, "/v1/reconciliations/"+itoa(int(started["id"].(float64))), loc)
	done := e.waitReconciliation(loc)
	require.Equal(t, "completed", done["status"])
	require.NotNil(t, done["completed_at"])
	details := done["details"].(map[string]any)
	require.Equal(t, map[string]any{"missing_in_mongo": 0.0, "content_mismatch": 0.0, "orphan_in_mongo": 0.0, "status_drift": 0.0,
		"ahead_of_postgres": 0.0, "erased_but_present": 0.0, "blob_missing": 0.0, "blob_orphan": 0.0}, details["counts"])
	require.Equal(t, map[string]any{"missing_in_mongo": []any{}, "content_mismatch": []any{}, "orphan_in_mongo": []any{}, "status_drift": []any{},
		"ahead_of_postgres": []any{}, "erased_but_present": []any{}, "blob_missing": []any{}, "blob_orphan": []any{}}, details["samples"])
	require.Equal(t, map[string]any{"blob_missing": []any{}, "blob_orphan": []any{}}, details["blob_samples"])

	// A dry run.
	r = e.do(http.MethodPost, "/v1/reconciliations", "application/json", []byte(`{"dry_run": true}`))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, true, r.json(t)["dry_run"])
	e.waitReconciliation(r.header.Get("Location"))

	// While another instance runs one: 409 with its id.
	ctx := context.Background()
	conn, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, reconcile.LockKey)
	require.NoError(t, err)
	var running int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO reconciliation_reports (trigger) VALUES ('scheduled') RETURNING id`).Scan(&running))
	r = e.do(http.MethodPost, "/v1/reconciliations", "application/json", []byte(`{}`))
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Equal(t, float64(running), r.json(t)["running_id"])
	_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, reconcile.LockKey)
	require.NoError(t, err)

	// Newest first, paginated.
	r = e.do(http.MethodGet, "/v1/reconciliations?limit=2", "", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page := r.json(t)
	items := page["items"].([]any)
	require.Len(t, items, 2)
	require.Equal(t, float64(running), items[0].(map[string]any)["id"])
	cursor := page["next_cursor"].(string)
	r = e.do(http.MethodGet, "/v1/reconciliations?limit=2&cursor="+cursor, "", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page = r.json(t)
	require.Len(t, page["items"], 1)
	require.Equal(t, started["id"], page["items"].([]any)[0].(map[string]any)["id"])
	require.Nil(t, page["next_cursor"])

	// Errors.
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/reconciliations/999999", "", nil).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/v1/reconciliations?cursor=bogus", "", nil).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/v1/reconciliations", "application/json", []byte(`{"dry_run": "yes"}`)).status)
	require.Equal(t, http.StatusForbidden, e.do(http.MethodPost, "/v1/reconciliations", "", nil, "Authorization", "Bearer "+tokenRead).status)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/reconciliations", "", nil, "Authorization", "Bearer "+tokenRead).status)
}
