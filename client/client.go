// Package client is the Go client of the mailsync HTTP API for upstream
// mail processors. It wraps the client generated from the API's OpenAPI
// description (RawClient, models such as Email and Problem) with what every
// caller needs: the bearer token, an Idempotency-Key on every ingest,
// retries with backoff that honour Retry-After on 503, 429, 409 "in
// progress" and connection errors within the context's deadline, and
// problem+json answers turned into *ProblemError.
package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client. BaseURL and Token are required.
type Config struct {
	// BaseURL is mailsync's base URL, for example http://127.0.0.1:8080 or
	// https://example.org/mailsync.
	BaseURL string
	// Failover lists the base URLs of other instances serving the same
	// mailsync: attempt n of a call goes to the nth of BaseURL, Failover...
	// in turn, so a retry reaches another instance.
	Failover []string
	// Token is the API key, sent as a bearer token.
	Token string
	// HTTPClient sends the requests (http.DefaultClient when nil). Its
	// Timeout bounds each attempt; the context bounds the whole call.
	HTTPClient *http.Client
	// MinBackoff is the first pause between attempts (250ms when zero); it
	// doubles up to MaxBackoff (4s when zero). Each pause is drawn between
	// half the current step and the step; a longer Retry-After wins.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxAttempts bounds the attempts of one call (0: until the context
	// ends). Without a deadline on the context, 0 means 5.
	MaxAttempts int
	// Retry decides whether an attempt that failed with err is tried again
	// (Retryable when nil). It is not asked about an attempt that the
	// context cut short.
	Retry func(err error) bool
	// Observe, when set, is called after every attempt (for counting).
	Observe func(Attempt)
}

// Attempt is one try of a call, as Config.Observe sees it.
type Attempt struct {
	Method, URL string
	N           int         // 1 for the first try of the call
	Status      int         // the answer's status; 0 when no answer came
	Header      http.Header // the answer's headers; nil when no answer came
	// Err is nil when the call succeeded with this try; otherwise a
	// *ProblemError, an *AnswerError or the connection error.
	Err error
	// Retry is true when the client pauses and tries again (unless the
	// context ends meanwhile).
	Retry bool
}

// Client calls mailsync. It is safe for concurrent use.
type Client struct {
	cfg   Config
	bases []string // BaseURL and Failover, each ending in a slash
	base  string   // bases[0]
}

// New returns a Client for cfg. It fails when BaseURL or Token is empty,
// or a base URL is not an http:// or https:// URL.
func New(cfg *Config) (*Client, error) {
	c := *cfg
	if c.BaseURL == "" || c.Token == "" {
		return nil, errors.New("client: BaseURL and Token are required")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 4 * time.Second
	}
	if c.Retry == nil {
		c.Retry = Retryable
	}
	cl := &Client{cfg: c}
	for _, raw := range append([]string{c.BaseURL}, c.Failover...) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: base URL %q is not an http:// or https:// URL", raw)
		}
		if !strings.HasSuffix(u.Path, "/") { // so the API's paths resolve under it
			u.Path += "/"
		}
		cl.bases = append(cl.bases, u.String())
	}
	cl.base = cl.bases[0]
	return cl, nil
}

// RetryError is returned when the client stops retrying a call whose last
// attempt asked for a retry: the context ended, the next pause would pass
// the context's deadline, or MaxAttempts ran out. Err is the last answer's
// error (*ProblemError, *AnswerError or the connection error); an attempt
// cut short by the context does not hide an earlier answer. errors.As and
// errors.Is see Err and, when the context ended, the context's error.
type RetryError struct {
	Attempts int
	Err      error
	Ctx      error // the context's error when it ended, else nil
}

// Error names the attempts and the last cause.
func (e *RetryError) Error() string {
	s := fmt.Sprintf("client: gave up after %d attempt(s): %v", e.Attempts, e.Err)
	if e.Ctx != nil {
		s += " (" + e.Ctx.Error() + ")"
	}
	return s
}

// Unwrap returns the last cause and the context's error.
func (e *RetryError) Unwrap() []error {
	if e.Ctx == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Ctx}
}

