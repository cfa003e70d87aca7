package handlers_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// mimePart is one attachment of a test message.
type mimePart struct {
	filename, contentType, contentID string
	data                             []byte
}

// rawMessage builds a multipart/mixed message with a text body and parts
// (base64, lines of 76 characters).
func rawMessage(subject string, parts ...mimePart) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Alice <alice@example.com>\r\nTo: support@example.org\r\nSubject: %s\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: <%s@example.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n", strings.ReplaceAll(subject, " ", "."))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n")
	b.WriteString("--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachments.\r\n")
	for _, p := range parts {
		fmt.Fprintf(&b, "--BOUNDARY\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n", p.contentType)
		if p.contentID != "" {
			fmt.Fprintf(&b, "Content-ID: <%s>\r\nContent-Disposition: inline\r\n\r\n", p.contentID)
		} else {
			fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n", p.filename)
		}
		enc := base64.StdEncoding.EncodeToString(p.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--BOUNDARY--\r\n")
	return b.Bytes()
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func reprDigest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

// TestRawMessageAndAttachmentsRoundTrip stores a raw message with two
// attachments and an inline image, and reads back the original bytes and
// each part's bytes, byte for byte, with their digests.
func TestRawMessageAndAttachmentsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{maxBody: 8 << 20, requestTimeout: slowRequestTimeout})
	pdf, zip, png := randomBytes(t, 700_000), randomBytes(t, 300_001), randomBytes(t, 5000)
	raw := rawMessage("round trip",
		mimePart{filename: "../../etc/Rechnung März.pdf", contentType: "application/pdf", data: pdf},
		mimePart{filename: "b.zip", contentType: "application/zip", data: zip},
		mimePart{contentID: "logo@x", contentType: "image/png", data: png})
	r := e.do(http.MethodPost, "/v1/emails", "message/rfc822", raw, "Idempotency-Key", "rt-1")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := int(r.json(t)["id"].(float64))
	atts := r.json(t)["attachments"].([]any)
	require.Len(t, atts, 3)

	got := e.do(http.MethodGet, "/v1/emails/"+itoa(id)+"/raw", "", nil)
	require.Equal(t, http.StatusOK, got.status, string(got.body))
	require.Equal(t, "message/rfc822", got.header.Get("Content-Type"))
	require.Equal(t, raw, got.body)
	require.Equal(t, reprDigest(raw), got.header.Get("Repr-Digest"))

	for i, want := range [][]byte{pdf, zip, png} {
		a := e.do(http.MethodGet, "/v1/emails/"+itoa(id)+"/attachments/"+itoa(i), "", nil)
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		require.Equal(t, want, a.body, "attachment %d", i)
		require.Equal(t, reprDigest(want), a.header.Get("Repr-Digest"))
		require.Equal(t, sha(want), atts[i].(map[string]any)["sha256"])
		require.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"))
	}
	a0 := e.do(http.MethodGet, "/v1/emails/"+itoa(id)+"/attachments/0", "", nil)
	require.Equal(t, "application/pdf", a0.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="Rechnung M_rz.pdf"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf`,
		a0.header.Get("Content-Disposition"))
	a2 := e.do(http.MethodGet, "/v1/emails/"+itoa(id)+"/attachments/2", "", nil)
	require.Equal(t, "image/png", a2.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="attachment-2"`, a2.header.Get("Content-Disposition"))

	missing := e.do(http.MethodGet, "/v1/emails/"+itoa(id)+"/attachments/3", "", nil)
	require.Equal(t, http.StatusNotFound, missing.status)
	require.Equal(t, "application/problem+json", missing.header.Get("Content-Type"))

	// An email that came as JSON has no raw form, and metadata-only
	// attachments have no bytes.
	j := e.postEmail("json-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, j.status, string(j.body))
	jid := itoa(int(j.json(t)["id"].(float64)))
	noRaw := e.do(http.MethodGet, "/v1/emails/"+jid+"/raw", "", nil)
	require.Equal(t, http.StatusNotFound, noRaw.status)
	require.Contains(t, noRaw.json(t)["detail"], "no raw form")
	noBytes := e.do(http.MethodGet, "/v1/emails/"+jid+"/attachments/0", "", nil)
	require.Equal(t, http.StatusNotFound, noBytes.status)
	require.Contains(t, noBytes.json(t)["detail"], "metadata only")

	// The raw message and the three parts are four blobs.
	require.Equal(t, 4, e.count("SELECT count(*) FROM blobs"))
}

// TestJSONAttachmentContent stores attachment bytes sent as base64 and
// refuses content that differs from the declared size or SHA-256 with a 422
// naming the attachment, storing nothing.
func TestJSONAttachmentContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{maxBody: 4 << 20, requestTimeout: slowRequestTimeout})
	data := randomBytes(t, 600_000)
	body := sampleEmail(7)
	body["attachments"] = []map[string]any{
		{"filename": "meta.pdf", "content_type": "application/pdf", "size_bytes": 10, "sha256": sha([]byte("0123456789"))},
		{"filename": "x.bin", "content_type": "application/octet-stream", "size_bytes": len(data), "sha256": sha(data),
			"content": base64.StdEncoding.EncodeToString(data)},
	}
	r := e.postEmail("c-1", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.NotContains(t, string(r.body), "content\"", "content is never returned")
	id := itoa(int(r.json(t)["id"].(float64)))
	a := e.do(http.MethodGet, "/v1/emails/"+id+"/attachments/1", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, data, a.body)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/emails/"+id+"/attachments/0", "", nil).status)

	for name, att := range map[string]map[string]any{
		"sha": {"filename": "y.bin", "content_type": "application/octet-stream", "size_bytes": 3, "sha256": sha([]byte("abd")),
			"content": base64.StdEncoding.EncodeToString([]byte("abc"))},
		"size": {"filename": "y.bin", "content_type": "application/octet-stream", "size_bytes": 4, "sha256": sha([]byte("abc")),
			"content": base64.StdEncoding.EncodeToString([]byte("abc"))},
	} {
		body := sampleEmail(8)
		body["attachments"] = []map[string]any{att}
		bad := e.postEmail("bad-"+name, body)
		require.Equal(t, http.StatusUnprocessableEntity, bad.status, string(bad.body))
		require.Contains(t, bad.json(t)["detail"], `attachment 0 ("y.bin")`, name)
	}
	require.Equal(t, 1, e.count("SELECT count(*) FROM incoming_emails"))
	require.Equal(t, 1, e.count("SELECT count(*) FROM blobs"))
}

