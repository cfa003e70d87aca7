package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/maintenance"
	"mailsync/internal/mongostore"
)

// postRaw posts a raw message under key; headers alternate name, value as
// for do (a name given again sends another line of it).
func (e *env) postRaw(key string, raw []byte, headers ...string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, append([]string{"Idempotency-Key", key}, headers...)...)
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../ingest/testdata/" + name)
	require.NoError(t, err)
	return raw
}

// TestRawMailWithoutHeadersIsStored posts real-world messages that lack
// Message-ID, To, From or Date, with and without an envelope: every one is
// stored (never refused), flagged, listed with ?incomplete=true, and
// replicated to MongoDB with the same content hash.
func TestRawMailWithoutHeadersIsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	envelope := []string{
		"Mailsync-Envelope-From", "<bounces@example.net>",
		"Mailsync-Envelope-To", "a@example.org, <b@example.org>",
		"Mailsync-Envelope-To", "c@example.org",
		"Mailsync-Mailbox", "support",
	}
	tests := []struct {
		file       string
		header     []string
		generated  bool
		from       string
		to         []any
		incomplete bool
	}{
		{file: "no_message_id.eml", generated: true, from: "noreply@example.com", to: []any{"user@example.org"}},
		{file: "no_to_bcc.eml", from: "Newsletter <news@example.com>", to: []any{}, incomplete: true},
		{file: "undisclosed.eml", header: envelope, generated: true, from: "Team <team@example.com>",
			to: []any{"a@example.org", "b@example.org", "c@example.org"}, incomplete: true},
		{file: "bounce_no_from.eml", header: envelope, generated: true, from: "bounces@example.net",
			to: []any{"alice@example.org"}, incomplete: true},
		{file: "no_date.eml", from: "alerts@example.com", to: []any{"ops@example.org"}},
		{file: "bare_minimum.eml", generated: true, from: "", to: []any{}, incomplete: true},
	}
	ids := map[bool][]any{}
	for i, tt := range tests {
		raw := fixture(t, tt.file)
		r := e.postRaw("corpus-"+itoa(i), raw, tt.header...)
		require.Equal(t, http.StatusCreated, r.status, "%s: %s", tt.file, r.body)
		got := r.json(t)
		source := "header"
		if tt.generated {
			source = "generated"
		}
		require.Equal(t, source, got["message_id_source"], tt.file)
		require.Equal(t, tt.incomplete, got["incomplete"], tt.file)
		require.Equal(t, tt.from, got["from"], tt.file)
		require.Equal(t, tt.to, got["to"], tt.file)
		if tt.header != nil {
			require.Equal(t, "bounces@example.net", got["envelope_from"])
			require.Equal(t, []any{"a@example.org", "b@example.org", "c@example.org"}, got["envelope_to"])
			require.Equal(t, "support", got["mailbox"])
		} else {
			require.Equal(t, "", got["envelope_from"])
			require.Equal(t, []any{}, got["envelope_to"])
		}
		ids[tt.incomplete] = append([]any{got["id"]}, ids[tt.incomplete]...) // lists are newest first
	}
	for _, incomplete := range []bool{true, false} {
		q := "false"
		if incomplete {
			q = "true"
		}
		r := e.do(http.MethodGet, "/v1/emails?incomplete="+q, "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var page struct{ Items []map[string]any }
		require.NoError(t, json.Unmarshal(r.body, &page))
		var got []any
		for _, it := range page.Items {
			got = append(got, it["id"])
		}
		require.Equal(t, ids[incomplete], got, "incomplete=%s", q)
	}

	// MongoDB holds the envelope and the flags, and the document's own
	// fields hash to the email's content hash (what reconciliation checks).
	for _, id := range append(ids[true], ids[false]...) {
		e.waitStatus(itoa(int(id.(float64))), "synced")
	}
	var row struct {
		id   int64
		hash string
	}
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT id, content_hash FROM incoming_emails WHERE envelope_from <> '' AND message_id_source = 'generated' ORDER BY id LIMIT 1`).
		Scan(&row.id, &row.hash))
	var doc mongostore.Document
	require.NoError(t, e.mongo.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: row.id}}).Decode(&doc))
	require.Equal(t, "bounces@example.net", doc.EnvelopeFrom)
	require.Equal(t, []string{"a@example.org", "b@example.org", "c@example.org"}, doc.EnvelopeTo)
	require.Equal(t, "generated", doc.MessageIDSource)
	require.True(t, doc.Incomplete)
	require.Equal(t, row.hash, doc.Content().Hash())
}

// TestRawUndatedRetryAfterTTL posts a message without Date or Received
// header: the same bytes under the same key land on one email when
// retried at once (replay), after the key's TTL (200), and after retention
// deleted the key record (200), although each request sees a later clock.
func TestRawUndatedRetryAfterTTL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, envOpts{now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Hour)
		return clock
	}})
	raw := fixture(t, "bare_minimum.eml")
	first := e.postRaw("undated-1", raw)
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	id := first.json(t)["id"]
	require.Equal(t, "2026-12-01T10:00:00Z", first.json(t)["received_at"])

	again := e.postRaw("undated-1", raw)
	require.Equal(t, http.StatusCreated, again.status, string(again.body))
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.body, again.body)

	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	expired := e.postRaw("undated-1", raw)
	require.Equal(t, http.StatusOK, expired.status, string(expired.body))
	require.Equal(t, "true", expired.header.Get("Idempotent-Replayed"))
	require.Equal(t, id, expired.json(t)["id"])
	require.Equal(t, "2026-12-01T10:00:00Z", expired.json(t)["received_at"])

	_, err = e.pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	res, err := maintenance.New(e.pool, &maintenance.Config{}).RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, e.count(`SELECT count(*) FROM idempotency_keys`), "retention removed the key: %v", res)
	deleted := e.postRaw("undated-1", raw)
	require.Equal(t, http.StatusOK, deleted.status, string(deleted.body))
	require.Equal(t, id, deleted.json(t)["id"])

	// Different bytes under the same key are still a different request.
	other := e.postRaw("undated-1", append(raw, "more\r\n"...))
	require.Equal(t, http.StatusUnprocessableEntity, other.status, string(other.body))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails`))
}

