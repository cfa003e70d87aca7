package dashboard_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/dashboard"
)

// The browser test of the page, against a server with data, is
// TestDashboardInBrowser in internal/handlers.

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestServesPageAndAssets(t *testing.T) {
	t.Parallel()
	h := dashboard.Handler()
	for _, path := range []string{"/dashboard", "/dashboard/"} {
		res, body := get(t, h, http.MethodGet, path)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.Contains(t, res.Header.Get("Content-Type"), "text/html")
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		require.Contains(t, body, "<title>mailsync · dashboard</title>")
	}

	// Every asset the page references is served with its type.
	_, page := get(t, h, http.MethodGet, "/dashboard")
	refs := regexp.MustCompile(`(?:src|href)="(/dashboard/[^"]+)"`).FindAllStringSubmatch(page, -1)
	require.Len(t, refs, 3)
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, m := range refs {
		res, body := get(t, h, http.MethodGet, m[1])
		require.Equal(t, http.StatusOK, res.StatusCode, m[1])
		require.NotEmpty(t, body)
		for ext, ct := range types {
			if strings.HasSuffix(m[1], ext) {
				require.Contains(t, res.Header.Get("Content-Type"), ct, m[1])
			}
		}
	}

	res, _ := get(t, h, http.MethodHead, "/dashboard")
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestRefusesOtherPathsAndMethods(t *testing.T) {
	t.Parallel()
	h := dashboard.Handler()
	for _, path := range []string{"/dashboard/nope.js", "/dashboard/index.html", "/dashboard/../go.mod", "/dashboard/static/dashboard.js"} {
		res, _ := get(t, h, http.MethodGet, path)
		require.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
	res, _ := get(t, h, http.MethodPost, "/dashboard")
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	require.Equal(t, "GET, HEAD", res.Header.Get("Allow"))
}

// TestNoExternalResources keeps the page self-contained: no CDN, no font
// service, nothing fetched from another origin.
func TestNoExternalResources(t *testing.T) {
	t.Parallel()
	root := os.DirFS("static")
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	svgNS := "http://www.w3.org/2000/svg" // a namespace name, never fetched
	err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, path)
		require.NoError(t, err)
		text := strings.ReplaceAll(string(b), svgNS, "")
		require.Empty(t, external.FindAllString(text, -1), path)
		return nil
	})
	require.NoError(t, err)
}
