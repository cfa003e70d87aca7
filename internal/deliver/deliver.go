// Package deliver hands one message from a mail transfer agent's pipe
// transport to mailsync: it posts the raw bytes as message/rfc822 with the
// SMTP envelope, retries briefly on temporary failures, and turns the
// outcome into a sysexits(3) exit code and one line for the MTA's log.
package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"mailsync/client"
)

// Exit codes of sysexits(3), which MTAs map to delivery outcomes.
const (
	ExitOK       = 0  // stored, or stored before (a replay)
	ExitDataErr  = 65 // EX_DATAERR: mailsync refused the content; the MTA bounces
	ExitTempFail = 75 // EX_TEMPFAIL: try again later; the MTA queues the message
	ExitNoPerm   = 77 // EX_NOPERM: the token was refused
	ExitConfig   = 78 // EX_CONFIG: the command or mailsync is misconfigured
)

// Config is one delivery. URL, Token and Deadline are required.
type Config struct {
	// URL is mailsync's base URL (http://host:8080) or its /v1/emails URL.
	URL string
	// Token is the API key (scope ingest), sent as a bearer token.
	Token string
	// From, To and Mailbox are the envelope sender, recipients and mailbox.
	From    string
	To      []string
	Mailbox string
	// Deadline bounds the whole delivery, retries included.
	Deadline time.Duration
	// MaxBytes bounds the message read from the input (EX_DATAERR beyond).
	MaxBytes int64
	// Client sends the requests (a client without its own timeout is fine:
	// every attempt is bounded by the deadline).
	Client *http.Client
}

// Result is the outcome of a delivery: the exit code and the one line that
// names its cause.
type Result struct {
	Code    int
	Message string
}

func result(code int, format string, args ...any) Result {
	return Result{Code: code, Message: oneLine(fmt.Sprintf(format, args...))}
}

// Key is the Idempotency-Key of a delivery, client.DeliveryKey: "deliver-"
// and the hex SHA-256 of the message bytes and the recipients (sorted, each
// after a NUL byte), so an MTA's retry of the same delivery is the same
// request and can never store a second email.
func Key(raw []byte, recipients []string) string {
	return client.DeliveryKey(raw, recipients)
}

// Run reads one message from in and delivers it as cfg says. It retries
// temporary failures (no connection, timeouts, 408, 409, 429, 5xx) with
// backoff and Retry-After until cfg.Deadline, and never returns a code the
// MTA does not know.
func Run(ctx context.Context, cfg Config, in io.Reader) Result {
	endpoint, err := EndpointURL(cfg.URL)
	if err != nil {
		return result(ExitConfig, "configuration: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(in, cfg.MaxBytes+1))
	switch {
	case err != nil:
		return result(ExitTempFail, "reading the message from standard input: %v", err)
	case int64(len(raw)) > cfg.MaxBytes:
		return result(ExitDataErr, "the message is larger than %d bytes (MAX_BODY_BYTES)", cfg.MaxBytes)
	case len(bytes.TrimSpace(raw)) == 0:
		return result(ExitDataErr, "no message on standard input")
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()
	key := Key(raw, cfg.To)
	wait := 250 * time.Millisecond
	var out Result // the last temporary failure that names a cause
	for attempt := 1; ; attempt++ {
		r, retryAfter := post(ctx, client, endpoint, cfg, key, raw)
		if r.Code != ExitTempFail {
			return r
		}
		if ctx.Err() == nil || out.Message == "" { // not an attempt cut short by the deadline
			out = r
		}
		pause := max(wait, retryAfter)
		wait = min(2*wait, 4*time.Second)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < pause {
			return result(ExitTempFail, "%s (gave up after %d attempt(s) within the %s deadline; the MTA should retry)",
				out.Message, attempt, cfg.Deadline)
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return result(ExitTempFail, "%s (interrupted after %d attempt(s); the MTA should retry)", out.Message, attempt)
		case <-timer.C:
		}
	}
}

// post makes one attempt and classifies its outcome; the duration is the
// server's Retry-After, if any.
func post(ctx context.Context, client *http.Client, endpoint string, cfg Config, key string, raw []byte) (Result, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(raw))
	if err != nil {
		return result(ExitConfig, "configuration: MAILSYNC_URL: %v", err), 0
	}
	req.Header.Set("Content-Type", "message/rfc822")
	req.Header.Set("Authorization", "Bearer "+cfg.Token)
	req.Header.Set("Idempotency-Key", key)
	if cfg.From != "" {
		req.Header.Set("Mailsync-Envelope-From", cfg.From)
	}
	for _, to := range cfg.To {
		req.Header.Add("Mailsync-Envelope-To", to)
	}
	if cfg.Mailbox != "" {
		req.Header.Set("Mailsync-Mailbox", cfg.Mailbox)
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return result(ExitTempFail, "mailsync at %s did not answer in time", endpoint), 0
		}
		return result(ExitTempFail, "cannot reach mailsync at %s: %v", endpoint, unwrapURLError(err)), 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return classify(resp, body, key), retryAfter(resp.Header.Get("Retry-After"), time.Now())
}
