package lmtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/emersion/go-smtp"
	"go.opentelemetry.io/otel/trace"

	"mailsync/internal/apperr"
	"mailsync/internal/deliver"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/tracing"
)

// Outcomes of one recipient, as counted in metrics.
const (
	outcomeStored   = "stored"
	outcomeReplayed = "replayed"
	outcomeTempFail = "tempfail"
	outcomeRefused  = "refused"
	outcomeTooLarge = "too_large"
)

// deliver stores raw from sender for each recipient, the distinct ones
// concurrently (the ingest service commits them together), and returns an
// answer per recipient in order, each an *smtp.SMTPError (250 for stored or
// stored before). A recipient given twice gets the same answer twice.
func (s *Server) deliver(ctx context.Context, raw []byte, from string, rcpts []string, remote string) []error {
	var distinct []string
	index := map[string]int{}
	for _, rcpt := range rcpts {
		if _, dup := index[rcpt]; !dup {
			index[rcpt] = len(distinct)
			distinct = append(distinct, rcpt)
		}
	}
	replies := make([]error, len(distinct))
	var wg sync.WaitGroup
	for i, rcpt := range distinct {
		wg.Go(func() { replies[i] = s.storeOne(ctx, raw, from, rcpt, remote) })
	}
	wg.Wait()
	out := make([]error, len(rcpts))
	for i, rcpt := range rcpts {
		out[i] = replies[index[rcpt]]
	}
	return out
}

// storeOne stores raw for one recipient exactly as `server deliver -f from
// -t rcpt -m <its mailbox>` would: the same envelope, the same
// Idempotency-Key (deliver.Key of the bytes and the recipient) and the same
// request fingerprint. It returns the recipient's reply: 250 naming the
// email when it is stored or was stored before (also when it has since been
// erased), else the failure.
func (s *Server) storeOne(ctx context.Context, raw []byte, from, rcpt, remote string) error {
	env := ingest.Envelope{From: from, To: []string{rcpt}, Mailbox: s.rules.mailbox(rcpt)}
	ctx, span := tracing.Start(ctx, tracing.SpanLMTP, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(tracing.AttrLMTPMailbox.String(env.Mailbox)))
	defer span.End()
	key := deliver.Key(raw, []string{rcpt})
	// The recipient is logged only when nothing was stored: a stored
	// email's addresses are personal data an erasure removes, and a log
	// line would keep them (its id names it).
	log := slog.With("remote", remote, "mailbox", env.Mailbox, "idempotency_key", key)
	item, err := ingest.NewRawItem(raw, env, s.cfg.Now(), s.cfg.Auth)
	if err == nil {
		err = mongostore.CheckSize(item.Content)
	}
	var res ingest.Result
	if err == nil {
		item.Key = key
		res, err = s.ing.IngestOne(ctx, ClientID, item)
		if err == nil {
			err = res.Err
		}
	}
	reply, outcome := answer(err, res)
	s.cfg.Metrics.Recipient(outcome)
	switch outcome {
	case outcomeStored, outcomeReplayed:
		log.InfoContext(ctx, "LMTP delivery stored", "outcome", outcome, "email_id", res.ID)
	case outcomeTempFail:
		log.WarnContext(ctx, "LMTP delivery deferred", "recipient", rcpt, "reply", reply.Error(), "err", err)
	default:
		log.InfoContext(ctx, "LMTP delivery refused", "recipient", rcpt, "reply", reply.Error())
	}
	return reply
}

// answer maps the outcome of storing one recipient's email to its LMTP
// reply and metrics outcome. Every reply is an *smtp.SMTPError (any other
// error would reach the MTA as a 554 bounce): 250 when stored, naming the
// email; a message mailsync
// refuses is 5xx with an enhanced code naming the cause, everything else
// (PostgreSQL down, a timeout, a key in flight) is 451 4.3.0 and the MTA
// tries again.
func answer(err error, res ingest.Result) (*smtp.SMTPError, string) {
	if err == nil {
		if res.Replayed {
			return reply(250, 2, 0, 0, fmt.Sprintf("already stored as email %d", res.ID)), outcomeReplayed
		}
		return reply(250, 2, 0, 0, fmt.Sprintf("stored as email %d", res.ID)), outcomeStored
	}
	e := apperr.As(err)
	if e == nil {
		return tempFail(err), outcomeTempFail
	}
	switch e.Code {
	case apperr.Gone: // stored before, and erased since: delivering again must not bounce
		return reply(250, 2, 0, 0, "already stored, and since erased"), outcomeReplayed
	case apperr.TooLarge:
		return reply(552, 5, 3, 4, "message too large: "+e.Message), outcomeTooLarge
	case apperr.Malformed, apperr.Invalid, apperr.Unsupported:
		return reply(550, 5, 6, 0, "message refused: "+e.Message), outcomeRefused
	case apperr.KeyReused:
		return reply(554, 5, 3, 0, "this message was stored for this recipient before with another "+
			"sender or mailbox; it is not stored again: "+e.Message), outcomeRefused
	default: // Conflict, Unavailable and anything new: try again
		return tempFail(err), outcomeTempFail
	}
}

// tempFail is 451 4.3.0 naming the cause of err.
func tempFail(err error) *smtp.SMTPError {
	why := "mailsync could not store the message (storage error)"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		why = "mailsync did not store the message in time"
	case errors.Is(err, context.Canceled):
		why = "mailsync is shutting down"
	case apperr.CodeOf(err) == apperr.Unavailable:
		why = "mailsync could not store the message (its database is unavailable)"
	case apperr.CodeOf(err) == apperr.Conflict:
		why = "the same delivery is in progress in another session"
	}
	return reply(451, 4, 3, 0, why+"; try again later")
}

// readError is the answer to a message that could not be read: go-smtp's
// own 552 5.3.4 when it is larger than SIZE, else 451 4.3.0.
func readError(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	return reply(451, 4, 3, 0, fmt.Sprintf("reading the message failed: %v; try again later", err))
}

// outcomeOf is the metrics outcome of an answer.
func outcomeOf(err error) string {
	var se *smtp.SMTPError
	switch {
	case err == nil || errors.As(err, &se) && se.Code < 400:
		return outcomeStored
	case errors.As(err, &se) && se.Code == 552:
		return outcomeTooLarge
	case errors.As(err, &se) && se.Code >= 500:
		return outcomeRefused
	default:
		return outcomeTempFail
	}
}

func reply(code, class, subject, detail int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{class, subject, detail}, Message: oneLine(msg)}
}

// oneLine keeps a reply text to one line of printable ASCII of at most 400
// characters (a reply line may not hold CR or LF, and MTAs quote it in
// their logs and bounces).
func oneLine(s string) string {
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s) && len(b) < 400; i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			if !space && len(b) > 0 {
				b = append(b, ' ')
			}
			space = true
			continue
		}
		b = append(b, c)
		space = false
	}
	return string(b)
}
