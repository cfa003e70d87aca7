package deliver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const msg = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"

func run(t *testing.T, url string, deadline time.Duration) Result {
	t.Helper()
	return Run(context.Background(), Config{URL: url, Token: "t", From: "<>", To: []string{"b@example.org"},
		Mailbox: "support", Deadline: deadline, MaxBytes: 1 << 20}, strings.NewReader(msg))
}

// TestRunMapsAnswersToExitCodes checks the sysexits code and the one line of
// every kind of answer a delivery can get.
func TestRunMapsAnswersToExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		replay  string
		code    int
		message string
	}{
		{http.StatusCreated, "false", ExitOK, "stored as email 7"},
		{http.StatusCreated, "true", ExitOK, "already stored as email 7"},
		{http.StatusOK, "true", ExitOK, "already stored as email 7"},
		{http.StatusGone, "", ExitOK, "already stored, and since erased"},
		{http.StatusBadRequest, "", ExitDataErr, "refused the message: 400 Oops: detail"},
		{http.StatusRequestEntityTooLarge, "", ExitDataErr, "413"},
		{http.StatusUnsupportedMediaType, "", ExitDataErr, "415"},
		{http.StatusUnprocessableEntity, "", ExitDataErr, "422"},
		{http.StatusUnauthorized, "", ExitNoPerm, "refused the token"},
		{http.StatusForbidden, "", ExitNoPerm, "403"},
		{http.StatusNotFound, "", ExitConfig, "does not point at mailsync"},
		{http.StatusConflict, "", ExitTempFail, "409"},
		{http.StatusTooManyRequests, "", ExitTempFail, "429"},
		{http.StatusServiceUnavailable, "", ExitTempFail, "gave up after"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
				if tt.status < 300 {
					w.Header().Set("Idempotent-Replayed", tt.replay)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					_, _ = w.Write([]byte(`{"id": 7}`))
					return
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"type": "urn:mailsync:problem:x", "title": "Oops", "detail": "detail"}`))
			}))
			defer srv.Close()
			r := run(t, srv.URL, time.Second)
			require.Equal(t, tt.code, r.Code, r.Message)
			require.Contains(t, r.Message, tt.message)
			require.NotContains(t, r.Message, "\n")
		})
	}
}

// TestRunRetriesWithinDeadline checks that temporary failures are retried
// with the same key, honouring Retry-After, until an answer is final.
func TestRunRetriesWithinDeadline(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	headers := make(chan http.Header, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Clone()
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id": 1}`))
		}
	}))
	defer srv.Close()
	r := run(t, srv.URL+"/", 30*time.Second)
	require.Equal(t, ExitOK, r.Code, r.Message)
	require.EqualValues(t, 3, calls.Load())
	want := Key([]byte(msg), []string{"b@example.org"})
	for i := 0; i < 3; i++ {
		h := <-headers
		require.Equal(t, want, h.Get("Idempotency-Key"))
		require.Equal(t, "message/rfc822", h.Get("Content-Type"))
		require.Equal(t, "Bearer t", h.Get("Authorization"))
		require.Equal(t, []string{"b@example.org"}, h.Values("Mailsync-Envelope-To"))
		require.Equal(t, "<>", h.Get("Mailsync-Envelope-From"))
		require.Equal(t, "support", h.Get("Mailsync-Mailbox"))
	}
}

// TestRunGivesUpWhenRetryAfterIsBeyondDeadline checks that a Retry-After the
// deadline cannot honour ends the delivery at once with EX_TEMPFAIL.
func TestRunGivesUpWhenRetryAfterIsBeyondDeadline(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	r := run(t, srv.URL, 10*time.Second)
	require.Equal(t, ExitTempFail, r.Code, r.Message)
	require.EqualValues(t, 1, calls.Load())
}

