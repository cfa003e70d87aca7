package handlers_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/limits"
)

// randomCJK returns n random CJK ideographs (3 bytes each in UTF-8): text
// that PostgreSQL cannot compress to fit an index row.
func randomCJK(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x4e00 + r.IntN(0x5200)))
	}
	return b.String()
}

// TestLongMessageIDIsRefusedOrReplacedNeverA500: message_id is indexed, and
// a btree index row holds at most 2,704 bytes, while the character limit
// (998) let through 2,994 bytes of CJK text. Such a message id was a 500
// from the index at insert, on the JSON and on the raw path (an MTA retried
// it for ever). Now the JSON path refuses it with a 422 naming the field
// (single and in a batch), an id at the byte limit is stored and synced to
// MongoDB (whose index holds it too), and a raw message is stored with a
// generated id and the message_id_too_long defect. (Failed before: 500.)
func TestLongMessageIDIsRefusedOrReplacedNeverA500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	long := "<" + randomCJK(1, 990) + "@x>"
	require.Greater(t, len(long), 2704)

	in := sampleEmail(1)
	in["message_id"] = long
	r := e.postEmail("long-json", in)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	require.Contains(t, string(r.body), `"field":"message_id"`)
	require.Contains(t, string(r.body), "2000 bytes")

	batch, err := json.Marshal(map[string]any{"emails": []any{
		map[string]any{"idempotency_key": "long-batch-1", "email": in},
		map[string]any{"idempotency_key": "long-batch-2", "email": sampleEmail(2)},
	}})
	require.NoError(t, err)
	r = e.do(http.MethodPost, "/v1/emails/batch", "application/json", batch)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var results struct {
		Results []struct {
			Status int `json:"status"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(r.body, &results))
	require.Equal(t, http.StatusUnprocessableEntity, results.Results[0].Status)
	require.Equal(t, http.StatusCreated, results.Results[1].Status)

	atLimit := "<" + randomCJK(2, (limits.MessageIDBytes-4)/3) + "@x>"
	require.LessOrEqual(t, len(atLimit), limits.MessageIDBytes)
	require.Greater(t, len(atLimit), limits.MessageIDBytes-4)
	in["message_id"] = atLimit
	id := e.create("at-limit", in)
	e.waitSynced(id)
	doc, ok := e.mongoDoc(id)
	require.True(t, ok)
	require.Equal(t, atLimit, doc.MessageID)

	raw := []byte("From: a@example.com\r\nTo: b@example.org\r\nMessage-ID: " + long + "\r\nSubject: long id\r\n\r\nHello\r\n")
	r = e.postRaw("long-raw", raw)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	got := r.json(t)
	require.Equal(t, "generated", got["message_id_source"])
	require.Contains(t, got["message_id"], "@mailsync.invalid>")
	require.Contains(t, got["parse_defects"], "message_id_too_long")
	e.waitSynced(int64(got["id"].(float64)))
}
