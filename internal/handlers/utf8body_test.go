package handlers

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// TestUTF8BodyChecksAcrossReads: characters split across reads of any size
// pass; invalid bytes anywhere, and a body ending inside a character, fail.
func TestUTF8BodyChecksAcrossReads(t *testing.T) {
	t.Parallel()
	valid := strings.Repeat(`{"a":"héllo wörld €𝄞 日本"}`, 50)
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"valid", valid, true},
		{"invalid in the middle", valid[:301] + "\xff" + valid[301:], false},
		{"stray continuation byte", valid + "\x80", false},
		{"ends inside a character", valid + "\xe2\x82", false},
		{"overlong encoding", valid[:10] + "\xc0\xaf" + valid[10:], false},
	} {
		for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, func(r io.Reader) io.Reader { return r }} {
			u := &utf8Body{ReadCloser: io.NopCloser(wrap(bytes.NewReader([]byte(tc.body))))}
			got, err := io.ReadAll(u)
			if tc.ok {
				require.NoError(t, err, tc.name)
				require.Equal(t, tc.body, string(got))
			} else {
				require.ErrorIs(t, err, errBodyNotUTF8, tc.name)
			}
		}
	}
}