// TestRunRefusesBadInput checks the local refusals: configuration and input.
func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x", "127.0.0.1:8080", "http://"} {
		r := run(t, u, time.Second)
		require.Equal(t, ExitConfig, r.Code, "%q: %s", u, r.Message)
	}
	cfg := Config{URL: "http://127.0.0.1:1", Token: "t", Deadline: time.Second, MaxBytes: 10}
	require.Equal(t, ExitDataErr, Run(context.Background(), cfg, strings.NewReader(msg)).Code)
	cfg.MaxBytes = 1 << 20
	require.Equal(t, ExitDataErr, Run(context.Background(), cfg, strings.NewReader(" \r\n")).Code)
}

// TestKeyIsTheDelivery checks that the key depends on the bytes and the set
// of recipients, not on their order.
func TestKeyIsTheDelivery(t *testing.T) {
	t.Parallel()
	k := Key([]byte(msg), []string{"a@x", "b@x"})
	require.Regexp(t, `^deliver-[0-9a-f]{64}$`, k)
	require.Equal(t, k, Key([]byte(msg), []string{"b@x", "a@x"}))
	require.NotEqual(t, k, Key([]byte(msg), []string{"a@x"}))
	require.NotEqual(t, k, Key([]byte(msg+"x"), []string{"a@x", "b@x"}))
	require.NotEqual(t, Key([]byte("ab"), []string{"c"}), Key([]byte("a"), []string{"bc"}))
}

func TestEndpointURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://h:8080":               "http://h:8080/v1/emails",
		"http://h:8080/":              "http://h:8080/v1/emails",
		"https://h/mailsync/":         "https://h/mailsync/v1/emails",
		"http://h:8080/v1/emails":     "http://h:8080/v1/emails",
		"http://h:8080/v1/emails/":    "http://h:8080/v1/emails",
		"http://[::1]:8080/v1/emails": "http://[::1]:8080/v1/emails",
	} {
		got, err := EndpointURL(in)
		require.NoError(t, err)
		require.Equal(t, want, got, in)
	}
}

// TestRunNamesTheLastCause checks that when the deadline cuts the last
// attempt short, the line still names the answer that made it retry.
func TestRunNamesTheLastCause(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			<-release // hang past the client's deadline
			return
		}
		w.WriteHeader(http.StatusConflict)
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	r := run(t, srv.URL, time.Second)
	require.Equal(t, ExitTempFail, r.Code, r.Message)
	require.Contains(t, r.Message, "409")
	require.EqualValues(t, 2, calls.Load())
}

// TestRunTrustsOnlyMailsyncAnswers checks that answers looking almost like
// mailsync's (an email without the echoed key, a problem document of
// another service) keep the mail queued: exit 75 naming what answered.
func TestRunTrustsOnlyMailsyncAnswers(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		status int
		echo   string
		ctype  string
		body   string
	}{
		"email without key echo": {http.StatusCreated, "", "application/json", `{"id": 7}`},
		"email with another key": {http.StatusOK, "deliver-other", "application/json", `{"id": 7}`},
		"email as text":          {http.StatusCreated, "echo", "text/plain", `{"id": 7}`},
		"id is a string":         {http.StatusCreated, "echo", "application/json", `{"id": "7"}`},
		"foreign problem 422":    {422, "echo", "application/problem+json", `{"type": "about:blank", "title": "Nope"}`},
		"foreign problem 401":    {401, "", "application/problem+json", `{"title": "Unauthorized"}`},
		"foreign 404":            {404, "", "text/html", `<h1>Not Found</h1>`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.echo == "echo" {
					w.Header().Set("Idempotency-Key", r.Header.Get("Idempotency-Key"))
				} else if tt.echo != "" {
					w.Header().Set("Idempotency-Key", tt.echo)
				}
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			r := run(t, srv.URL, time.Second)
			require.Equal(t, ExitTempFail, r.Code, r.Message)
			require.Contains(t, r.Message, tt.ctype)
			require.Contains(t, r.Message, "MAILSYNC_URL answered")
		})
	}
}
