package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db"
)

func TestAuditFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	insert := func(client, action, target string, at time.Time) {
		_, err := e.pool.Exec(ctx, `INSERT INTO audit_events (client_id, action, target, at) VALUES ($1, $2, $3, $4)`,
			client, action, target, at)
		require.NoError(t, err)
	}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	insert("ops", "email.erase", "email:1", day.Add(1*time.Hour))
	insert("ops", "email.patch", "email:1", day.Add(2*time.Hour))
	insert("alice", "email.patch", "email:2", day.Add(3*time.Hour))
	insert("scheduler", "reconciliation.start", "reconciliation:1", day.Add(26*time.Hour))
	insert("ops", "email.patch", "email:3", day.Add(27*time.Hour))

	targets := func(query string) []string {
		r := e.do(http.MethodGet, "/v1/audit?"+query, "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var out []string
		for _, it := range r.json(t)["items"].([]any) {
			ev := it.(map[string]any)
			out = append(out, fmt.Sprint(ev["seq"], " ", ev["target"]))
			require.Len(t, ev["hash"], 64, "the chain hash, hex")
		}
		return out
	}
	require.Equal(t, []string{"5 email:3", "4 reconciliation:1", "3 email:2", "2 email:1", "1 email:1"}, targets(""))
	require.Equal(t, []string{"5 email:3", "3 email:2", "2 email:1"}, targets("action=email.patch"))
	require.Equal(t, []string{"5 email:3", "2 email:1", "1 email:1"}, targets("client_id=ops"))
	require.Equal(t, []string{"2 email:1", "1 email:1"}, targets("target=email:1"))
	require.Equal(t, []string{"2 email:1"}, targets("target=email:1&action=email.patch&client_id=ops"))
	require.Equal(t, []string{"3 email:2", "2 email:1", "1 email:1"}, targets("before=2026-11-28T00:00:00Z"))
	require.Equal(t, []string{"5 email:3", "4 reconciliation:1"}, targets("after=2026-11-28T00:00:00Z"))
	require.Equal(t, []string{"3 email:2", "2 email:1"},
		targets("after="+url.QueryEscape("2026-11-27T02:00:00Z")+"&before="+url.QueryEscape("2026-11-27T03:00:00.000001Z")))
	require.Empty(t, targets("action=nothing.like.this"))

	// The cursor pages through the filtered list.
	r := e.do(http.MethodGet, "/v1/audit?client_id=ops&limit=2", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	next := r.json(t)["next_cursor"].(string)
	require.Equal(t, []string{"1 email:1"}, targets("client_id=ops&limit=2&cursor="+url.QueryEscape(next)))

	for _, bad := range []string{"after=yesterday", "before=2026-13-01T00:00:00Z",
		"after=2026-11-28T00:00:00Z&before=2026-11-27T00:00:00Z", "after=2026-11-28T00:00:00Z&before=2026-11-28T00:00:00Z"} {
		r := e.do(http.MethodGet, "/v1/audit?"+bad, "", nil)
		require.Equal(t, http.StatusBadRequest, r.status, bad+": "+string(r.body))
		require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	}
}

func TestAuditCheckpointsList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	skey, vkey, err := audit.GenerateKey("mailsync-audit")
	require.NoError(t, err)
	key, err := audit.ParseKey([]byte(skey))
	require.NoError(t, err)
	c := audit.NewCheckpointer(e.pool, &audit.CheckpointConfig{Key: key})

	r := e.do(http.MethodGet, "/v1/audit/checkpoints", "", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Empty(t, r.json(t)["items"])
	for i := 1; i <= 3; i++ {
		require.NoError(t, db.InTx(ctx, e.pool, func(q *db.Queries) error {
			return audit.Record(ctx, q, audit.Actor{ClientID: "ops"}, audit.ActionSyncRetry, fmt.Sprint("email:", i), nil)
		}))
		_, err := c.Checkpoint(ctx)
		require.NoError(t, err)
	}

	require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/v1/audit/checkpoints", "", nil, "Authorization", "Bearer "+tokenRead).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/v1/audit/checkpoints?cursor=nope", "", nil).status)
	r = e.do(http.MethodGet, "/v1/audit/checkpoints?limit=2", "", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	body := r.json(t)
	items := body["items"].([]any)
	require.Len(t, items, 2)
	newest := items[0].(map[string]any)
	require.EqualValues(t, 3, newest["seq"])
	require.Equal(t, "mailsync-audit", newest["key_name"])
	require.Len(t, newest["hash"], 64)

	// The note as served verifies with the verifier key, off the host.
	v, err := audit.ParseVerifiers([]byte(vkey))
	require.NoError(t, err)
	s, err := audit.OpenCheckpoint([]byte(newest["note"].(string)), v)
	require.NoError(t, err)
	require.EqualValues(t, 3, s.Seq)

	r = e.do(http.MethodGet, "/v1/audit/checkpoints?limit=2&cursor="+url.QueryEscape(body["next_cursor"].(string)), "", nil)
	require.Equal(t, http.StatusOK, r.status)
	last := r.json(t)
	require.Len(t, last["items"], 1)
	require.EqualValues(t, 1, last["items"].([]any)[0].(map[string]any)["seq"])
	require.Nil(t, last["next_cursor"])
}
