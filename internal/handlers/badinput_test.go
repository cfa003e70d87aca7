package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateEmailBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	valid := func(mut func(m map[string]any)) []byte {
		m := sampleEmail(1)
		mut(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	cases := []struct {
		name, contentType string
		body              []byte
		status            int
	}{
		{"malformed JSON", "application/json", []byte(`{"message_id":`), 400},
		{"not an object", "application/json", []byte(`[1,2]`), 400},
		{"empty body", "application/json", nil, 400},
		{"wrong type", "application/json", []byte(`{"to":"a@b"}`), 400},
		{"missing message_id", "application/json", valid(func(m map[string]any) { delete(m, "message_id") }), 422},
		{"missing from", "application/json", valid(func(m map[string]any) { delete(m, "from") }), 422},
		{"empty to", "application/json", valid(func(m map[string]any) { m["to"] = []string{} }), 422},
		{"missing received_at", "application/json", valid(func(m map[string]any) { delete(m, "received_at") }), 422},
		{"bad timestamp", "application/json", valid(func(m map[string]any) { m["received_at"] = "yesterday" }), 400},
		{"NUL in subject", "application/json", valid(func(m map[string]any) { m["subject"] = "a\x00b" }), 422},
		{"NUL in header", "application/json", valid(func(m map[string]any) { m["headers"] = map[string][]string{"X": {"\x00"}} }), 422},
		{"over-long subject", "application/json", valid(func(m map[string]any) { m["subject"] = strings.Repeat("s", 10001) }), 422},
		{"over-long message_id", "application/json", valid(func(m map[string]any) { m["message_id"] = strings.Repeat("m", 999) }), 422},
		{"bad sha256", "application/json", valid(func(m map[string]any) {
			m["attachments"] = []map[string]any{{"filename": "a", "content_type": "x/y", "size_bytes": 1, "sha256": "zz"}}
		}), 422},
		{"invalid UTF-8", "application/json", append([]byte(`{"message_id":"<a@b>","from":"`), 0xff, 0xfe, '"', '}'), 400},
		{"unsupported type", "text/plain", []byte("hello"), 415},
		{"too large", "application/json", bytes.Repeat([]byte(" "), 2<<20), 413},
	}
	for i, c := range cases {
		r := e.do(http.MethodPost, "/v1/emails", c.contentType, c.body, "Idempotency-Key", "bad-"+itoa(i))
		require.Equal(t, c.status, r.status, c.name+": "+string(r.body))
		require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), c.name)
		p := r.json(t)
		require.NotEmpty(t, p["title"], c.name)
		require.NotEmpty(t, p["detail"], c.name)
		require.EqualValues(t, c.status, p["status"], c.name)
	}
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM idempotency_keys`))
}

func TestCreateEmailBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	require.Equal(t, http.StatusCreated, e.postEmail("b-0", sampleEmail(0)).status)
	bad := sampleEmail(2)
	bad["to"] = []string{}
	items := []map[string]any{
		{"idempotency_key": "b-0", "email": sampleEmail(0)}, // replay of a single request
		{"idempotency_key": "b-1", "email": sampleEmail(1)},
		{"idempotency_key": "b-2", "email": bad},
		{"idempotency_key": "b-3", "email": sampleEmail(3)},
		{"idempotency_key": "b-0", "email": sampleEmail(9)}, // repeated key
	}
	b, _ := json.Marshal(map[string]any{"emails": items})
	r := e.do(http.MethodPost, "/v1/emails/batch", "application/json", b)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var out struct {
		Results []struct {
			IdempotencyKey string         `json:"idempotency_key"`
			Status         int            `json:"status"`
			Email          map[string]any `json:"email"`
			Error          map[string]any `json:"error"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Len(t, out.Results, 5)
	want := []int{201, 201, 422, 201, 422}
	for i, res := range out.Results {
		require.Equal(t, want[i], res.Status, "item %d: %+v", i, res)
		require.Equal(t, items[i]["idempotency_key"], res.IdempotencyKey)
	}
	require.NotNil(t, out.Results[1].Email)
	require.NotNil(t, out.Results[2].Error)
	require.Equal(t, 3, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 3, e.count(`SELECT count(*) FROM outbox_messages`))

	// Replaying the whole batch stores nothing new.
	r = e.do(http.MethodPost, "/v1/emails/batch", "application/json", b)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 3, e.count(`SELECT count(*) FROM incoming_emails`))

	tooMany := make([]map[string]any, 501)
	for i := range tooMany {
		tooMany[i] = map[string]any{"idempotency_key": "m-" + itoa(i), "email": sampleEmail(i)}
	}
	b, _ = json.Marshal(map[string]any{"emails": tooMany})
	require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodPost, "/v1/emails/batch", "application/json", b).status)
}

func TestListEmailsFiltersAndCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for i := range 5 {
		m := sampleEmail(i)
		if i%2 == 0 {
			m["mailbox"] = "sales"
		}
		require.Equal(t, http.StatusCreated, e.postEmail("l-"+itoa(i), m).status)
	}
	page := e.do(http.MethodGet, "/v1/emails?limit=2", "", nil)
	require.Equal(t, http.StatusOK, page.status)
	p := page.json(t)
	require.Len(t, p["items"], 2)
	seen := len(p["items"].([]any))
	for p["next_cursor"] != nil {
		page = e.do(http.MethodGet, "/v1/emails?limit=2&cursor="+p["next_cursor"].(string), "", nil)
		require.Equal(t, http.StatusOK, page.status)
		p = page.json(t)
		seen += len(p["items"].([]any))
	}
	require.Equal(t, 5, seen)

	sales := e.do(http.MethodGet, "/v1/emails?mailbox=sales", "", nil).json(t)
	require.Len(t, sales["items"], 3)
	byKey := e.do(http.MethodGet, "/v1/emails?idempotency_key=l-3", "", nil).json(t)
	require.Len(t, byKey["items"], 1)
	msgID := byKey["items"].([]any)[0].(map[string]any)["message_id"].(string)
	byMsg := e.do(http.MethodGet, "/v1/emails?message_id="+strings.NewReplacer("<", "%3C", ">", "%3E", "@", "%40").Replace(msgID), "", nil).json(t)
	require.Len(t, byMsg["items"], 1)
	pending := e.do(http.MethodGet, "/v1/emails?sync_status=pending&received_after=2026-11-27T09:00:00Z&received_before=2026-11-27T11:00:00Z", "", nil).json(t)
	require.Len(t, pending["items"], 5)

	for _, q := range []string{"limit=0", "limit=501", "cursor=zzz", "sync_status=lost", "received_after=soon", "limit=abc"} {
		r := e.do(http.MethodGet, "/v1/emails?"+q, "", nil)
		require.Equal(t, http.StatusBadRequest, r.status, q+": "+string(r.body))
	}
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/emails/999999", "", nil).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/v1/emails/abc", "", nil).status)
}
