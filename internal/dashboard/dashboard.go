// Package dashboard serves mailsync's status page at /dashboard: static HTML,
// CSS and JavaScript embedded in the binary (no CDN, no build step). The page
// holds no data itself; it asks for an API key, keeps it in the browser's
// sessionStorage, and polls the same JSON endpoints external dashboards use
// (GET /v1/sync/status, /v1/sync/failures, /v1/reconciliations).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path the dashboard is mounted at.
const Prefix = "/dashboard"

// contentSecurityPolicy allows only the page's own assets and same-origin
// API calls: nothing is loaded from anywhere else.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard: Prefix itself is the page, Prefix+"/<file>"
// its assets; anything else under Prefix is 404. It needs no authentication
// because nothing it serves depends on the caller.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		switch {
		case name == "" || name == "/":
			name = "/index.html"
		case name == "/index.html" || path.Clean(name) != name || !strings.HasPrefix(name, "/"):
			http.NotFound(w, r)
			return
		}
		if _, err := fs.Stat(sub, name[1:]); err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if name == "/index.html" {
			// r's path (Prefix or Prefix/) does not end in /index.html, so
			// ServeFileFS serves the file rather than redirecting.
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = name
		files.ServeHTTP(w, r2)
	})
}
