package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody bounds the body kept of an error answer.
const maxErrorBody = 64 << 10

// answer is one HTTP answer as received.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// AnswerError is a 2xx answer that is not what the call expects: not JSON,
// an email without an id, or an ingest answer that does not echo the
// request's Idempotency-Key as mailsync does. Something other than mailsync
// answered (a maintenance page, another service behind the URL); the
// default Retry tries again.
type AnswerError struct {
	Status int
	Header http.Header
	Body   []byte // the start of the body (at most 64 KiB)
	Reason string // what is wrong with it
}

// Error names the status, the media type and the reason.
func (e *AnswerError) Error() string {
	return fmt.Sprintf("client: the answer %d %s (%s) is not mailsync's: %s", e.Status, http.StatusText(e.Status),
		MediaType(e.Header), e.Reason)
}

func (a *answer) wrong(reason string) *AnswerError {
	return &AnswerError{Status: a.status, Header: a.header, Body: a.body[:min(len(a.body), maxErrorBody)], Reason: reason}
}

// once makes one attempt. It returns the answer (nil when none came) and a
// *ProblemError for a 4xx/5xx answer, the error of accept for a 2xx one,
// or the connection error.
func (c *Client) once(req *http.Request, accept func(*answer) error) (*answer, error) {
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	a := &answer{status: resp.StatusCode, header: resp.Header}
	var body io.Reader = resp.Body
	if resp.StatusCode >= 400 {
		body = io.LimitReader(resp.Body, maxErrorBody)
	}
	if a.body, err = io.ReadAll(body); err != nil {
		return nil, fmt.Errorf("client: reading the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode >= 400 {
		return a, problemFrom(a)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return a, a.wrong("not a 2xx")
	}
	if accept != nil {
		return a, accept(a)
	}
	return a, nil
}

// decodeInto accepts a 2xx answer whose body decodes into out (an empty
// body leaves out as it is).
func decodeInto(out any) func(*answer) error {
	return func(a *answer) error {
		if len(bytes.TrimSpace(a.body)) == 0 {
			return nil
		}
		if err := json.Unmarshal(a.body, out); err != nil {
			return a.wrong("its body does not decode: " + err.Error())
		}
		return nil
	}
}

// MediaType is the Content-Type of h without parameters, in lower case.
func MediaType(h http.Header) string {
	t, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// retryAfter reads a Retry-After of delay seconds or an HTTP date (0 when
// absent, past or unreadable).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
