package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireLiteralAngles asserts that a JSON body writes "<" and ">" as
// themselves and holds want (which contains them) verbatim.
func requireLiteralAngles(t *testing.T, r response, want string) {
	t.Helper()
	body := string(r.body)
	require.NotContains(t, body, `\u003c`, body)
	require.NotContains(t, body, `\u003e`, body)
	require.NotContains(t, body, `\u0026`, body)
	require.Contains(t, body, want, body)
}

func TestJSONResponsesKeepAngleBrackets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	msg := sampleEmail(1)
	msg["subject"] = "Q&A <today>"
	mid := msg["message_id"].(string)
	quoted := `"message_id":"` + mid + `"`

	first := e.postEmail("angles-1", msg)
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	requireLiteralAngles(t, first, quoted)
	require.Contains(t, string(first.body), `"from":"Alice <alice@example.com>"`)
	require.Contains(t, string(first.body), `"subject":"Q&A <today>"`)

	// The idempotent replay writes the cached bytes.
	replay := e.postEmail("angles-1", msg)
	require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	requireLiteralAngles(t, replay, quoted)
	require.Equal(t, string(first.body), string(replay.body))

	id := itoa(int(first.json(t)["id"].(float64)))
	requireLiteralAngles(t, e.do(http.MethodGet, "/v1/emails/"+id, "", nil), quoted)
	requireLiteralAngles(t, e.do(http.MethodGet, "/v1/emails/"+id+"/sync", "", nil), "")
	list := e.do(http.MethodGet, "/v1/emails?message_id="+url.QueryEscape(mid), "", nil)
	requireLiteralAngles(t, list, quoted)

	// A batch replaying the same key re-encodes the cached body.
	batch := e.do(http.MethodPost, "/v1/emails/batch", "application/json",
		[]byte(`{"emails":[{"idempotency_key":"angles-1","email":`+string(mustJSON(t, msg))+`}]}`))
	require.Equal(t, http.StatusOK, batch.status, string(batch.body))
	requireLiteralAngles(t, batch, quoted)

	// problem+json: the 401 problem names the header's form, "Bearer <token>".
	problem := e.do(http.MethodPost, "/v1/emails", "application/json", mustJSON(t, msg), "Authorization", "", "Idempotency-Key", "angles-2")
	require.Equal(t, http.StatusUnauthorized, problem.status)
	require.Equal(t, "application/problem+json", problem.header.Get("Content-Type"))
	requireLiteralAngles(t, problem, "Bearer <token>")
}
