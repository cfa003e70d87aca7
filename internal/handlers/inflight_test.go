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

// TestInflightBodyBoundRefusesBeyondIt holds two big uploads in flight
// (their bodies half sent), which fill the bound; three more big uploads
// at the same time get 503 + Retry-After without their bodies being read,
// and nothing of theirs is stored. The two held ones then finish and are
// stored, and a refused one retried afterwards is stored too.
func TestInflightBodyBoundRefusesBeyondIt(t *testing.T) {
	t.Parallel()
	const size = 300_000
	e := newEnv(t, envOpts{inflight: 2*size + 50_000})

	type held struct {
		pw   *io.PipeWriter
		body []byte
		done chan response
	}
	var hs []held
	for i := range 2 {
		body := bigEmail(t, i, size)
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPost, e.url+"/v1/emails", pr)
		require.NoError(t, err)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokenAll)
		req.Header.Set("Idempotency-Key", "held-"+itoa(i))
		h := held{pw: pw, body: body, done: make(chan response, 1)}
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
	want := float64(len(hs[0].body) + len(hs[1].body))
	testwait.Until(t, 10*time.Second, "the held uploads to be admitted", func() bool {
		return e.metric("mailsync_http_inflight_body_bytes") == want
	})

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

	for _, h := range hs {
		_, err := h.pw.Write(h.body[len(h.body)/2:])
		require.NoError(t, err)
		require.NoError(t, h.pw.Close())
		r := <-h.done
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
	}
	require.Equal(t, 2, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM idempotency_keys WHERE key LIKE 'refused-%'`))
	require.Zero(t, e.metric("mailsync_http_inflight_body_bytes"))

	again := e.do(http.MethodPost, "/v1/emails", "application/json", bigEmail(t, 10, size), "Idempotency-Key", "refused-0")
	require.Equal(t, http.StatusCreated, again.status, string(again.body))
	require.Equal(t, 3, e.count(`SELECT count(*) FROM incoming_emails`))
}
