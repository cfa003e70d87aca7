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

// classify maps mailsync's answer to an exit code and a line naming it.
func classify(resp *http.Response, body []byte) Result {
	s := resp.StatusCode
	switch {
	case s == http.StatusCreated || s == http.StatusOK:
		var e struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(body, &e)
		if s == http.StatusOK || resp.Header.Get("Idempotent-Replayed") == "true" {
			return result(ExitOK, "already stored as email %d", e.ID)
		}
		return result(ExitOK, "stored as email %d", e.ID)
	case s == http.StatusGone: // this delivery was stored and has since been erased
		return result(ExitOK, "already stored, and since erased: %s", problem(s, body))
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return result(ExitNoPerm, "mailsync refused the token (MAILSYNC_TOKEN needs scope ingest): %s", problem(s, body))
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
		return result(ExitConfig, "configuration: MAILSYNC_URL does not point at mailsync: %s", problem(s, body))
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500:
		return result(ExitTempFail, "mailsync is not ready: %s", problem(s, body))
	case s >= 400:
		return result(ExitDataErr, "mailsync refused the message: %s", problem(s, body))
	default:
		return result(ExitTempFail, "unexpected answer from mailsync: %s", problem(s, body))
	}
}

// problem renders an answer as "422 title: detail" from its problem
// document, or the status text when the body is not one.
func problem(status int, body []byte) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(body, &p)
	out := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if p.Title != "" {
		out = fmt.Sprintf("%d %s", status, p.Title)
	}
	if p.Detail != "" {
		out += ": " + p.Detail
	}
	return out
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

// endpointURL turns MAILSYNC_URL (a base URL, or the /v1/emails URL itself)
// into the ingest endpoint.
func endpointURL(raw string) (string, error) {
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
