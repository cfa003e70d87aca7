package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// TestEmailOverMongoDBDocumentLimitIsRefused: a JSON email within
// MAX_BODY_BYTES whose text_body makes its MongoDB document exceed 16 MiB is
// refused with 413 naming the limit, and nothing is stored; a raw message of
// about 20 MB whose size is in its attachments (kept as blobs) is stored
// and replicated.
func TestEmailOverMongoDBDocumentLimitIsRefused(t *testing.T) {
	t.Parallel()
	// A 20 MB MIME parse under the race detector outlasts the default
	// request deadline; the deadline is not what this test is about.
	e := newEnv(t, envOpts{relay: true, maxBody: 25 << 20, requestTimeout: 5 * time.Minute})

	tooBig := bigEmail(t, 1, 16*1024*1024+1000)
	require.Less(t, len(tooBig), 25<<20)
	r := e.do(http.MethodPost, "/v1/emails", "application/json", tooBig, "Idempotency-Key", "too-big")
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	require.Contains(t, r.json(t)["detail"], "16777216 bytes (16 MiB)")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM idempotency_keys`))

	raw := bigRawMessage(2, 7_300_000)
	require.Greater(t, len(raw), 19_000_000)
	r = e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "big-raw")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	got := r.json(t)
	require.Len(t, got["attachments"], 2)
	id := int64(got["id"].(float64))
	// The raw message and its attachment bytes (one blob: both parts are
	// the same) are relayed with it, about 27 MB to GridFS.
	testwait.Until(t, 3*time.Minute, "the big raw email to become synced", func() bool {
		return e.count(`SELECT count(*) FROM incoming_emails WHERE id = $1 AND sync_status = 'synced'`, id) == 1
	})
	n, err := e.mongo.Coll().CountDocuments(context.Background(), map[string]any{"_id": id})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// bigRawMessage is an RFC 5322 message with a short text body and n
// base64-encoded attachments of size bytes each.
func bigRawMessage(n, size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Alice <alice@example.com>\r\nTo: support@example.org\r\nSubject: scans\r\n" +
		"Message-ID: <big-raw@example.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe scans.\r\n")
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	enc := base64.StdEncoding.EncodeToString(data)
	for i := range n {
		fmt.Fprintf(&b, "--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"+
			"Content-Disposition: attachment; filename=\"scan%d.pdf\"\r\n\r\n", i)
		for len(enc) > 0 {
			line := enc[:min(76, len(enc))]
			b.WriteString(line + "\r\n")
			enc = enc[len(line):]
		}
		enc = base64.StdEncoding.EncodeToString(data)
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}
