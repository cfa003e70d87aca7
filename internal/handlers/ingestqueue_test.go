package handlers_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/ingest"
	"mailsync/internal/testwait"
)

// TestIngestQueueFullRefusesBeforeTheBodyIsRead: with the group-commit
// queue full (one request, stuck behind a key lock PostgreSQL holds), the
// next POST /v1/emails gets 503 + Retry-After while its body is still
// being sent, and nothing of it is stored; once the database moves, the
// stuck request is stored and the refused one, retried, is stored too.
func TestIngestQueueFullRefusesBeforeTheBodyIsRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{ingest: func(c *ingest.Config) { c.QueueMax, c.GroupInFlight = 1, 1 }})
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO idempotency_keys (client_id, key, request_fingerprint, status, expires_at)
		VALUES ('ops', 'blocker', 'x', 'in_progress', now() + interval '1 day')`)
	require.NoError(t, err)
	var once sync.Once
	release := func() { once.Do(func() { require.NoError(t, tx.Rollback(ctx)) }) }
	t.Cleanup(release)

	stuck := make(chan response, 1)
	go func() { stuck <- e.with(t).postEmail("blocker", sampleEmail(1)) }()
	testwait.Until(t, 10*time.Second, "the request to wait on the key lock", func() bool {
		return e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
	})

	body := bigEmail(t, 2, 10_000)
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/emails", pr)
	require.NoError(t, err)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tokenAll)
	req.Header.Set("Idempotency-Key", "refused")
	answered := make(chan response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- response{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- response{status: resp.StatusCode, header: resp.Header, body: b}
	}()
	_, err = pw.Write(body[:len(body)/2]) // the rest is never sent while it waits
	require.NoError(t, err)
	select {
	case r := <-answered:
		require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
		require.NotEmpty(t, r.header.Get("Retry-After"))
		require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not refused while its body was unsent (its body is being read)")
	}
	require.Zero(t, e.count("SELECT count(*) FROM idempotency_keys WHERE key = 'refused'"))

	release()
	require.Equal(t, http.StatusCreated, (<-stuck).status)
	// The blocker's room is given back just after its answer is written, so
	// the retry, like a real client's, tries again while it gets a 503.
	var r response
	testwait.Until(t, 10*time.Second, "the retry to get past the queue", func() bool {
		r = e.do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", "refused")
		return r.status != http.StatusServiceUnavailable
	})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Equal(t, 2, e.count("SELECT count(*) FROM incoming_emails"))
}
