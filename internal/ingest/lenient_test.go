package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
)

// enmimeDefects are the defects expected of the enmime corpus messages that
// have any; every other message of the corpus has none.
var enmimeDefects = map[string][]string{
	"low-quality/bad-final-boundary.raw":            {DefectMultipartBoundaryMissing},
	"low-quality/bad-header-start.raw":              {DefectHeaderLineMalformed},
	"low-quality/bad-header-wrap.raw":               {DefectHeaderLineMalformed},
	"low-quality/malformed-base64-attach.raw":       {DefectTransferEncodingInvalid},
	"low-quality/unk-charset-part.raw":              {DefectCharsetInvalid},
	"low-quality/unk-encoding-part.raw":             {DefectTransferEncodingInvalid},
	"mail/header-only.raw":                          {DefectMultipartBoundaryMissing},
	"mail/html-mime-bad-charset-inline.raw":         {DefectCharsetInvalid},
	"mail/html-mime-bad-unknown-charset-inline.raw": {DefectCharsetInvalid},
	"mail/mime-bad-content-transfer-encoding.raw":   {DefectTransferEncodingInvalid, DefectCharsetInvalid},
	"mail/multipart-wo-boundary.raw":                {DefectMultipartNoBoundaryParam},
	"mail/qp-utf8-header-no-break.raw":              {DefectHeaderLineMalformed, DefectMultipartBoundaryMissing},
	"parts/barren-content-type.raw":                 {DefectContentTypeInvalid},
	"parts/badboundary.raw":                         {DefectMultipartBoundaryMissing},
	"parts/chardet-fail.raw":                        {DefectNULBytes, DefectCharsetInvalid},
	"parts/ctype-invalid-characters.raw":            {DefectContentTypeInvalid},
	"parts/empty-ctype-bad-content.raw":             {DefectContentTypeInvalid},
	"parts/extra-base64-character.raw":              {DefectTransferEncodingInvalid},
	"parts/malformed-content-type-params.raw":       {DefectContentTypeInvalid},
	"parts/missing-closing-param-quote.raw":         {DefectCharsetInvalid},
	"parts/multi-malformed.raw":                     {DefectPartHeaderMalformed},
	"parts/multimixed-no-closing-boundary.raw":      {DefectMultipartBoundaryMissing},
}

// TestParseRawEnmimeCorpus parses the broken and unusual messages of the
// enmime test suite: all are stored but the one without a header (it has
// no line break at all), each with the defects expected.
func TestParseRawEnmimeCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "enmime", "*", "*.raw"))
	require.NoError(t, err)
	require.Len(t, files, 90)
	stored := 0
	for _, f := range files {
		name := filepath.ToSlash(strings.TrimPrefix(f, filepath.Join("testdata", "enmime")+string(filepath.Separator)))
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := ParseRaw(raw, Envelope{}, testNow)
		if name == "mail/erroneous.raw" {
			require.Equal(t, apperr.Malformed, apperr.CodeOf(err), name)
			continue
		}
		require.NoError(t, err, name)
		stored++
		want := enmimeDefects[name]
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, m.Content.ParseDefects, name)
		require.NoError(t, m.Content.ValidateRaw(), name)
		require.Len(t, m.Parts, len(m.Content.Attachments), name)
	}
	require.Equal(t, 89, stored)
}

// TestParseRawCorpusContent checks what the broken messages of the corpus
// keep: the text of a part that could not be split, the parts of a
// multipart without its closing boundary.
func TestParseRawCorpusContent(t *testing.T) {
	t.Parallel()
	read := func(name string) RawMessage {
		m, err := ParseRaw(readFixture(t, filepath.Join("enmime", name)), Envelope{}, testNow)
		require.NoError(t, err)
		return m
	}
	m := read("parts/multi-malformed.raw")
	require.Contains(t, m.Content.TextBody, "Section one")
	require.Contains(t, m.Content.TextBody, "I'm section without headers")
	require.Contains(t, m.Content.TextBody, "Section two")
	m = read("mail/multipart-wo-boundary.raw")
	require.NotEmpty(t, strings.TrimSpace(m.Content.TextBody))
	m = read("low-quality/bad-header-start.raw")
	require.Equal(t, "James Hillyerd <james@makita.skynet>", m.Content.From)
	m = read("parts/multimixed-no-closing-boundary.raw")
	require.NotEmpty(t, m.Content.HTMLBody)
}
