package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/client"
)

// scripted serves the answers in order (the last one again once they run
// out) and records every request's key, body and recipients.
type scripted struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	keys    []string
	bodies  []string
	rcpts   [][]string
	calls   atomic.Int32
	noEcho  bool // answer without echoing the Idempotency-Key, unlike mailsync
	paths   []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := int(s.calls.Add(1)) - 1
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.bodies = append(s.bodies, string(body))
	s.rcpts = append(s.rcpts, r.Header.Values("Mailsync-Envelope-To"))
	s.paths = append(s.paths, r.Host+r.URL.Path)
	answer := s.answers[min(n, len(s.answers)-1)]
	s.mu.Unlock()
	if !s.noEcho {
		w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
	}
	answer(w)
}

func problem(status int, typ, retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"type":"`+typ+`","title":"T`+http.StatusText(status)+`","status":`+
			strconv.Itoa(status)+`,"detail":"d"}`)
	}
}

func created(status int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if status == http.StatusOK {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"id":42,"message_id":"<m@x>","from":"a@x"}`)
	}
}

func newClient(t *testing.T, h http.Handler) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(&client.Config{BaseURL: srv.URL, Token: "tok", MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	require.NoError(t, err)
	return c
}

func input() client.EmailInput {
	return client.EmailInput{MessageId: "<m@x>", From: "a@x", To: []string{"b@x"}, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestRetryHonoursRetryAfterOn503And429(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){
		problem(503, "urn:mailsync:problem:unavailable", "1"),
		problem(429, "urn:mailsync:problem:rate-limited", "0"),
		created(201),
	}}
	c := newClient(t, s)
	start := time.Now()
	got, err := c.IngestJSON(context.Background(), "k-1", input())
	require.NoError(t, err)
	require.EqualValues(t, 42, got.Email.Id)
	require.False(t, got.Replay)
	require.EqualValues(t, 3, s.calls.Load())
	require.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After: 1 must be waited, not the 10ms backoff")
	require.Equal(t, []string{"k-1", "k-1", "k-1"}, s.keys, "every attempt carries the same key")
}

func TestRetryWaitsOn409InProgressAndReportsTheReplay(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){
		problem(409, client.InProgressType, "0"),
		problem(409, client.InProgressType, "0"),
		created(200),
	}}
	got, err := newClient(t, s).IngestJSON(context.Background(), "k-2", input())
	require.NoError(t, err)
	require.True(t, got.Replay, "Idempotent-Replayed: true is a replay")
	require.EqualValues(t, 3, s.calls.Load())
}

func TestOtherConflictsAndClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{409, 422, 400} {
		s := &scripted{answers: []func(http.ResponseWriter){problem(status, "urn:mailsync:problem:x", "0"), created(201)}}
		_, err := newClient(t, s).IngestJSON(context.Background(), "k-3", input())
		var pe *client.ProblemError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, status, pe.Status)
		require.Equal(t, "urn:mailsync:problem:x", pe.Type)
		require.Equal(t, "d", pe.Detail)
		require.EqualValues(t, 1, s.calls.Load(), "status %d is final", status)
	}
}

func TestRetryStopsAtTheContextDeadline(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){problem(503, "urn:mailsync:problem:unavailable", "30")}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(t, s).IngestJSON(ctx, "k-4", input())
	var pe *client.ProblemError
	require.ErrorAs(t, err, &pe, "the last answer is kept")
	require.Equal(t, 503, pe.Status)
	require.Less(t, time.Since(start), 5*time.Second, "a Retry-After beyond the deadline gives up at once")
}

func TestRetryAfterAConnectionError(t *testing.T) {
	t.Parallel()
	var first atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close() // the connection drops without an answer
			return
		}
		w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
		created(201)(w)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := newClient(t, h).IngestJSON(ctx, "k-5", input())
	require.NoError(t, err)
	require.EqualValues(t, 42, got.Email.Id)
}

func TestIngestRawDerivesTheDeliveryKeyAndResendsTheSameBytes(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){problem(503, "urn:mailsync:problem:unavailable", "0"), created(201)}}
	msg := "Message-ID: <r@x>\r\nFrom: a@x\r\n\r\nhello\r\n"
	_, err := newClient(t, s).IngestRaw(context.Background(), "", strings.NewReader(msg),
		client.Envelope{From: "a@x", To: []string{"c@x", "b@x"}, Mailbox: "support"})
	require.NoError(t, err)
	want := client.DeliveryKey([]byte(msg), []string{"b@x", "c@x"})
	require.Equal(t, []string{want, want}, s.keys)
	require.Equal(t, []string{msg, msg}, s.bodies)
	require.Equal(t, []string{"c@x", "b@x"}, s.rcpts[1])
}

func TestIngestJSONRequiresAKey(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){created(201)}}
	_, err := newClient(t, s).IngestJSON(context.Background(), "", input())
	require.True(t, errors.Is(err, client.ErrNoKey))
	require.Zero(t, s.calls.Load())
}
