package handlers_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// TestErasureDuringARetryAfterTheKeyExpiredLeavesNoContent is finding 3: a
// retry whose key record had expired read the email without a lock, an
// erasure committed meanwhile, and the retry's new key record kept a copy
// of the erased email's body and replayed it for the whole TTL. The retry
// is held (by a trigger waiting on an advisory lock) after it read the
// email and before it commits; the erasure is requested meanwhile. Now the
// erasure waits for the retry's row lock, the key record holds no content,
// and the next retry is a 410. (Failed before: the next retry replayed the
// erased email with 200.)
func TestErasureDuringARetryAfterTheKeyExpiredLeavesNoContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	body := sampleEmail(3)
	body["subject"] = "Secret subject 3"
	id := e.create("f3", body)
	// The key record expired and retention deleted it.
	_, err := e.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = 'f3'`)
	require.NoError(t, err)

	hold, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer hold.Release()
	_, err = hold.Exec(ctx, `SELECT pg_advisory_lock(4242)`)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `CREATE FUNCTION hold_key_update() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$;
		CREATE TRIGGER hold_key_update BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION hold_key_update()`)
	require.NoError(t, err)
	waiting := func() int {
		return e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
	}

	b, err := json.Marshal(body)
	require.NoError(t, err)
	retried := e.send(http.MethodPost, "/v1/emails", b, "Idempotency-Key", "f3")
	testwait.Until(t, time.Minute, "the retry to read the email and wait", func() bool { return waiting() == 1 })
	erased := e.send(http.MethodDelete, "/v1/emails/"+itoa(int(id)), nil)
	testwait.Until(t, time.Minute, "the erasure to finish or to wait for the retry", func() bool {
		return len(erased) == 1 || waiting() == 2
	})
	_, err = hold.Exec(ctx, `SELECT pg_advisory_unlock(4242)`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, (<-retried).status)
	require.Equal(t, http.StatusOK, (<-erased).status)

	again := e.postEmail("f3", body)
	require.Equal(t, http.StatusGone, again.status, string(again.body))
	require.NotContains(t, string(again.body), "Secret")
	require.Empty(t, keyRecordsHolding(t, e, "Secret"), "no idempotency record holds the erased content")
}

// TestRetryAfterTheKeyExpiredAndAPatchIsTheSameRequest is finding 10: the
// identical retry of an email's original request, after its key record
// expired and a PATCH changed the email, was refused as "key reused" (the
// content hash had changed), so server deliver exited 65 and the MTA
// bounced a message that is stored. A retry is matched by its request
// fingerprint, kept with the email. (Failed before: 422.)
func TestRetryAfterTheKeyExpiredAndAPatchIsTheSameRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	body := sampleEmail(10)
	id := e.create("f10", body)
	raw := "Message-ID: <f10@raw.test>\r\nFrom: a@example.com\r\nTo: b@example.com\r\nSubject: raw\r\n\r\nHello\r\n" // no Date
	r := e.do(http.MethodPost, "/v1/emails", "message/rfc822", []byte(raw), "Idempotency-Key", "f10-raw", "Mailsync-Mailbox", "in")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	rawID := int64(r.json(t)["id"].(float64))
	require.Equal(t, http.StatusOK, e.patch(id, `"1"`, `{"mailbox": "billing", "labels": ["done"]}`).status)
	require.Equal(t, http.StatusOK, e.patch(rawID, `"1"`, `{"mailbox": "archive"}`).status)
	_, err := e.pool.Exec(ctx, `DELETE FROM idempotency_keys`) // expired, and removed by retention
	require.NoError(t, err)

	r = e.postEmail("f10", body)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	got := r.json(t)
	require.EqualValues(t, id, got["id"])
	require.Equal(t, "billing", got["mailbox"], "the email as it is now")
	r = e.do(http.MethodPost, "/v1/emails", "message/rfc822", []byte(raw), "Idempotency-Key", "f10-raw", "Mailsync-Mailbox", "in")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.EqualValues(t, rawID, r.json(t)["id"])
	// Also within the new key record's life, and in a batch.
	require.Equal(t, http.StatusOK, e.postEmail("f10", body).status)
	batch := e.do(http.MethodPost, "/v1/emails/batch", "application/json",
		[]byte(`{"emails": [{"idempotency_key": "f10", "email": `+string(mustJSON(t, body))+`}]}`))
	require.EqualValues(t, 200, batch.json(t)["results"].([]any)[0].(map[string]any)["status"], string(batch.body))

	// A different request under the key is still refused.
	_, err = e.pool.Exec(ctx, `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, e.postEmail("f10", sampleEmail(11)).status)
	r = e.do(http.MethodPost, "/v1/emails", "message/rfc822", []byte(raw), "Idempotency-Key", "f10-raw", "Mailsync-Mailbox", "other")
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	require.Equal(t, 2, e.count(`SELECT count(*) FROM incoming_emails`))
}

// send sends a request (with the all-scopes key) from another goroutine;
// the channel receives its response.
func (e *env) send(method, path string, body []byte, headers ...string) chan response {
	out := make(chan response, 1)
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+tokenAll)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- response{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- response{status: resp.StatusCode, header: resp.Header, body: b}
	}()
	return out
}

// keyRecordsHolding returns the idempotency records any of whose columns
// holds text (bytea columns decoded), as JSON.
func keyRecordsHolding(t *testing.T, e *env, text string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT to_jsonb(k) FROM idempotency_keys k`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var rec map[string]any
		require.NoError(t, rows.Scan(&rec))
		for _, v := range rec {
			s, _ := v.(string)
			if b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`)); err == nil && strings.HasPrefix(s, `\x`) {
				s = string(b)
			}
			if strings.Contains(s, text) {
				j, _ := json.Marshal(rec)
				out = append(out, string(j))
				break
			}
		}
	}
	require.NoError(t, rows.Err())
	return out
}
