package handlers

import (
	"net/http"
	"strings"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/ingest"
)

// envelopeToHeader carries the envelope recipients of a raw message; it may
// be repeated, and every line may hold several comma-separated recipients.
const envelopeToHeader = "Mailsync-Envelope-To"

// joinEnvelopeTo joins repeated Mailsync-Envelope-To lines into one
// comma-separated line before the generated wrapper binds the header, which
// accepts a single line only.
func joinEnvelopeTo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Values(envelopeToHeader); len(v) > 1 {
			r.Header.Set(envelopeToHeader, strings.Join(v, ", "))
		}
		next.ServeHTTP(w, r)
	})
}

// envelopeOf returns the envelope sent in a raw request's headers.
func envelopeOf(p api.CreateEmailParams) ingest.Envelope {
	var env ingest.Envelope
	if p.MailsyncEnvelopeFrom != nil {
		env.From = *p.MailsyncEnvelopeFrom
	}
	if p.MailsyncEnvelopeTo != nil {
		env.To = []string{*p.MailsyncEnvelopeTo}
	}
	if p.MailsyncMailbox != nil {
		env.Mailbox = *p.MailsyncMailbox
	}
	return env
}

// refuseEnvelopeHeaders refuses the envelope headers on the JSON path, where
// the body's own fields carry the envelope and a silently ignored header
// would lose what the client meant.
func refuseEnvelopeHeaders(p api.CreateEmailParams) error {
	if p.MailsyncEnvelopeFrom != nil || p.MailsyncEnvelopeTo != nil || p.MailsyncMailbox != nil {
		return apperr.New(apperr.Malformed, "the Mailsync-Envelope-From, Mailsync-Envelope-To and Mailsync-Mailbox "+
			"headers apply to message/rfc822 only; send envelope_from, envelope_to and mailbox in the JSON body")
	}
	return nil
}
