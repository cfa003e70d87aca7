package blob_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/blob"
)

// TestContentDisposition keeps file names from the sender safe in a
// download: no path, no quotes or control characters, ASCII always given
// and UTF-8 as filename* when needed.
func TestContentDisposition(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"a.pdf":                 `attachment; filename="a.pdf"`,
		"":                      `attachment; filename="attachment-3"`,
		"../../etc/passwd":      `attachment; filename="passwd"`,
		`C:\Users\x\evil".exe`:  `attachment; filename="evil_.exe"; filename*=UTF-8''evil%22.exe`,
		"line\r\nX-Injected: 1": `attachment; filename="lineX-Injected: 1"`,
		"März.pdf":              `attachment; filename="M_rz.pdf"; filename*=UTF-8''M%C3%A4rz.pdf`,
		"..":                    `attachment; filename="attachment-3"`,
		"100%.txt":              `attachment; filename="100_.txt"; filename*=UTF-8''100%25.txt`,
	} {
		require.Equal(t, want, blob.ContentDisposition(name, 3), name)
	}
	require.Equal(t, "application/pdf", blob.ContentType("application/pdf"))
	require.Equal(t, "text/plain; charset=utf-8", blob.ContentType("text/plain; charset=utf-8"))
	require.Equal(t, "application/octet-stream", blob.ContentType("not a type\r\nX: y"))
	require.Equal(t, "application/octet-stream", blob.ContentType(""))
}