// decoded sends the request build makes, as do does, and returns its 2xx
// body decoded into a new T.
func decoded[T any](ctx context.Context, c *Client, build func() (*http.Request, error)) (*T, error) {
	var out T
	if _, err := c.do(ctx, build, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends the request build makes, as call does, and decodes a 2xx body
// into out (when not nil).
func (c *Client) do(ctx context.Context, build func() (*http.Request, error), out any) (http.Header, error) {
	var accept func(*answer) error
	if out != nil {
		accept = decodeInto(out)
	}
	return c.call(ctx, build, accept)
}

// call sends the request build makes against BaseURL (once per attempt,
// moved to the attempt's base URL), retrying as the package comment says,
// and hands the final 2xx answer to accept (when not nil), whose error
// fails the attempt. It returns the final answer's headers, a
// *ProblemError for a 4xx/5xx answer, or a *RetryError once the context
// ends or the attempts run out.
func (c *Client) call(ctx context.Context, build func() (*http.Request, error), accept func(*answer) error) (http.Header, error) {
	wait := c.cfg.MinBackoff
	attempts := c.cfg.MaxAttempts
	if _, ok := ctx.Deadline(); !ok && attempts == 0 {
		attempts = 5
	}
	var cause error // the last error that names an answer or a connection failure
	for attempt := 1; ; attempt++ {
		req, err := build()
		if err == nil {
			req, err = c.at(req, c.bases[(attempt-1)%len(c.bases)])
		}
		if err != nil {
			return nil, fmt.Errorf("client: building the request: %w", err)
		}
		req = req.WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		a, err := c.once(req, accept)
		seen := Attempt{Method: req.Method, URL: req.URL.String(), N: attempt, Err: err}
		if a != nil {
			seen.Status, seen.Header = a.status, a.header
		}
		stop := func(err error) (http.Header, error) {
			c.observe(seen)
			return seen.Header, err
		}
		if err == nil {
			return stop(nil)
		}
		if (a != nil || ctx.Err() == nil) && !c.cfg.Retry(err) {
			return stop(err) // a final answer, even at the deadline
		}
		if ctx.Err() != nil {
			if cause == nil || a != nil { // an attempt cut short keeps the earlier cause
				cause = err
			}
			return stop(&RetryError{Attempts: attempt, Err: cause, Ctx: ctx.Err()})
		}
		cause = err
		if attempts > 0 && attempt >= attempts {
			return stop(&RetryError{Attempts: attempt, Err: cause})
		}
		var after time.Duration
		if a != nil {
			after = retryAfter(a.header.Get("Retry-After"), time.Now())
		}
		pause := max(wait/2+rand.N(wait/2+1), after)
		wait = min(2*wait, c.cfg.MaxBackoff)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < pause {
			return stop(&RetryError{Attempts: attempt, Err: cause})
		}
		seen.Retry = true
		c.observe(seen)
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return seen.Header, &RetryError{Attempts: attempt, Err: cause, Ctx: ctx.Err()}
		case <-timer.C:
		}
	}
}

// at moves a request built against the first base URL to base.
func (c *Client) at(req *http.Request, base string) (*http.Request, error) {
	if base == c.base {
		return req, nil
	}
	rest, ok := strings.CutPrefix(req.URL.String(), c.base)
	if !ok {
		return nil, fmt.Errorf("%s is not under %s", req.URL, c.base)
	}
	u, err := url.Parse(base + rest)
	if err != nil {
		return nil, err
	}
	req.URL, req.Host = u, u.Host
	return req, nil
}

func (c *Client) observe(a Attempt) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(a)
	}
}

// InProgressType is the problem type of a 409 answer to a request whose
// Idempotency-Key is still in flight; the client waits and retries it.
const InProgressType = ProblemTypePrefix + "conflict"

// Retryable is the default Config.Retry: a connection error, an
// *AnswerError (something other than mailsync answered), and a
// *ProblemError that RetryableStatus accepts are worth another attempt.
func Retryable(err error) bool {
	var pe *ProblemError
	if errors.As(err, &pe) {
		return RetryableStatus(pe.Status, pe.Type)
	}
	return true
}

// RetryableStatus reports whether an error answer (or a batch item's
// result) of this status and problem type is worth another attempt with
// the same request: 503, 429, 502, 504, and 409 "in progress"
// (InProgressType; not another 409, such as a reconciliation already
// running).
func RetryableStatus(status int, problemType string) bool {
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		return problemType == InProgressType
	}
	return false
}
