package deliver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"mailsync/client"
)

// classify maps the error of one delivery attempt (or of the last one) to
// an exit code and a line naming it. Only an answer that is mailsync's can
// end the delivery for good: exit 0 needs a mailsync email (which the
// client accepts only as JSON with an id and the request's Idempotency-Key
// echoed; anything else is a *client.AnswerError) or mailsync's 410 for an
// erased key, and 65, 77 and 78 need mailsync's problem document. Anything
// else (a maintenance page, another service, a proxy's error, no
// connection) is 75 with a line naming what answered, so the MTA keeps its
// copy and retries.
func classify(err error, endpoint string) Result {
	var ae *client.AnswerError
	var pe *client.ProblemError
	switch {
	case errors.As(err, &ae) && ae.Status/100 == 2:
		return result(ExitTempFail, "MAILSYNC_URL answered %s, which is not a mailsync email "+
			"(no email id, or not mailsync); the MTA should retry", answer(ae.Status, ae.Header, ae.Body))
	case errors.As(err, &ae):
		return result(ExitTempFail, "MAILSYNC_URL answered %s, which is not mailsync; the MTA should retry",
			answer(ae.Status, ae.Header, ae.Body))
	case errors.As(err, &pe):
		return classifyProblem(pe)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return result(ExitTempFail, "mailsync at %s did not answer in time", endpoint)
	default:
		return result(ExitTempFail, "cannot reach mailsync at %s: %v", endpoint, unwrapURLError(err))
	}
}

// classifyProblem maps an error answer (4xx or 5xx) to an exit code.
func classifyProblem(pe *client.ProblemError) Result {
	s := pe.Status
	p, fromMailsync := mailsyncProblem(pe)
	switch {
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500:
		if fromMailsync {
			return result(ExitTempFail, "mailsync is not ready: %s", p)
		}
		return result(ExitTempFail, "MAILSYNC_URL answered %s; the MTA should retry", answer(s, pe.Header, pe.Body))
	case !fromMailsync:
		return result(ExitTempFail, "MAILSYNC_URL answered %s, which is not mailsync; the MTA should retry",
			answer(s, pe.Header, pe.Body))
	case s == http.StatusGone: // this delivery was stored and has since been erased
		return result(ExitOK, "already stored, and since erased: %s", p)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return result(ExitNoPerm, "mailsync refused the token (MAILSYNC_TOKEN needs scope ingest): %s", p)
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
		return result(ExitConfig, "configuration: MAILSYNC_URL does not point at mailsync's API: %s", p)
	default:
		return result(ExitDataErr, "mailsync refused the message: %s", p)
	}
}

// mailsyncProblem renders an error answer as "422 title: detail" and
// reports whether it is one of mailsync's problem documents.
func mailsyncProblem(pe *client.ProblemError) (string, bool) {
	s := pe.Status
	out := fmt.Sprintf("%d %s", s, http.StatusText(s))
	if !pe.FromMailsync() {
		return out, false
	}
	if pe.Title != "" {
		out = fmt.Sprintf("%d %s", s, pe.Title)
	}
	if pe.Detail != "" {
		out += ": " + pe.Detail
	}
	return out, true
}

// answer names an answer that is not mailsync's: its status, media type,
// Server header and the start of its text, e.g. `200 OK (text/html, server
// nginx: "Down for maintenance ...")`.
func answer(s int, h http.Header, body []byte) string {
	var parts []string
	if t := client.MediaType(h); t != "" {
		parts = append(parts, t)
	} else {
		parts = append(parts, "no Content-Type")
	}
	if sv := h.Get("Server"); sv != "" {
		parts = append(parts, "server "+sv)
	}
	out := fmt.Sprintf("%d %s (%s", s, http.StatusText(s), strings.Join(parts, ", "))
	if text := bodyText(body, 80); text != "" {
		out += fmt.Sprintf(": %q", text)
	}
	return out + ")"
}

// bodyText is the start of body as one line of at most n characters, with
// markup removed.
func bodyText(body []byte, n int) string {
	var b strings.Builder
	inTag := false
	for _, r := range string(body) {
		switch {
		case r == '<':
			inTag = true
		case r == '>' && inTag:
			inTag = false
			b.WriteByte(' ')
		case !inTag:
			b.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-3]) + "..."
	}
	return s
}

// EndpointURL turns MAILSYNC_URL (a base URL, or the /v1/emails URL
// itself) into the ingest endpoint. It returns an error naming MAILSYNC_URL
// when raw is empty or not an http:// or https:// URL.
func EndpointURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("MAILSYNC_URL is not set (e.g. http://127.0.0.1:8080)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("MAILSYNC_URL=%q is not an http:// or https:// URL", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/v1/emails") {
		u.Path += "/v1/emails"
	}
	return u.String(), nil
}

// unwrapURLError drops the "Post \"url\":" prefix net/http adds.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// oneLine keeps a message to one line of at most 500 characters, as MTAs
// put it in their log and in bounces.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 500 {
		s = string(r[:497]) + "..."
	}
	return s
}
