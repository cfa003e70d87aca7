package ingest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const hdr = "Message-ID: <x@example.com>\r\nFrom: a@example.com\r\nTo: b@example.org\r\n"

// TestParseRawLenient stores messages that the standards call broken, or
// that are valid but unusual, and checks the defects recorded and what is
// kept of them.
func TestParseRawLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		defects []string
		check   func(t *testing.T, m RawMessage)
	}{
		{"RFC 2231 boundary", hdr + "Content-Type: multipart/mixed; boundary*=us-ascii''b%3D1\r\n\r\n" +
			"--b=1\r\nContent-Type: text/plain\r\n\r\none\r\n--b=1\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--b=1--\r\n",
			nil, func(t *testing.T, m RawMessage) {
				require.Equal(t, "one\n--\ntwo", m.Content.TextBody)
			}},
		{"RFC 2231 boundary continuation", hdr + "Content-Type: multipart/mixed; boundary*0=\"ab\"; boundary*1=\"cd\"\r\n\r\n" +
			"--abcd\r\nContent-Type: text/plain\r\n\r\nhello\r\n--abcd--\r\n",
			nil, func(t *testing.T, m RawMessage) {
				require.Equal(t, "hello", m.Content.TextBody)
			}},
		{"RFC 2231 file name", hdr + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*0*=utf-8''na%C3%AF; filename*1=\"ve.pdf\"\r\n\r\n" +
			"%PDF\r\n--b--\r\n", nil, func(t *testing.T, m RawMessage) {
			require.Len(t, m.Content.Attachments, 1)
			require.Equal(t, "naïve.pdf", m.Content.Attachments[0].Filename)
			require.Equal(t, []byte("%PDF"), m.Parts[0].read())
		}},
		{"invalid Content-Disposition", hdr + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			"Content-Type: text/plain\r\nContent-Disposition: attach ment\r\n\r\nbody text\r\n--b--\r\n",
			[]string{DefectContentDispositionInvalid}, func(t *testing.T, m RawMessage) {
				require.Equal(t, "body text", m.Content.TextBody)
			}},
		{"invalid Content-Type", hdr + "Content-Type: text plain\r\n\r\nplain words", []string{DefectContentTypeInvalid},
			func(t *testing.T, m RawMessage) { require.Equal(t, "plain words", m.Content.TextBody) }},
		{"Content-Type without a type", hdr + "Content-Type: ;;\"=\r\n\r\nplain words", []string{DefectContentTypeInvalid},
			func(t *testing.T, m RawMessage) { require.Equal(t, "plain words", m.Content.TextBody) }},
		{"UTF-8 header", hdr + "Subject: Gr\xc3\xbc\xc3\x9fe\r\n\r\nhi", nil, func(t *testing.T, m RawMessage) {
			require.Equal(t, "Grüße", m.Content.Subject)
		}},
		{"Latin-1 header", hdr + "Subject: Gr\xfc\xdfe\r\nX-Note: caf\xe9\r\n\r\nhi", []string{DefectHeader8bit},
			func(t *testing.T, m RawMessage) {
				require.Equal(t, "Grüße", m.Content.Subject)
				require.Equal(t, []string{"café"}, m.Content.Headers["X-Note"])
			}},
		{"header in the declared charset", hdr + "Subject: \xf0\xd2\xc9\xd7\xc5\xd4\r\n" +
			"Content-Type: text/plain; charset=koi8-r\r\n\r\nhi", []string{DefectHeader8bit},
			func(t *testing.T, m RawMessage) { require.Equal(t, "Привет", m.Content.Subject) }},
		{"NUL bytes", hdr + "X-Odd: a\x00b\r\n\r\nh\x00i", []string{DefectNULBytes}, func(t *testing.T, m RawMessage) {
			require.Equal(t, "hi", m.Content.TextBody)
			require.Equal(t, []string{"ab"}, m.Content.Headers["X-Odd"])
		}},
		{"header line that is not a field", hdr + "this line is no field\r\nSubject: s\r\n\r\nhi",
			[]string{DefectHeaderLineMalformed}, func(t *testing.T, m RawMessage) {
				require.Equal(t, "s", m.Content.Subject)
			}},
		{"mbox From line", "From alice@example.com Mon Dec  7 10:00:00 2026\r\n" + hdr + "\r\nhi",
			[]string{DefectHeaderLineMalformed}, func(t *testing.T, m RawMessage) {
				require.Equal(t, "a@example.com", m.Content.From)
				require.Equal(t, "hi", m.Content.TextBody)
			}},
		{"header field of no known name", "X-Only: 1\r\n\r\nhi", nil, func(t *testing.T, m RawMessage) {
			require.Equal(t, "hi", m.Content.TextBody)
			require.True(t, m.Content.Incomplete)
		}},
		{"multipart without boundary", "From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nx",
			[]string{DefectMultipartNoBoundaryParam}, func(t *testing.T, m RawMessage) {
				require.Equal(t, "x", m.Content.TextBody)
			}},
		{"boundary that never appears", hdr + "Content-Type: multipart/mixed; boundary=zz\r\n\r\njust text\r\n",
			[]string{DefectMultipartBoundaryMissing}, func(t *testing.T, m RawMessage) {
				require.Equal(t, "just text\r\n", m.Content.TextBody)
			}},
		{"missing closing boundary", hdr + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			"Content-Type: text/plain\r\n\r\nfirst\r\n--b\r\nContent-Type: image/png\r\n\r\nPNG",
			[]string{DefectMultipartBoundaryMissing}, func(t *testing.T, m RawMessage) {
				require.Equal(t, "first", m.Content.TextBody)
				require.Len(t, m.Content.Attachments, 1)
			}},
		{"nested boundaries that are prefixes", hdr + "Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n" +
			"Content-Type: multipart/alternative; boundary=abcdef\r\n\r\n--abcdef\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
			"--abcdef\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--abcdef--\r\n--abc\r\nContent-Type: image/png\r\n\r\nPNG\r\n--abc--\r\n",
			nil, func(t *testing.T, m RawMessage) {
				require.Equal(t, "plain", m.Content.TextBody)
				require.Equal(t, "<p>html</p>", m.Content.HTMLBody)
				require.Len(t, m.Content.Attachments, 1)
			}},
		{"deep unclosed nesting", string(nested(40, false)),
			[]string{DefectMultipartBoundaryMissing, DefectPartsTruncated}, nil},
		{"deep closed nesting", string(nested(500, true)), []string{DefectPartsTruncated}, nil},
		{"too many parts", "From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			strings.Repeat("--b\r\n\r\nx\r\n", MaxPartLines+5), []string{DefectPartsTruncated}, func(t *testing.T, m RawMessage) {
			require.Equal(t, MaxPartLines, strings.Count(m.Content.TextBody, "x"))
		}},
		{"overlong subject", hdr + "Subject: " + strings.Repeat("s", 10001) + "\r\n\r\nhi", []string{DefectFieldTruncated},
			func(t *testing.T, m RawMessage) { require.Len(t, m.Content.Subject, 10000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseRaw([]byte(tt.raw), Envelope{}, testNow)
			require.NoError(t, err)
			want := tt.defects
			if want == nil {
				want = []string{}
			}
			require.Equal(t, want, m.Content.ParseDefects)
			require.NoError(t, m.Content.ValidateRaw())
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}
