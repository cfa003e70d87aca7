package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// FuzzParseRaw checks that ParseRaw never panics and either fails with a
// client error (Malformed or Invalid) or returns content that passes
// ValidateRaw, whose strings are all valid UTF-8 without NUL bytes. The
// seeds are the .eml fixtures and the committed corpus in
// testdata/fuzz/FuzzParseRaw.
func FuzzParseRaw(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseRaw(raw, Envelope{}, testNow)
		c := m.Content
		if err != nil {
			if code := apperr.CodeOf(err); code != apperr.Malformed && code != apperr.Invalid {
				t.Fatalf("error %v has code %q, want malformed or invalid", err, code)
			}
			return
		}
		if err := c.ValidateRaw(); err != nil {
			t.Fatalf("ParseRaw returned content that fails validation: %v", err)
		}
		if c.RawSizeBytes != int64(len(raw)) {
			t.Fatalf("raw_size_bytes = %d, want %d", c.RawSizeBytes, len(raw))
		}
		for _, s := range contentStrings(c) {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("content holds invalid UTF-8 or a NUL byte: %q", s)
			}
		}
	})
}

// contentStrings lists every string held by c, header names included.
func contentStrings(c email.Content) []string {
	s := []string{c.ClientID, c.MessageID, c.Mailbox, c.From, c.Subject, c.TextBody, c.HTMLBody}
	s = append(s, c.To...)
	s = append(s, c.Cc...)
	for name, values := range c.Headers {
		s = append(s, name)
		s = append(s, values...)
	}
	for _, a := range c.Attachments {
		s = append(s, a.Filename, a.ContentType, a.SHA256)
	}
	return s
}
