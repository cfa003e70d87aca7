// Package client is the Go client of the mailsync HTTP API for upstream
// mail processors. It wraps the client generated from the API's OpenAPI
// description (RawClient, models such as Email and Problem) with what every
// caller needs: the bearer token, an Idempotency-Key on every ingest,
// retries with backoff that honour Retry-After on 503, 429, 409 "in
// progress" and connection errors within the context's deadline, and
// problem+json answers turned into *ProblemError.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Config configures a Client. BaseURL and Token are required.
type Config struct {
	// BaseURL is mailsync's base URL, for example http://127.0.0.1:8080.
	BaseURL string
	// Token is the API key, sent as a bearer token.
	Token string
	// HTTPClient sends the requests (http.DefaultClient when nil).
	HTTPClient *http.Client
	// MinBackoff is the first pause between attempts (250ms when zero); it
	// doubles up to MaxBackoff (4s when zero). A longer Retry-After wins.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxAttempts bounds the attempts of one call (0: until the context
	// ends). Without a deadline on the context, 0 means 5.
	MaxAttempts int
}

// Client calls mailsync. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string
}

// New returns a Client for cfg. It fails when BaseURL or Token is empty.
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
	return &Client{cfg: c, base: c.BaseURL}, nil
}

// InProgressType is the problem type of a 409 answer to a request whose
// Idempotency-Key is still in flight; the client waits and retries it.
const InProgressType = "https://mailsync.dev/problems/idempotency-in-progress"

// retryable reports whether an error answer is worth another attempt with
// the same request: 503, 429, 502, 504, and 409 "in progress" (not another
// 409, such as a reconciliation already running).
func retryable(p *ProblemError) bool {
	switch p.Status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		return p.Type == InProgressType
	}
	return false
}

// do sends the request build makes (once per attempt), retrying as the
// package comment says, and decodes a 2xx body into out (when not nil).
// It returns the final answer's headers, a *ProblemError for a 4xx/5xx answer, or the
// last connection error once the context ends or the attempts run out.
func (c *Client) do(ctx context.Context, build func() (*http.Request, error), out any) (http.Header, error) {
	wait := c.cfg.MinBackoff
	attempts := c.cfg.MaxAttempts
	if _, ok := ctx.Deadline(); !ok && attempts == 0 {
		attempts = 5
	}
	var last error
	for attempt := 1; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, fmt.Errorf("client: building the request: %w", err)
		}
		req = req.WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		hdr, retryAfter, err := c.once(req, out)
		if err == nil {
			return hdr, nil
		}
		var pe *ProblemError
		if errors.As(err, &pe) && !retryable(pe) {
			return hdr, err
		}
		if ctx.Err() != nil {
			return hdr, errors.Join(err, ctx.Err())
		}
		last = err
		if attempts > 0 && attempt >= attempts {
			return hdr, fmt.Errorf("client: gave up after %d attempts: %w", attempt, last)
		}
		pause := max(wait, retryAfter)
		wait = min(2*wait, c.cfg.MaxBackoff)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < pause {
			return hdr, fmt.Errorf("client: gave up after %d attempts within the deadline: %w", attempt, last)
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return hdr, errors.Join(last, ctx.Err())
		case <-timer.C:
		}
	}
}

// once makes one attempt; the duration is the answer's Retry-After.
func (c *Client) once(req *http.Request, out any) (http.Header, time.Duration, error) {
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.Header, 0, fmt.Errorf("client: reading the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode >= 400 {
		return resp.Header, retryAfter(resp.Header.Get("Retry-After")), problemFrom(resp.StatusCode, body)
	}
	if out != nil && len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.Header, 0, fmt.Errorf("client: decoding the answer to %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return resp.Header, 0, nil
}

// retryAfter reads a Retry-After of delay seconds (0 when absent or not a
// number of seconds).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
