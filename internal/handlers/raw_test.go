package handlers_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRawAndJSONStoreTheSameEmail posts a raw RFC 5322 message, then the
// same email as JSON, and compares what was stored.
func TestRawAndJSONStoreTheSameEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	raw, err := os.ReadFile("../ingest/testdata/hash.eml")
	require.NoError(t, err)
	r := e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "raw-1")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	fromRaw := r.json(t)
	require.Equal(t, "<20261127.1234@mail.example.com>", fromRaw["message_id"])
	require.Equal(t, "Alice <alice@example.com>", fromRaw["from"])
	require.Equal(t, "Hello", fromRaw["text_body"])
	require.Equal(t, "<p>Hello</p>", fromRaw["html_body"])
	require.EqualValues(t, len(raw), fromRaw["raw_size_bytes"])
	require.Len(t, fromRaw["attachments"], 1)

	again := e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "raw-1")
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))

	in := map[string]any{}
	for _, k := range []string{"message_id", "mailbox", "from", "to", "cc", "subject", "text_body", "html_body", "headers", "attachments", "received_at"} {
		in[k] = fromRaw[k]
	}
	body, _ := json.Marshal(in)
	r = e.do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", "json-1")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	fromJSON := r.json(t)
	for k := range in {
		require.Equal(t, fromRaw[k], fromJSON[k], k)
	}

	bad := e.do(http.MethodPost, "/v1/emails", "message/rfc822", []byte("hello world\nthis is not an email\n"), "Idempotency-Key", "raw-2")
	require.Equal(t, http.StatusBadRequest, bad.status, string(bad.body))
	require.Equal(t, "application/problem+json", bad.header.Get("Content-Type"))
}
