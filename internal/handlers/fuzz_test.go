package handlers_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// FuzzCreateEmailJSON sends arbitrary JSON bodies through the whole HTTP
// stack to a real database: every one must get a 2xx or a 4xx, never a 5xx.
// The seed corpus (testdata/fuzz/FuzzCreateEmailJSON) runs in `make test`.
func FuzzCreateEmailJSON(f *testing.F) {
	valid, _ := json.Marshal(sampleEmail(1))
	for _, s := range []string{
		string(valid), `{}`, `null`, `[]`, `""`, `{"to":[]}`, `{"received_at":"2026-13-45T99:00:00Z"}`,
		`{"message_id":"<a@b>","from":"a@b","to":["c@d"],"received_at":"2026-11-27T10:00:00Z","subject":"\u0000"}`,
		`{"message_id":"<a@b>","from":"a@b","to":["c@d"],"received_at":"0001-01-01T00:00:00Z"}`,
		`{"message_id":"<a@b>","from":"a@b","to":["c@d"],"received_at":"2026-11-27T10:00:00Z","attachments":[{"size_bytes":-1}]}`,
		`{"message_id":"<a@b>","from":"a@b","to":["c@d"],"received_at":"2026-11-27T10:00:00Z","headers":{"":[""]}}`,
		`{"message_id":1e999}`, `{"to":[null]}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, envOpts{})
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte) {
		r := e.with(t).do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", "fuzz-"+itoa(int(n.Add(1))))
		if r.status >= 500 {
			t.Fatalf("status %d for body %q: %s", r.status, body, r.body)
		}
	})
}

// FuzzCreateEmailRaw does the same for raw RFC 5322 messages, seeded with
// the parser's sample messages.
func FuzzCreateEmailRaw(f *testing.F) {
	files, _ := filepath.Glob("../ingest/testdata/*.eml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("From: a@b\r\n\r\n"))
	f.Add([]byte("Message-ID: <x@y>\r\nFrom: a@b\r\nTo: c@d\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\x00\xff"))
	e := newEnv(f, envOpts{})
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte) {
		r := e.with(t).do(http.MethodPost, "/v1/emails", "message/rfc822", body, "Idempotency-Key", "raw-"+itoa(int(n.Add(1))))
		if r.status >= 500 {
			t.Fatalf("status %d for message %q: %s", r.status, body, r.body)
		}
	})
}
