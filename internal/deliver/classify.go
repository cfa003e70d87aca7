package deliver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// classify maps the answer to one delivery attempt to an exit code and a
// line naming it. Only an answer that is mailsync's can end the delivery
// for good: exit 0 needs a mailsync email (JSON with an id, the request's
// Idempotency-Key echoed) or mailsync's 410 for an erased key, and 65, 77
// and 78 need mailsync's problem document. Anything else (a maintenance
// page, another service, a proxy's error) is 75 with a line naming what
// answered, so the MTA keeps its copy and retries.
func classify(resp *http.Response, body []byte, key string) Result {
	s := resp.StatusCode
	p, fromMailsync := mailsyncProblem(resp, body)
	switch {
	case s == http.StatusCreated || s == http.StatusOK:
		id, ok := mailsyncEmail(resp, body, key)
		if !ok {
			return result(ExitTempFail, "MAILSYNC_URL answered %s, which is not a mailsync email "+
				"(no email id, or not mailsync); the MTA should retry", answer(resp, body))
		}
		if s == http.StatusOK || resp.Header.Get("Idempotent-Replayed") == "true" {
			return result(ExitOK, "already stored as email %d", id)
		}
		return result(ExitOK, "stored as email %d", id)
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500:
		if fromMailsync {
			return result(ExitTempFail, "mailsync is not ready: %s", p)
		}
		return result(ExitTempFail, "MAILSYNC_URL answered %s; the MTA should retry", answer(resp, body))
	case !fromMailsync:
		return result(ExitTempFail, "MAILSYNC_URL answered %s, which is not mailsync; the MTA should retry",
			answer(resp, body))
	case s == http.StatusGone: // this delivery was stored and has since been erased
		return result(ExitOK, "already stored, and since erased: %s", p)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return result(ExitNoPerm, "mailsync refused the token (MAILSYNC_TOKEN needs scope ingest): %s", p)
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
		return result(ExitConfig, "configuration: MAILSYNC_URL does not point at mailsync's API: %s", p)
	case s >= 400:
		return result(ExitDataErr, "mailsync refused the message: %s", p)
	default:
		return result(ExitTempFail, "unexpected answer from mailsync: %s", p)
	}
}

// problemTypePrefix starts the type of every problem document of mailsync.
const problemTypePrefix = "urn:mailsync:problem:"

// mailsyncProblem renders an answer as "422 title: detail" and reports
// whether it is one of mailsync's problem documents (application/
// problem+json whose type starts with urn:mailsync:problem:).
func mailsyncProblem(resp *http.Response, body []byte) (string, bool) {
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	ok := mediaType(resp) == "application/problem+json" && json.Unmarshal(body, &p) == nil &&
		strings.HasPrefix(p.Type, problemTypePrefix)
	s := resp.StatusCode
	out := fmt.Sprintf("%d %s", s, http.StatusText(s))
	if !ok {
		return out, false
	}
	if p.Title != "" {
		out = fmt.Sprintf("%d %s", s, p.Title)
	}
	if p.Detail != "" {
		out += ": " + p.Detail
	}
	return out, true
}

// mailsyncEmail returns the id of the email in a 200 or 201 answer, and
// whether the answer is one: JSON holding a positive integer id, with the
// Idempotency-Key of the request echoed as mailsync does.
func mailsyncEmail(resp *http.Response, body []byte, key string) (int64, bool) {
	var e struct {
		ID *int64 `json:"id"`
	}
	if mediaType(resp) != "application/json" || json.Unmarshal(body, &e) != nil || e.ID == nil || *e.ID < 1 {
		return 0, false
	}
	return *e.ID, resp.Header.Get("Idempotency-Key") == key
}

// answer names an answer that is not mailsync's: its status, media type,
// Server header and the start of its text, e.g. `200 OK (text/html, server
// nginx: "Down for maintenance ...")`.
func answer(resp *http.Response, body []byte) string {
	s := resp.StatusCode
	var parts []string
	if t := mediaType(resp); t != "" {
		parts = append(parts, t)
	} else {
		parts = append(parts, "no Content-Type")
	}
	if sv := resp.Header.Get("Server"); sv != "" {
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

// mediaType is the answer's Content-Type without parameters, lowercase.
func mediaType(resp *http.Response) string {
	t, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); zero
// when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
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
