package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// bigEmail is a JSON email body of about size bytes (nearly all text_body).
func bigEmail(t *testing.T, n, size int) []byte {
	t.Helper()
	m := sampleEmail(n)
	m["text_body"] = strings.Repeat("x", size)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// heldUpload is a POST /v1/emails whose body is half sent.
type heldUpload struct {
	pw   *io.PipeWriter
	body []byte
	done chan response
}

// holdUploads starts n big uploads and sends half of each body.
func holdUploads(t *testing.T, e *env, n, size int) []heldUpload {
	var hs []heldUpload
	for i := range n {
		body := bigEmail(t, i, size)
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, e.url+"/v1/emails", pr)
		require.NoError(t, err)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokenAll)
		req.Header.Set("Idempotency-Key", "held-"+itoa(i))
		h := heldUpload{pw: pw, body: body, done: make(chan response, 1)}
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				h.done <- response{status: -1, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			h.done <- response{status: resp.StatusCode, header: resp.Header, body: b}
		}()
		_, err = pw.Write(body[:len(body)/2])
		require.NoError(t, err)
		hs = append(hs, h)
	}
	want := 0.0
	for _, h := range hs {
		want += float64(len(h.body))
	}
	testwait.Until(t, 10*time.Second, "the held uploads to be admitted", func() bool {
		return e.metric("mailsync_http_inflight_body_bytes") == want
	})
	return hs
}

// finish sends the rest of each held body and requires 201.
func finish(t *testing.T, hs []heldUpload) {
	for _, h := range hs {
		_, err := h.pw.Write(h.body[len(h.body)/2:])
		require.NoError(t, err)
		require.NoError(t, h.pw.Close())
		r := <-h.done
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
	}
}

// TestInflightBodyBoundWaitsForRoom holds two big uploads in flight (their
// bodies half sent), which fill the bound. Three more big uploads sent at
// the same time wait for room with their bodies unread: the bytes in
// flight stay those of the two held ones while three wait. Once the held
// ones finish, the three are admitted and stored.
func TestInflightBodyBoundWaitsForRoom(t *testing.T) {
	t.Parallel()
	const size = 300_000
	e := newEnv(t, envOpts{inflight: 2*size + 50_000, requestTimeout: slowRequestTimeout})
	hs := holdUploads(t, e, 2, size)
	held := e.metric("mailsync_http_inflight_body_bytes")

	waited := make([]response, 3)
	var wg sync.WaitGroup
	for i := range waited {
		wg.Go(func() {
			waited[i] = e.with(t).do(http.MethodPost, "/v1/emails", "application/json", bigEmail(t, 10+i, size),
				"Idempotency-Key", "waited-"+itoa(i))
		})
	}
	testwait.Until(t, 10*time.Second, "three uploads to wait for room", func() bool {
		return e.metric("mailsync_inflight_body_waiting") == 3
	})
	require.Equal(t, held, e.metric("mailsync_http_inflight_body_bytes"), "a waiting upload was admitted")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))

	finish(t, hs)
	wg.Wait()
	for _, r := range waited {
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
	}
	require.Equal(t, 5, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Zero(t, e.metric("mailsync_http_inflight_body_bytes"))
	require.Zero(t, e.metric("mailsync_inflight_body_waiting"))
}

// TestInflightBodyBoundRefusesAfterTheDeadline holds two big uploads that
// fill the bound; three more get no room within their wait and
// are refused with 503 + Retry-After, their bodies unread and nothing of
// theirs stored. The held ones then finish, and a refused one retried
// afterwards is stored.
func TestInflightBodyBoundRefusesAfterTheDeadline(t *testing.T) {
	t.Parallel()
	const size = 300_000
	e := newEnv(t, envOpts{inflight: 2*size + 50_000, requestTimeout: slowRequestTimeout, inflightWait: 100 * time.Millisecond})
	hs := holdUploads(t, e, 2, size)

	refused := make([]response, 3)
	var wg sync.WaitGroup
	for i := range refused {
		wg.Go(func() {
			refused[i] = e.with(t).do(http.MethodPost, "/v1/emails", "application/json", bigEmail(t, 10+i, size),
				"Idempotency-Key", "refused-"+itoa(i))
		})
	}
	wg.Wait()
	for _, r := range refused {
		require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
		require.NotEmpty(t, r.header.Get("Retry-After"))
		require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		require.Contains(t, r.json(t)["detail"], "retry later")
	}

	finish(t, hs)
	require.Equal(t, 2, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE 'refused-%'`))
	require.Zero(t, e.metric("mailsync_http_inflight_body_bytes"))

	again := e.do(http.MethodPost, "/v1/emails", "application/json", bigEmail(t, 10, size), "Idempotency-Key", "refused-0")
	require.Equal(t, http.StatusCreated, again.status, string(again.body))
	require.Equal(t, 3, e.count(`SELECT count(*) FROM incoming_emails`))
}
