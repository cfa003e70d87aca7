package handlers

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swaggest/swgui/v5emb"

	apispec "mailsync/api"
	"mailsync/internal/api"
	"mailsync/internal/auth"
	"mailsync/internal/dashboard"
)

// RouterConfig configures the HTTP surface around the Handlers.
type RouterConfig struct {
	// Keys authenticates /v1; nil disables authentication (AUTH_DISABLED).
	Keys *auth.Keys
	// MaxBodyBytes bounds every request body (413 beyond it).
	MaxBodyBytes int64
	// MaxInflightBodyBytes bounds the bytes of request bodies processed at
	// once (503 + Retry-After beyond it); 0 is 4 × MaxBodyBytes.
	MaxInflightBodyBytes int64
	// Gatherer is what /metrics exposes (prometheus.DefaultGatherer when nil).
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP metrics (prometheus.DefaultRegisterer when nil).
	Registerer prometheus.Registerer
	// RateLimit limits each API client (off when RPS is 0).
	RateLimit RateLimit
}

// Router returns the whole HTTP handler: the generated API behind request
// ids, logging, body limits and authentication, plus /metrics, the spec and
// the interactive docs and the dashboard.
func Router(h *Handlers, cfg RouterConfig) (http.Handler, error) {
	swagger, err := api.GetSwagger()
	if err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(swagger)
	if err != nil {
		return nil, err
	}
	scopes := requiredScopes(swagger)
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.DefaultRegisterer
	}
	httpMetrics := newHTTPMetrics(cfg.Registerer)

	r := chi.NewRouter()
	r.Use(requestID, httpMetrics.middleware, accessLog, recoverer, limitBody(cfg.MaxBodyBytes))
	r.Get("/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP)
	r.Get("/openapi.json", serveBytes("application/json", specJSON))
	r.Get("/openapi.yaml", serveBytes("application/yaml", apispec.YAML))
	docs := v5emb.New("mailsync API", "/openapi.json", "/docs")
	r.Get("/docs", docs.ServeHTTP)
	r.Get("/docs/*", docs.ServeHTTP)
	// The status page: open, as it holds no data (it asks for a key and calls /v1).
	dash := dashboard.Handler()
	r.Handle(dashboard.Prefix, dash)
	r.Handle(dashboard.Prefix+"/*", dash)

	strict := api.NewStrictHandlerWithOptions(h, nil, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  writeRequestError,
		ResponseErrorHandlerFunc: WriteError,
	})
	api.HandlerWithOptions(strict, api.ChiServerOptions{
		BaseRouter:       r,
		ErrorHandlerFunc: writeRequestError,
		// The generated wrapper applies these in order, so the LAST one runs
		// first: authentication, then the in-flight body bound (after
		// authentication, before anything reads the body), then the rest.
		Middlewares: []api.MiddlewareFunc{checkUTF8JSON,
			newInflight(inflightBytes(cfg), cfg.MaxBodyBytes, cfg.Registerer).middleware,
			authenticate(cfg.Keys, scopes, newLimiter(cfg.RateLimit))},
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, api.Problem{Type: problemType + "not_found", Title: "Not found", Status: 404,
			Detail: ptr("no such endpoint; see /docs")})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusMethodNotAllowed, api.Problem{Type: problemType + "method_not_allowed",
			Title: "Method not allowed", Status: 405, Detail: ptr(r.Method + " is not allowed here")})
	})
	return r, nil
}

// inflightBytes is the configured in-flight bound, or 4 × MaxBodyBytes.
func inflightBytes(cfg RouterConfig) int64 {
	if cfg.MaxInflightBodyBytes > 0 {
		return cfg.MaxInflightBodyBytes
	}
	return 4 * cfg.MaxBodyBytes
}

// requiredScopes maps "METHOD /path/{param}" to the x-required-scope of
// each operation in the spec; operations without one are open.
func requiredScopes(doc *openapi3.T) map[string]string {
	out := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if s, ok := op.Extensions["x-required-scope"].(string); ok {
				out[method+" "+path] = s
			}
		}
	}
	return out
}

func serveBytes(contentType string, b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	}
}

// routePattern returns chi's matched route pattern, e.g. /v1/emails/{id}.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return strings.TrimSuffix(p, "/*")
		}
	}
	return "unmatched"
}
