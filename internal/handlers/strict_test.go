package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAnotherClientsIngestKeyLearnsNothing is finding 1: an ingest-only key
// read and changed any client's email through PATCH (the 412 told it the
// version; the PATCH with that version answered the whole email). Now
// every answer about another client's email is the 404 of an email that
// does not exist, and nothing changes. (Failed before: 412 with the
// version, then 200 with the body.)
func TestAnotherClientsIngestKeyLearnsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	id := e.createAs(tokenIngest, "mine-1")
	path := "/v1/emails/" + itoa(int(id))
	rival := []string{"Authorization", "Bearer " + tokenRival}
	notFound := fmt.Sprintf("email %d not found", id)

	for name, r := range map[string]response{
		"stale version":   e.do(http.MethodPatch, path, "application/json", []byte(`{"labels":["x"]}`), append(rival, "If-Match", `"7"`)...),
		"current version": e.do(http.MethodPatch, path, "application/json", []byte(`{"labels":["x"]}`), append(rival, "If-Match", `"1"`)...),
		"no If-Match":     e.do(http.MethodPatch, path, "application/json", []byte(`{"labels":["x"]}`), rival...),
		"invalid body":    e.do(http.MethodPatch, path, "application/json", []byte(`{"labels":[""],"x":1}`), append(rival, "If-Match", `"1"`)...),
		"get":             e.do(http.MethodGet, path, "", nil, rival...),
		"get sync":        e.do(http.MethodGet, path+"/sync", "", nil, rival...),
	} {
		require.Equal(t, http.StatusNotFound, r.status, "%s: %s", name, r.body)
		require.Equal(t, notFound, r.json(t)["detail"], name)
		require.NotContains(t, string(r.body), "version", name)
		require.NotContains(t, string(r.body), "example", name)
		require.Empty(t, r.header.Get("ETag"), name)
	}
	// The same answer as for an email that does not exist.
	missing := e.do(http.MethodPatch, "/v1/emails/424242", "application/json", []byte(`{"labels":["x"]}`), append(rival, "If-Match", `"1"`)...)
	require.Equal(t, http.StatusNotFound, missing.status)
	require.Equal(t, "email 424242 not found", missing.json(t)["detail"])
	require.Equal(t, 1, e.count(`SELECT version FROM incoming_emails WHERE id = $1`, id), "nothing changed")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM audit_events`))

	// The owning client's ingest key reads it, is told its version, changes it.
	mine := []string{"Authorization", "Bearer " + tokenIngest}
	r := e.do(http.MethodGet, path, "", nil, mine...)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, `"1"`, r.header.Get("ETag"))
	r = e.do(http.MethodPatch, path, "application/json", []byte(`{"labels":["x"]}`), append(mine, "If-Match", `"7"`)...)
	require.Equal(t, http.StatusPreconditionFailed, r.status, string(r.body))
	require.Contains(t, r.json(t)["detail"], "version 1")
	r = e.do(http.MethodPatch, path, "application/json", []byte(`{"labels":["x"]}`), append(mine, "If-Match", `"1"`)...)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, `"2"`, r.header.Get("ETag"))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM audit_events WHERE action = 'email.patch' AND client_id = 'mta' AND target = $1`,
		fmt.Sprint("email:", id)), "the owner's patch is audited")
	// An erased email of another client is still only "not found" to it.
	require.Equal(t, http.StatusOK, e.do(http.MethodDelete, path, "", nil).status)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, path, "", nil, rival...).status)
	require.Equal(t, http.StatusGone, e.do(http.MethodGet, path, "", nil, mine...).status)
}

