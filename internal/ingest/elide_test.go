package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// corpus returns every message the parser's tests use: the fixtures, the
// enmime corpus and the committed fuzz corpus of FuzzParseRaw.
func corpus(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, pattern := range []string{"*.eml", filepath.Join("enmime", "*", "*.raw")} {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		require.NoError(t, err)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			out[f] = raw
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseRaw", "*"))
	require.NoError(t, err)
	for _, f := range files {
		if raw, ok := fuzzInput(t, f); ok {
			out[f] = raw
		}
	}
	return out
}

// fuzzInput reads the []byte of a "go test fuzz v1" corpus file.
func fuzzInput(t testing.TB, name string) ([]byte, bool) {
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	lines := strings.SplitN(string(b), "\n", 2)
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "[]byte(") {
		return nil, false
	}
	var s string
	if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")\n")), "%q", &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// sameParse parses raw with every elidable body kept out of the MIME
// library and with none, and requires the same result; it returns how many
// bodies were elided.
func sameParse(t testing.TB, name string, raw []byte) int {
	whole, errWhole := parseRawMin(raw, Envelope{}, testNow, 1<<62)
	elided, errElided := parseRawMin(raw, Envelope{}, testNow, 1)
	require.Equal(t, errWhole, errElided, name)
	if errWhole != nil {
		return 0
	}
	require.Equal(t, whole.Content, elided.Content, name)
	require.Equal(t, whole.Undated, elided.Undated, name)
	require.Len(t, elided.Parts, len(whole.Parts), name)
	for i := range whole.Parts {
		w, e := readBytes(t, whole.Parts[i]), readBytes(t, elided.Parts[i])
		require.Equal(t, w, e, "%s: attachment %d", name, i)
		sum := sha256.Sum256(e)
		require.Equal(t, elided.Content.Attachments[i].SHA256, hex.EncodeToString(sum[:]), name)
		require.EqualValues(t, len(e), elided.Parts[i].Len(), name)
	}
	require.Zero(t, whole.elided)
	return elided.elided
}

func readBytes(t testing.TB, x Bytes) []byte {
	b, err := io.ReadAll(x.Reader())
	require.NoError(t, err)
	return b
}

// TestElisionParsesAsTheMIMELibrary parses every message of the test
// corpora with each elidable body elided and requires the result enmime
// gives for the whole message: the same content, defects and attachment
// bytes.
func TestElisionParsesAsTheMIMELibrary(t *testing.T) {
	t.Parallel()
	elided := 0
	for name, raw := range corpus(t) {
		elided += sameParse(t, name, raw)
	}
	require.Greater(t, elided, 50, "the corpora must exercise elision")
}

// TestElisionOfBigParts elides the big bodies of a message with a base64
// PDF, an 8bit CSV and a base64 part whose text ends in a dangling
// character, and reads back the same bytes and defects as enmime does.
func TestElisionOfBigParts(t *testing.T) {
	t.Parallel()
	pdf := bytes.Repeat([]byte("%PDF-1.7 \x00\x01\x02\xff binary "), 10000)
	csv := bytes.Repeat([]byte("id,name,amount\r\n1,Ann,12.50\r\n"), 5000)
	b64 := base64.StdEncoding.EncodeToString(pdf)
	var wrapped strings.Builder
	for len(b64) > 76 {
		wrapped.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	wrapped.WriteString(b64 + "\r\n")
	msg := "From: a@example.com\r\nTo: b@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		strings.Repeat("Hello there.\r\n", 6000) + "\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + wrapped.String() + "--b1\r\nContent-Type: text/csv\r\n" +
		"Content-Disposition: attachment; filename=\"x.csv\"\r\n\r\n" + string(csv) + "\r\n--b1\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapped.String() + "Q\r\n--b1--\r\n"
	require.Equal(t, 4, sameParse(t, "big", []byte(msg)))
	m, err := ParseRaw([]byte(msg), Envelope{}, testNow)
	require.NoError(t, err)
	require.Equal(t, 4, m.elided)
	require.Len(t, m.Parts, 3)
	require.Equal(t, pdf, readBytes(t, m.Parts[0]))
	require.Equal(t, csv, readBytes(t, m.Parts[1]))
	require.Equal(t, pdf, readBytes(t, m.Parts[2]))
	require.Equal(t, []string{DefectTransferEncodingInvalid}, m.Content.ParseDefects)
	require.NotNil(t, m.Parts[0].b64, "a base64 attachment is decoded on demand, not held")
}

// FuzzElision checks that eliding bodies never changes what ParseRaw
// returns (seeded with the corpora of TestElisionParsesAsTheMIMELibrary).
func FuzzElision(f *testing.F) {
	for _, raw := range corpus(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { sameParse(t, "fuzz input", raw) })
}
