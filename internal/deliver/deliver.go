// Package deliver hands one message from a mail transfer agent's pipe
// transport to mailsync: it posts the raw bytes as message/rfc822 with the
// SMTP envelope through the Go client (mailsync/client), retries briefly on
// temporary failures, and turns the outcome into a sysexits(3) exit code
// and one line for the MTA's log.
package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// Run reads one message from in and delivers it as cfg says, through the
// Go client (mailsync/client). It retries temporary failures (no
// connection, timeouts, 408, 409, 429, 5xx, an answer that is not
// mailsync's) with backoff and Retry-After until cfg.Deadline, and never
// returns a code the MTA does not know.
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
	c, err := client.New(&client.Config{BaseURL: strings.TrimSuffix(endpoint, "/v1/emails"), Token: cfg.Token,
		HTTPClient: cfg.Client, Retry: func(err error) bool { return classify(err, endpoint).Code == ExitTempFail }})
	if err != nil {
		return result(ExitConfig, "configuration: MAILSYNC_URL: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()
	got, err := c.IngestBody(dctx, Key(raw, cfg.To), client.BytesBody("message/rfc822", raw),
		client.Envelope{From: cfg.From, To: cfg.To, Mailbox: cfg.Mailbox})
	var gaveUp *client.RetryError
	switch {
	case err == nil && got.Replay:
		return result(ExitOK, "already stored as email %d", got.Email.Id)
	case err == nil:
		return result(ExitOK, "stored as email %d", got.Email.Id)
	case !errors.As(err, &gaveUp):
		return classify(err, endpoint)
	case ctx.Err() != nil: // not the deadline: the MTA or a signal ended the delivery
		return result(ExitTempFail, "%s (interrupted after %d attempt(s); the MTA should retry)",
			classify(gaveUp.Err, endpoint).Message, gaveUp.Attempts)
	default:
		return result(ExitTempFail, "%s (gave up after %d attempt(s) within the %s deadline; the MTA should retry)",
			classify(gaveUp.Err, endpoint).Message, gaveUp.Attempts, cfg.Deadline)
	}
}