// TestUnknownMembersAreRefused is finding 2 and issue 24's PATCH messages:
// every JSON body is read as the contract says (additionalProperties:
// false). A misspelled member is a 422 naming it, and nothing happens.
// (Failed before: "adress" was ignored and every email of the mailbox was
// erased; {"dryRun": true} started a repairing run.)
func TestUnknownMembersAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	id := e.create("strict-1", sampleEmail(1))
	path := "/v1/emails/" + itoa(int(id))
	withExtra := sampleEmail(2)
	withExtra["subjekt"] = "x"
	email, err := json.Marshal(withExtra)
	require.NoError(t, err)
	item, err := json.Marshal(map[string]any{"emails": []any{
		map[string]any{"idempotency_key": "b-1", "email": sampleEmail(3)},
		map[string]any{"idempotency_key": "b-2", "email": withExtra, "priority": 1}}})
	require.NoError(t, err)

	for name, c := range map[string]struct {
		method, path string
		body         string
		headers      []string
		fields       []string
	}{
		"erasure":        {http.MethodPost, "/v1/erasures", `{"adress": "alice@example.com", "mailbox": "support"}`, []string{"Idempotency-Key", "e-1"}, []string{"adress"}},
		"reconciliation": {http.MethodPost, "/v1/reconciliations", `{"dryRun": true}`, nil, []string{"dryRun"}},
		"patch":          {http.MethodPatch, path, `{"subject": "hi"}`, []string{"If-Match", `"1"`}, []string{"subject"}},
		"patch nested":   {http.MethodPatch, path, `{"labels": ["a"], "mailbox": "b", "x": {"y": 1}}`, []string{"If-Match", `"1"`}, []string{"x"}},
		"delete":         {http.MethodDelete, path, `{"reson": "typo"}`, nil, []string{"reson"}},
		"retry failures": {http.MethodPost, "/v1/sync/failures/retry", `{"mailbx": "support"}`, nil, []string{"mailbx"}},
		"email":          {http.MethodPost, "/v1/emails", string(email), []string{"Idempotency-Key", "s-2"}, []string{"subjekt"}},
		"batch item":     {http.MethodPost, "/v1/emails/batch", string(item), nil, []string{"emails[1].email.subjekt", "emails[1].priority"}},
		"attachment": {http.MethodPost, "/v1/emails", `{"message_id":"<a@b>","from":"a@b.c","to":["d@e.f"],"received_at":"2026-11-27T10:00:00Z",
			"attachments":[{"filename":"a","content_type":"text/plain","size_bytes":1,"sha256":"` + fmt.Sprintf("%064d", 0) + `","data":"AA=="}]}`,
			[]string{"Idempotency-Key", "s-3"}, []string{"attachments[0].data"}},
	} {
		r := e.do(c.method, c.path, "application/json", []byte(c.body), c.headers...)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", name, r.body)
		p := r.json(t)
		var fields []string
		for _, f := range p["errors"].([]any) {
			fields = append(fields, f.(map[string]any)["field"].(string))
		}
		require.Equal(t, c.fields, fields, name)
		for _, f := range c.fields {
			require.Contains(t, p["detail"], f, name)
		}
	}
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails`), "nothing was stored")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails WHERE version = 1 AND erased_at IS NULL`), "nothing changed")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM erasure_jobs`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM reconciliation_reports`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM audit_events`))

	// Free-form maps take any name; a body that is not JSON is still a 400.
	ok := sampleEmail(4)
	ok["headers"] = map[string][]string{"X-Anything-At-All": {"1"}}
	require.Equal(t, http.StatusCreated, e.postEmail("s-4", ok).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/v1/reconciliations", "application/json", []byte(`{"dryRun": tru`)).status)

	// PATCH {} says what it needs, once.
	r := e.patch(id, `"1"`, `{}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.Equal(t, "mailbox or labels is required", r.json(t)["detail"])
}

// TestIfMatchIsOneQuotedEntityTag: GET sends the version as ETag, and
// PATCH takes it back only as a quoted entity tag; a bare number is a 400
// (issue 24).
func TestIfMatchIsOneQuotedEntityTag(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	id := e.create("etag-1", sampleEmail(1))
	r := e.do(http.MethodGet, "/v1/emails/"+itoa(int(id)), "", nil)
	require.Equal(t, http.StatusOK, r.status)
	etag := r.header.Get("ETag")
	require.Equal(t, `"1"`, etag)
	for _, bad := range []string{`1`, `W/"1"`, `*`, `"1", "2"`, `"01"`, `""`, `"1`, `"-1"`, `"0"`} {
		r := e.patch(id, bad, `{"labels": ["x"]}`)
		require.Equal(t, http.StatusBadRequest, r.status, "If-Match: %s: %s", bad, r.body)
	}
	require.Equal(t, 1, e.count(`SELECT version FROM incoming_emails WHERE id = $1`, id))
	r = e.patch(id, etag, `{"labels": ["x"]}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, `"2"`, e.do(http.MethodGet, "/v1/emails/"+itoa(int(id)), "", nil).header.Get("ETag"))
}
