package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swaggest/swgui/v5emb"

	apispec "mailsync/api"
	"mailsync/internal/api"
	"mailsync/internal/auth"
	"mailsync/internal/dashboard"
	"mailsync/internal/db"
	"mailsync/internal/ingest"
	"mailsync/internal/tracing"
)

// RouterConfig configures the HTTP surface around the Handlers.
type RouterConfig struct {
	// Keys authenticates /v1; nil disables authentication (AUTH_DISABLED).
	Keys *auth.Keys
	// MaxBodyBytes bounds every request body (413 beyond it).
	MaxBodyBytes int64
	// MaxInflightBodyBytes bounds the bytes of request bodies processed at
	// once (requests wait for room up to RequestTimeout, then 503 +
	// Retry-After); 0 is DefaultInflightBodyBytes(MaxBodyBytes). Ignored
	// when Bodies is set.
	MaxInflightBodyBytes int64
	// Bodies, when set, is that bound shared with other front doors (LMTP).
	Bodies *ingest.Bodies
	// InflightWait is how long a request waits for room under that bound
	// (RequestTimeout when 0).
	InflightWait time.Duration
	// Gatherer is what /metrics exposes (prometheus.DefaultGatherer when nil).
	Gatherer prometheus.Gatherer
	// Registerer receives the HTTP metrics (prometheus.DefaultRegisterer when nil).
	Registerer prometheus.Registerer
	// RateLimit limits each API client (off when RPS is 0).
	RateLimit RateLimit
	// RequestTimeout bounds the work of one API request once its body is
	// read (pool acquire and statements); 503 + Retry-After beyond. Zero
	// means DefaultRequestTimeout; negative turns it off.
	RequestTimeout time.Duration
}

// DefaultRequestTimeout is RouterConfig.RequestTimeout's default.
const DefaultRequestTimeout = 10 * time.Second

// Router returns the whole HTTP handler: the generated API behind request
// ids, logging, body limits and authentication, plus /metrics, the spec and
// the interactive docs and the dashboard. h is a *Handlers, or a type
// embedding one that answers some operations itself (a benchmark's floor).
func Router(h api.StrictServerInterface, cfg RouterConfig) (http.Handler, error) {
	swagger, err := api.GetSwagger()
	if err != nil {
		return nil, err
	}
	specJSON, err := marshalJSON(swagger)
	if err != nil {
		return nil, err
	}
	ops := operations(swagger)
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.DefaultRegisterer
	}
	httpMetrics := newHTTPMetrics(cfg.Registerer)

	r := chi.NewRouter()
	// A span per request (while tracing is on) around everything but the
	// request id, so the access log line carries its trace id. HEAD is
	// answered as GET without the body (RFC 9110 §9.3.2), with the GET's
	// access rule; load balancers probe /healthz so.
	r.Use(requestID, tracing.HTTP(routePattern, RequestID), httpMetrics.middleware, accessLog, recoverer, middleware.GetHead)
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
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	// The operations of the contract. These middlewares run once chi has
	// matched the route and before the generated code parses a parameter
	// or reads the body, in this order: authenticate (and rate limit) first,
	// then bound the body, then the bytes in flight, then the shared input checks,
	// then the deadline.
	base := handlersOf(h)
	r.Group(func(g chi.Router) {
		g.Use(resolveOperation(ops), authenticate(cfg.Keys, newLimiter(cfg.RateLimit), db.New(base.cfg.Pool).EmailOwner, cfg.RequestTimeout),
			limitBody(cfg.MaxBodyBytes), markBodyErrors)
		// Bytes of bodies in flight are bounded after authentication and
		// before anything reads the body (503 + Retry-After beyond).
		bodies := cfg.Bodies
		if bodies == nil {
			bodies = ingest.NewBodies(inflightBytes(cfg), cfg.Registerer)
		}
		wait := cfg.InflightWait
		if wait == 0 {
			wait = max(cfg.RequestTimeout, 0)
		}
		g.Use(newInflight(bodies, cfg.MaxBodyBytes, wait).middleware)
		// So is the room of a single email in the group-commit queue.
		g.Use(admitIngest(base.cfg.Ingest, cfg.MaxBodyBytes))
		g.Use(checkParams, checkBody, deadline(cfg.RequestTimeout))
		api.HandlerWithOptions(strict, api.ChiServerOptions{BaseRouter: g, ErrorHandlerFunc: writeRequestError})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, api.Problem{Type: problemType + "not_found", Title: "Not found", Status: 404,
			Detail: ptr("no such endpoint; see /docs")})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusMethodNotAllowed, api.Problem{Type: problemType + "method_not_allowed",
			Title: "Method not allowed", Status: 405, Detail: ptr(r.Method + " is not allowed here")})
	})
	return joinEnvelopeTo(r), nil
}

// inflightBytes is the configured in-flight bound, or its default.
func inflightBytes(cfg RouterConfig) int64 {
	if cfg.MaxInflightBodyBytes > 0 {
		return cfg.MaxInflightBodyBytes
	}
	return DefaultInflightBodyBytes(cfg.MaxBodyBytes)
}

// DefaultInflightBodyBytes is MAX_INFLIGHT_BODY_BYTES's default for a body
// limit of maxBody: 64 MiB, and never less than one body of the largest
// size. A raw message costs about 1.5 to 2 times its size while it is
// stored, and the garbage collector lets the heap grow to twice what is
// live, so 64 MiB of bodies keeps a burst of big messages under about
// 300 MB of memory (docs/blobs.md, Memory).
func DefaultInflightBodyBytes(maxBody int64) int64 {
	return max(64<<20, maxBody)
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