// TestRawEnvelopeIsPartOfTheRequest checks that the envelope headers are
// part of what a key identifies, and that they are refused on the JSON path
// while the JSON fields carry the envelope there.
func TestRawEnvelopeIsPartOfTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	raw := fixture(t, "plain.eml")
	r := e.postRaw("env-1", raw, "Mailsync-Envelope-To", "<x@example.org>")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	same := e.postRaw("env-1", raw, "Mailsync-Envelope-To", "x@example.org")
	require.Equal(t, "true", same.header.Get("Idempotent-Replayed"), string(same.body))
	other := e.postRaw("env-1", raw, "Mailsync-Envelope-To", "y@example.org")
	require.Equal(t, http.StatusUnprocessableEntity, other.status, string(other.body))
	twice := e.postRaw("env-2", raw, "Mailsync-Mailbox", "a", "Mailsync-Mailbox", "b")
	require.Equal(t, http.StatusBadRequest, twice.status, string(twice.body))

	in := sampleEmail(1)
	body, _ := json.Marshal(in)
	hdr := e.do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", "json-1", "Mailsync-Mailbox", "x")
	require.Equal(t, http.StatusBadRequest, hdr.status, string(hdr.body))
	require.Contains(t, string(hdr.body), "envelope_from")

	in["envelope_from"] = "alice@example.com"
	in["envelope_to"] = []string{"support@example.org"}
	j := e.postEmail("json-2", in).json(t)
	require.Equal(t, "alice@example.com", j["envelope_from"])
	require.Equal(t, []any{"support@example.org"}, j["envelope_to"])
	require.Equal(t, "header", j["message_id_source"])
	require.Equal(t, false, j["incomplete"])
	delete(in, "from")
	require.Equal(t, http.StatusUnprocessableEntity, e.postEmail("json-3", in).status, "the JSON path stays strict")
}

// TestRawSentWithCurlDataIsRefused checks that a message whose line breaks
// were stripped (curl -d) is refused with a hint instead of being stored as
// one long header.
func TestRawSentWithCurlDataIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	stripped := bytes.ReplaceAll(bytes.ReplaceAll(fixture(t, "plain.eml"), []byte("\r"), nil), []byte("\n"), nil)
	r := e.postRaw("curl-d", stripped)
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	require.Contains(t, string(r.body), "--data-binary")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
}
