package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

func TestEraseEmailLeavesTombstoneAndRemovesDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	ctx := context.Background()
	keep := e.create("keep-1", sampleEmail(2))
	body := sampleEmail(1)
	id := e.create("del-1", body)
	path := "/v1/emails/" + itoa(int(id))
	e.waitSynced(id)
	_, ok := e.mongoDoc(id)
	require.True(t, ok)

	require.Equal(t, http.StatusForbidden, e.do(http.MethodDelete, path, "", nil, "Authorization", "Bearer "+tokenOther).status)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/emails/424242", "", nil).status)

	r := e.do(http.MethodDelete, path, "application/json", []byte(`{"reason": "GDPR request 7"}`))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	tomb := r.json(t)
	require.Equal(t, "ops", tomb["erased_by"])
	require.Equal(t, "GDPR request 7", tomb["erase_reason"])
	require.NotEmpty(t, tomb["erased_at"])
	require.Equal(t, "del-1", tomb["idempotency_key"])
	require.NotContains(t, tomb, "from")
	require.NotContains(t, string(r.body), "alice")

	// Every personal field is cleared; identity and timestamps stay.
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails WHERE id = $1 AND from_address = '' AND message_id = ''
		AND to_addresses = '{}' AND cc_addresses = '{}' AND subject = '' AND text_body = '' AND html_body = ''
		AND headers = '{}' AND attachments = '[]' AND mailbox = '' AND labels = '{}' AND raw_size_bytes = 0
		AND client_id = 'ops' AND idempotency_key = 'del-1' AND erased_at IS NOT NULL`, id))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM idempotency_keys WHERE key = 'del-1' AND response_status = 410`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM idempotency_keys WHERE key = 'keep-1' AND response_status = 201`))

	// The relay removes the document; the sync status follows.
	testwait.Until(t, time.Minute, "the document to go", func() bool { _, ok := e.mongoDoc(id); return !ok })
	e.waitSynced(id)
	_, ok = e.mongoDoc(keep)
	require.True(t, ok)

	require.Len(t, e.do(http.MethodGet, "/v1/emails", "", nil).json(t)["items"], 1, "tombstones are not listed")

	// GET is 410 with the tombstone.
	g := e.do(http.MethodGet, path, "", nil)
	require.Equal(t, http.StatusGone, g.status, string(g.body))
	require.Equal(t, "GDPR request 7", g.json(t)["erase_reason"])
	require.Equal(t, http.StatusGone, e.do(http.MethodDelete, path, "", nil).status)
	require.Equal(t, http.StatusGone, e.patch(id, `"2"`, `{"labels": ["x"]}`).status)

	// The erased email's key is Gone: same body, another body, a batch item,
	// and after the key record expired. Never a new email.
	for _, b := range []map[string]any{body, sampleEmail(9)} {
		p := e.postEmail("del-1", b)
		require.Equal(t, http.StatusGone, p.status, string(p.body))
		require.Equal(t, "application/problem+json", p.header.Get("Content-Type"))
	}
	batch := e.do(http.MethodPost, "/v1/emails/batch", "application/json",
		[]byte(fmt.Sprintf(`{"emails": [{"idempotency_key": "del-1", "email": %s}]}`, mustJSON(t, body))))
	require.Equal(t, http.StatusOK, batch.status, string(batch.body))
	require.EqualValues(t, 410, batch.json(t)["results"].([]any)[0].(map[string]any)["status"])
	_, err := e.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = 'del-1'`)
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, e.postEmail("del-1", body).status)
	require.Equal(t, http.StatusGone, e.postEmail("del-1", body).status, "also once the new key record says so")
	require.Equal(t, 2, e.count(`SELECT count(*) FROM incoming_emails`))

	audit := e.do(http.MethodGet, "/v1/audit", "", nil).json(t)["items"].([]any)
	require.Len(t, audit, 1)
	ev := audit[0].(map[string]any)
	require.Equal(t, "email.erase", ev["action"])
	require.Equal(t, "email:"+itoa(int(id)), ev["target"])
	// The trail keeps that a reason was given, never its text (it may name
	// the person). (Failed before: the reason was in the event.)
	require.Equal(t, true, ev["details"].(map[string]any)["reason_given"])
	require.NotContains(t, string(e.do(http.MethodGet, "/v1/audit", "", nil).body), "GDPR request 7")
	require.Zero(t, e.count(`SELECT count(*) FROM audit_events WHERE details::text LIKE '%GDPR request 7%'`))
}

func TestErasureJobErasesExactlyTheMatchingEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	var want, rest []int64
	for i := range 40 {
		b := sampleEmail(i)
		match := true
		switch i % 5 {
		case 0:
			b["from"] = "Alice Doe <Alice@Example.com>"
		case 1:
			b["to"] = []string{"bob@example.org", "alice@example.com"}
		case 2:
			b["cc"] = []string{"\"A.\" <alice@example.com>"}
		case 3:
			b["from"], match = "malice@example.com", false // a longer address that contains it
		default:
			b["from"], match = "bob@example.org", false
		}
		id := e.create(fmt.Sprint("j-", i), b)
		if match {
			want = append(want, id)
		} else {
			rest = append(rest, id)
		}
	}
	e.waitDrained()

	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"address": "alice@example.com"}`)).status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{}`), "Idempotency-Key", "e-0").status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"address": "nobody"}`), "Idempotency-Key", "e-00").status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"mailbox": ""}`), "Idempotency-Key", "e-000").status,
		"an empty mailbox would erase every email without one")
	require.Equal(t, http.StatusForbidden, e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"address": "alice@example.com"}`),
		"Idempotency-Key", "e-1", "Authorization", "Bearer "+tokenOther).status)

	req := []byte(`{"address": " ALICE@example.com ", "reason": "request 2026-118"}`)
	r := e.do(http.MethodPost, "/v1/erasures", "application/json", req, "Idempotency-Key", "e-1")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	job := r.json(t)
	loc := r.header.Get("Location")
	require.Equal(t, "/v1/erasures/"+itoa(int(job["id"].(float64))), loc)
	require.Equal(t, "alice@example.com", job["criteria"].(map[string]any)["address"])
	again := e.do(http.MethodPost, "/v1/erasures", "application/json", req, "Idempotency-Key", "e-1")
	require.Equal(t, http.StatusAccepted, again.status)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, job["id"], again.json(t)["id"])
	require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodPost, "/v1/erasures", "application/json",
		[]byte(`{"mailbox": "support"}`), "Idempotency-Key", "e-1").status)

	var done map[string]any
	testwait.Until(t, time.Minute, "the erasure job", func() bool {
		done = e.do(http.MethodGet, loc, "", nil).json(t)
		return done["status"] == "completed"
	})
	require.EqualValues(t, len(want), done["matched"])
	require.EqualValues(t, len(want), done["erased"])
	require.Equal(t, "ops", done["requested_by"])
	list := e.do(http.MethodGet, "/v1/erasures", "", nil)
	require.Equal(t, http.StatusOK, list.status)
	require.Len(t, list.json(t)["items"], 1)
	require.Equal(t, http.StatusForbidden, e.do(http.MethodGet, loc, "", nil, "Authorization", "Bearer "+tokenRead).status)

	erased := dbtest.Column[int64](t, e.pool, `SELECT id FROM incoming_emails WHERE erased_at IS NOT NULL ORDER BY id`)
	require.Equal(t, want, erased)
	e.waitDrained()
	for _, id := range want {
		_, ok := e.mongoDoc(id)
		require.False(t, ok, "email %d erased from MongoDB", id)
	}
	for _, id := range rest {
		d, ok := e.mongoDoc(id)
		require.True(t, ok, "email %d untouched", id)
		require.NotEmpty(t, d.From)
	}

	// A reconciliation agrees: tombstones without documents are correct.
	rec := e.do(http.MethodPost, "/v1/reconciliations", "", nil)
	require.Equal(t, http.StatusAccepted, rec.status)
	report := e.waitReconciliation(rec.header.Get("Location"))
	require.Equal(t, "completed", report["status"])
	require.EqualValues(t, 0, report["mismatches_found"], string(mustJSON(t, report)))

	var actions []string
	for _, ev := range e.do(http.MethodGet, "/v1/audit?limit=500", "", nil).json(t)["items"].([]any) {
		actions = append(actions, ev.(map[string]any)["action"].(string))
	}
	require.Contains(t, actions, "erasure.start")
	require.Contains(t, actions, "erasure.batch")
	require.Contains(t, actions, "reconciliation.start")
	require.Equal(t, len(actions)-2, strings.Count(strings.Join(actions, ","), "erasure.batch"))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// Erasures committed while no relay runs are carried out when one starts.
func TestErasureCompletesInMongoAfterRelayRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		b := sampleEmail(i)
		b["cc"] = []string{"carol@example.com"}
		ids = append(ids, e.create(fmt.Sprint("r-", i), b))
	}
	first := relay.New(e.pool, e.mongo, &relay.Config{Workers: 1, PollInterval: 20 * time.Millisecond})
	require.NoError(t, first.Start(ctx))
	e.waitDrained()
	require.NoError(t, first.Stop(context.Background())) // the relay goes away before the erasure
	r := e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"address": "carol@example.com"}`), "Idempotency-Key", "r-job")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	testwait.Until(t, time.Minute, "the job", func() bool {
		return e.do(http.MethodGet, r.header.Get("Location"), "", nil).json(t)["status"] == "completed"
	})
	for _, id := range ids {
		_, ok := e.mongoDoc(id)
		require.True(t, ok, "no relay ran yet")
	}
	second := relay.New(e.pool, e.mongo, &relay.Config{Workers: 1, PollInterval: 20 * time.Millisecond})
	require.NoError(t, second.Start(ctx))
	t.Cleanup(func() { require.NoError(t, second.Stop(context.Background())) })
	e.waitDrained()
	for _, id := range ids {
		_, ok := e.mongoDoc(id)
		require.False(t, ok, "email %d", id)
		e.waitSynced(id)
	}
}
