package handlers_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireProblem checks a problem+json answer with the given status.
func requireProblem(t *testing.T, r response, status int, what string) {
	t.Helper()
	require.Equal(t, status, r.status, "%s: %s", what, r.body)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), what)
	require.EqualValues(t, status, r.json(t)["status"], what)
}

// TestStringsReachingSQLAreChecked: NUL and invalid UTF-8 in filters,
// headers and JSON bodies are the client's mistake (4xx), never a 500.
func TestStringsReachingSQLAreChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, q := range []string{"message_id=%00", "mailbox=%ff%fe", "idempotency_key=a%00b", "mailbox=ok%c3",
		"sync_status=%00", "cursor=%ff"} {
		requireProblem(t, e.do(http.MethodGet, "/v1/emails?"+q, "", nil), http.StatusBadRequest, q)
	}
	requireProblem(t, e.do(http.MethodGet, "/v1/sync/failures?cursor=%00", "", nil), http.StatusBadRequest, "failures cursor")
	requireProblem(t, e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte(`{"mailbox":"a\u0000b"}`)),
		http.StatusUnprocessableEntity, "NUL in retry mailbox")
	requireProblem(t, e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte("{\"mailbox\":\"a\xffb\"}")),
		http.StatusBadRequest, "invalid UTF-8 in retry mailbox")
	requireProblem(t, e.do(http.MethodPost, "/v1/emails", "application/json", []byte(`{}`), "Idempotency-Key", "k\xff"),
		http.StatusBadRequest, "invalid UTF-8 in Idempotency-Key")
	// A valid filter still works.
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/emails?mailbox=caf%C3%A9", "", nil).status)
}

// TestJSONBodiesNeedJSONAndUTF8: the JSON operations refuse other media
// types with 415, and a body that is not UTF-8 (or carries an unpaired
// surrogate escape) is refused instead of stored with U+FFFD.
func TestJSONBodiesNeedJSONAndUTF8(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, path := range []string{"/v1/emails/batch", "/v1/reconciliations", "/v1/sync/failures/retry"} {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/json; charset=latin1"} {
			requireProblem(t, e.do(http.MethodPost, path, ct, []byte(`{}`)), http.StatusUnsupportedMediaType, path+" as "+ct)
		}
	}
	require.Equal(t, 0, e.count(`SELECT count(*) FROM reconciliation_reports`))

	batch := func(subject string) []byte {
		m := sampleEmail(1)
		m["subject"] = "SUBJ"
		b, err := json.Marshal(map[string]any{"emails": []map[string]any{{"idempotency_key": "u-1", "email": m}}})
		require.NoError(t, err)
		return []byte(string(b[:indexOf(b, "SUBJ")]) + subject + string(b[indexOf(b, "SUBJ")+4:]))
	}
	requireProblem(t, e.do(http.MethodPost, "/v1/emails/batch", "application/json", batch("caf\xe9")),
		http.StatusBadRequest, "Latin-1 byte in a batch")
	requireProblem(t, e.do(http.MethodPost, "/v1/emails/batch", "application/json", batch(`a\ud800b`)),
		http.StatusBadRequest, "unpaired surrogate in a batch")
	requireProblem(t, e.do(http.MethodPost, "/v1/emails/batch", "application/json", batch(`a\u0000b`)),
		http.StatusUnprocessableEntity, "NUL in a batch")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))

	// Escaped backslashes and paired surrogates are fine.
	r := e.do(http.MethodPost, "/v1/emails/batch", "application/json; charset=UTF-8", batch(`\\u0000 \ud83d\ude00`))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var subject string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT subject FROM incoming_emails`).Scan(&subject))
	require.Equal(t, `\u0000 😀`, subject)
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// TestUnknownQueryParametersRefused: an option the operation does not take
// is refused, so ?dry_run=true can never start a repairing run.
func TestUnknownQueryParametersRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	requireProblem(t, e.do(http.MethodPost, "/v1/reconciliations?dry_run=true", "", nil), http.StatusBadRequest, "dry_run as a query parameter")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM reconciliation_reports`))
	r := e.do(http.MethodGet, "/v1/emails?limt=5", "", nil)
	requireProblem(t, r, http.StatusBadRequest, "misspelled limit")
	require.Contains(t, r.json(t)["detail"], "limt")
	requireProblem(t, e.do(http.MethodGet, "/v1/sync/status?verbose=1", "", nil), http.StatusBadRequest, "sync status option")
	// The defined ones still work.
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/emails?limit=5&mailbox=support", "", nil).status)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/reconciliations?limit=10", "", nil).status)
}
