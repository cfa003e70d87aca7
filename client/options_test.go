package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/client"
)

func htmlPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Server", "nginx")
	_, _ = io.WriteString(w, "<h1>Down for maintenance</h1>")
}

func TestAnAnswerThatIsNotMailsyncsIsRetriedAndKept(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]*scripted{
		"html page":     {answers: []func(http.ResponseWriter){htmlPage}},
		"no key echoed": {answers: []func(http.ResponseWriter){created(201)}, noEcho: true},
		"no email id": {answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := newClient(t, s).IngestJSON(ctx, "k-html", input())
			var re *client.RetryError
			require.ErrorAs(t, err, &re)
			var ae *client.AnswerError
			require.ErrorAs(t, err, &ae, "the answer is kept: %v", err)
			require.Equal(t, 200+boolInt(name == "no key echoed"), ae.Status)
			require.Greater(t, int(s.calls.Load()), 1, "retried like a 503")
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestProblemErrorKeepsTheAnswerAndTellsMailsyncs(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){problem(422, client.ProblemTypePrefix+"invalid", "")}}
	_, err := newClient(t, s).IngestJSON(context.Background(), "k", input())
	var pe *client.ProblemError
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.FromMailsync())
	require.Contains(t, string(pe.Body), `"detail":"d"`)
	require.Equal(t, "application/problem+json", client.MediaType(pe.Header))

	s = &scripted{answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "<h1>Forbidden</h1>")
	}}}
	_, err = newClient(t, s).IngestJSON(context.Background(), "k", input())
	require.ErrorAs(t, err, &pe)
	require.False(t, pe.FromMailsync())
	require.Equal(t, "about:blank", pe.Type)
	require.Equal(t, "<h1>Forbidden</h1>", string(pe.Body))
}

func TestObserveSeesEveryAttemptAndFailoverRotates(t *testing.T) {
	t.Parallel()
	first := &scripted{answers: []func(http.ResponseWriter){problem(503, client.ProblemTypePrefix+"unavailable", "0")}}
	second := &scripted{answers: []func(http.ResponseWriter){created(201)}}
	a, b := httptest.NewServer(first), httptest.NewServer(second)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	var mu sync.Mutex
	var seen []client.Attempt
	c, err := client.New(&client.Config{BaseURL: a.URL + "/mailsync", Failover: []string{b.URL}, Token: "tok",
		MinBackoff: time.Millisecond, Observe: func(at client.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, at)
		}})
	require.NoError(t, err)
	got, err := c.IngestJSON(context.Background(), "k-f", input())
	require.NoError(t, err)
	require.EqualValues(t, 42, got.Email.Id)
	require.Equal(t, []string{strings.TrimPrefix(a.URL, "http://") + "/mailsync/v1/emails"}, first.paths,
		"the first attempt goes to BaseURL, under its path")
	require.Equal(t, []string{strings.TrimPrefix(b.URL, "http://") + "/v1/emails"}, second.paths, "the retry to the next instance")
	require.Len(t, seen, 2)
	require.Equal(t, 1, seen[0].N)
	require.Equal(t, 503, seen[0].Status)
	require.True(t, seen[0].Retry)
	var pe *client.ProblemError
	require.ErrorAs(t, seen[0].Err, &pe)
	require.Equal(t, 2, seen[1].N)
	require.Equal(t, 201, seen[1].Status)
	require.NoError(t, seen[1].Err)
	require.False(t, seen[1].Retry)
}

func TestRetryPolicyCanBeWidened(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){problem(500, client.ProblemTypePrefix+"internal", ""), created(201)}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := client.New(&client.Config{BaseURL: srv.URL, Token: "tok", MinBackoff: time.Millisecond,
		Retry: func(err error) bool {
			var pe *client.ProblemError
			return client.Retryable(err) || errors.As(err, &pe) && pe.Status == 500
		}})
	require.NoError(t, err)
	_, err = c.IngestJSON(context.Background(), "k-500", input())
	require.NoError(t, err)
	require.EqualValues(t, 2, s.calls.Load())
	require.False(t, client.Retryable(&client.ProblemError{Status: 500}), "a 500 is final by default")
}

// TestTheLastAnswerIsKeptWhenTheDeadlineCutsAnAttempt checks that the
// error names the 503 that made the client retry, not the attempt the
// deadline cut short.
func TestTheLastAnswerIsKeptWhenTheDeadlineCutsAnAttempt(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := &scripted{answers: []func(http.ResponseWriter){
		problem(503, client.ProblemTypePrefix+"unavailable", "0"),
		func(http.ResponseWriter) { <-release },
	}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	defer close(release) // before Close, which waits for the handler
	c, err := client.New(&client.Config{BaseURL: srv.URL, Token: "tok", MinBackoff: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = c.IngestJSON(ctx, "k-cut", input())
	var re *client.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 2, re.Attempts)
	var pe *client.ProblemError
	require.ErrorAs(t, re.Err, &pe)
	require.Equal(t, 503, pe.Status)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRetryAfterAsAnHTTPDate(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){
		problem(503, client.ProblemTypePrefix+"unavailable", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat)),
		created(201),
	}}
	start := time.Now()
	_, err := newClient(t, s).IngestJSON(context.Background(), "k-date", input())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "the date is waited for, not the 10ms backoff")
}

func TestIngestBodySendsTheSameBytesEveryAttempt(t *testing.T) {
	t.Parallel()
	s := &scripted{answers: []func(http.ResponseWriter){problem(429, client.ProblemTypePrefix+"rate_limited", "0"), created(201)}}
	parts := [][]byte{[]byte(`{"message_id":"<m@x>",`), []byte(`"from":"a@x"}`)}
	body := client.Body{ContentType: "application/json", Size: int64(len(parts[0]) + len(parts[1])),
		Open: func() io.Reader { return io.MultiReader(bytes.NewReader(parts[0]), bytes.NewReader(parts[1])) }}
	got, err := newClient(t, s).IngestBody(context.Background(), "k-body", body, client.Envelope{})
	require.NoError(t, err)
	require.EqualValues(t, 42, got.Email.Id)
	want := string(parts[0]) + string(parts[1])
	require.Equal(t, []string{want, want}, s.bodies)
	_, err = newClient(t, s).IngestBody(context.Background(), "", body, client.Envelope{})
	require.ErrorIs(t, err, client.ErrNoKey)
}

func TestNewRefusesABaseURLThatIsNotHTTP(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"localhost:8080", "ftp://x", "http://"} {
		_, err := client.New(&client.Config{BaseURL: u, Token: "t"})
		require.Error(t, err, u)
	}
	_, err := client.New(&client.Config{BaseURL: "http://a", Failover: []string{"b:1"}, Token: "t"})
	require.Error(t, err)
}