// TestSameAttachmentConcurrently stores the same attachment on many emails
// at once: every request succeeds and the bytes are one blob whose chunks
// are stored once.
func TestSameAttachmentConcurrently(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{maxBody: 4 << 20, requestTimeout: slowRequestTimeout})
	data := randomBytes(t, 1_000_000)
	const n = 12
	var wg sync.WaitGroup
	answers := make([]response, n)
	for i := range n {
		wg.Go(func() {
			body := sampleEmail(100 + i)
			body["attachments"] = []map[string]any{{"filename": "same.bin", "content_type": "application/octet-stream",
				"size_bytes": len(data), "sha256": sha(data), "content": base64.StdEncoding.EncodeToString(data)}}
			answers[i] = e.with(t).postEmail("same-"+itoa(i), body)
		})
	}
	wg.Wait()
	ids := make([]string, n)
	for i, a := range answers {
		require.Equal(t, http.StatusCreated, a.status, "request %d: %s", i, a.body)
		ids[i] = strconv.Itoa(int(a.json(t)["id"].(float64)))
	}
	require.Equal(t, 1, e.count("SELECT count(*) FROM blobs"))
	require.Equal(t, n, e.count("SELECT count(*) FROM email_blobs"))
	require.Equal(t, 4, e.count("SELECT count(*) FROM blob_chunks"), "the unused uploads are deleted")
	for _, id := range ids { // ids need not be 1..n: a retried group transaction skips some
		a := e.do(http.MethodGet, "/v1/emails/"+id+"/attachments/0", "", nil)
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		require.Equal(t, sha(data), sha(a.body))
	}
}
