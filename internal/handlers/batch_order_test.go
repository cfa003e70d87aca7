package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Two batches carrying the same keys in opposite order, sent at once, used
// to deadlock in PostgreSQL and answer one of them with a 500.
func TestBatchesWithSameKeysInOppositeOrderNeverFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{requestTimeout: slowRequestTimeout})
	const rounds, keys = 6, 250
	for round := range rounds {
		fwd, rev := make([]map[string]any, keys), make([]map[string]any, keys)
		for i := range keys {
			item := map[string]any{"idempotency_key": fmt.Sprintf("r%d-%03d", round, i), "email": sampleEmail(round*keys + i)}
			fwd[i], rev[keys-1-i] = item, item
		}
		var wg sync.WaitGroup
		out := make([]response, 2)
		for j, items := range [][]map[string]any{fwd, rev} {
			b, err := json.Marshal(map[string]any{"emails": items})
			require.NoError(t, err)
			wg.Go(func() { out[j] = e.do(http.MethodPost, "/v1/emails/batch", "application/json", b) })
		}
		wg.Wait()
		for _, r := range out {
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			var res struct {
				Results []struct {
					Status int `json:"status"`
				} `json:"results"`
			}
			require.NoError(t, json.Unmarshal(r.body, &res))
			for _, item := range res.Results {
				require.Equal(t, http.StatusCreated, item.Status)
			}
		}
	}
	require.Equal(t, rounds*keys, e.count(`SELECT count(*) FROM incoming_emails`))
}

// Replays answer from the cached bytes: Location still names the email, and
// a batch item repeating a single request's key embeds the same email.
func TestReplaysServeTheCachedEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	first := e.postEmail("cached-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	again := e.postEmail("cached-1", sampleEmail(1))
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.header.Get("Location"), again.header.Get("Location"))
	require.Equal(t, first.body, again.body)

	b, err := json.Marshal(map[string]any{"emails": []map[string]any{{"idempotency_key": "cached-1", "email": sampleEmail(1)}}})
	require.NoError(t, err)
	batch := e.do(http.MethodPost, "/v1/emails/batch", "application/json", b)
	require.Equal(t, http.StatusOK, batch.status, string(batch.body))
	var res struct {
		Results []struct {
			Status   int             `json:"status"`
			Replayed bool            `json:"replayed"`
			Email    json.RawMessage `json:"email"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(batch.body, &res))
	require.Len(t, res.Results, 1)
	require.Equal(t, http.StatusCreated, res.Results[0].Status)
	require.True(t, res.Results[0].Replayed)
	require.JSONEq(t, string(first.body), string(res.Results[0].Email))
}
