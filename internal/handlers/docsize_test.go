package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/testwait"
)

// TestEmailOverMongoDBDocumentLimitIsStored: a JSON email whose text_body
// alone passes MongoDB's 16 MiB document limit is stored and synced: the
// document keeps a reference (text_body_sha256) to a GridFS blob holding
// the text, the API returns the whole text, and reconciliation finds the
// stores in agreement. A raw message of about 20 MB whose size is in its
// attachments is stored and replicated with its blobs.
func TestEmailOverMongoDBDocumentLimitIsStored(t *testing.T) {
	t.Parallel()
	// A 20 MB MIME parse under the race detector outlasts the default
	// request deadline; the deadline is not what this test is about.
	e := newEnv(t, envOpts{relay: true, maxBody: 50 << 20, requestTimeout: 5 * time.Minute})

	big := bigEmail(t, 1, 17*1024*1024)
	r := e.do(http.MethodPost, "/v1/emails", "application/json", big, "Idempotency-Key", "big-json")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := int64(r.json(t)["id"].(float64))
	e.waitSynced(id)
	var doc bson.M
	require.NoError(t, e.mongo.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc))
	text := strings.Repeat("x", 17*1024*1024)
	require.Equal(t, "", doc["text_body"])
	require.Equal(t, sha([]byte(text)), doc["text_body_sha256"])
	require.Equal(t, sha([]byte(text)), gridFSSHA256(t, e.mongo, sha([]byte(text))))
	got := e.do(http.MethodGet, "/v1/emails/"+itoa(int(id)), "", nil)
	require.Equal(t, http.StatusOK, got.status)
	require.Len(t, got.json(t)["text_body"], len(text))
	rec := e.do(http.MethodPost, "/v1/reconciliations", "", nil)
	require.Equal(t, http.StatusAccepted, rec.status)
	report := e.waitReconciliation(rec.header.Get("Location"))
	require.EqualValues(t, 0, report["mismatches_found"], string(mustJSON(t, report)))

	raw := bigRawMessage(2, 7_300_000)
	require.Greater(t, len(raw), 19_000_000)
	r = e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "big-raw")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Len(t, r.json(t)["attachments"], 2)
	e.waitSynced(int64(r.json(t)["id"].(float64)))
}

// TestFortyMegabyteRawMessage stores a 40 MB raw message with two
// attachments: it is synced, and each attachment downloads with the right
// SHA-256 from the API and from GridFS, as does the message itself.
func TestFortyMegabyteRawMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true, maxBody: 50 << 20, requestTimeout: 5 * time.Minute})
	a, b := randomBytes(t, 15_000_000), randomBytes(t, 14_500_000)
	raw := rawMessage("forty megabytes",
		mimePart{filename: "scan-a.pdf", contentType: "application/pdf", data: a},
		mimePart{filename: "scan-b.tiff", contentType: "image/tiff", data: b})
	require.Greater(t, len(raw), 40_000_000)
	r := e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "forty")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := int64(r.json(t)["id"].(float64))
	testwait.Until(t, 5*time.Minute, "the 40 MB email to sync", func() bool {
		return e.count(`SELECT count(*) FROM incoming_emails WHERE id = $1 AND sync_status = 'synced'`, id) == 1
	})
	for i, want := range [][]byte{a, b} {
		got := e.do(http.MethodGet, "/v1/emails/"+itoa(int(id))+"/attachments/"+itoa(i), "", nil)
		require.Equal(t, http.StatusOK, got.status)
		require.Equal(t, sha(want), sha(got.body), "attachment %d from the API", i)
		require.Equal(t, reprDigest(want), got.header.Get("Repr-Digest"))
		require.Equal(t, sha(want), gridFSSHA256(t, e.mongo, sha(want)), "attachment %d from GridFS", i)
	}
	got := e.do(http.MethodGet, "/v1/emails/"+itoa(int(id))+"/raw", "", nil)
	require.Equal(t, sha(raw), sha(got.body))
	require.Equal(t, sha(raw), gridFSSHA256(t, e.mongo, sha(raw)))
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
