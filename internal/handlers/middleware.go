package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/auth"
)

type requestIDKey struct{}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID takes a sane X-Request-Id from the client or makes one, puts it
// in the context (every log line of the request carries it) and the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// LogHandler wraps h so every record logged with a request's context carries
// its request_id.
func LogHandler(h slog.Handler) slog.Handler { return ctxLogHandler{h} }

type ctxLogHandler struct{ slog.Handler }

func (c ctxLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return c.Handler.Handle(ctx, r)
}
func (c ctxLogHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return ctxLogHandler{c.Handler.WithAttrs(a)}
}
func (c ctxLogHandler) WithGroup(n string) slog.Handler { return ctxLogHandler{c.Handler.WithGroup(n)} }

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line per request: method, route, status, duration.
// Never the body, never the Authorization header.
func accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			level = slog.LevelDebug
		}
		slog.Log(r.Context(), level, "http request", "method", r.Method, "route", routePattern(r),
			"status", sw.status, "bytes", sw.bytes, "duration_ms", time.Since(start).Milliseconds())
	})
}

// recoverer turns a panic into a logged 500 problem.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				slog.ErrorContext(r.Context(), "panic", "value", v)
				WriteError(w, r, errPanic)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

var errPanic = io.ErrClosedPipe // any non-domain error: answered as internal

// limitBody caps every request body at max bytes.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if max > 0 && r.Body != nil {
				if r.ContentLength > max {
					WriteError(w, r, apperr.New(apperr.TooLarge, "the request body exceeds %d bytes", max))
					return
				}
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// checkUTF8JSON refuses JSON bodies that are not valid UTF-8: the decoder
// would silently replace the bad bytes, storing something nobody sent. The
// check runs as the decoder reads (see utf8Body), so the body is held once.
func checkUTF8JSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			r.Body = &utf8Body{ReadCloser: r.Body}
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate admits a request whose bearer token holds the scope the
// operation requires (401 without a valid token, 403 without the scope).
// With keys nil every request is the anonymous all-scope client.
func authenticate(keys *auth.Keys, scopes map[string]string, lim *limiter) api.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scope, guarded := scopes[r.Method+" "+routePattern(r)]
			if !guarded {
				next.ServeHTTP(w, r)
				return
			}
			client := auth.Anonymous
			if keys != nil {
				token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				client = keys.Lookup(strings.TrimSpace(token))
				if !ok || client == nil {
					w.Header().Set("WWW-Authenticate", `Bearer realm="mailsync"`)
					writeProblem(w, r, http.StatusUnauthorized, api.Problem{Type: problemType + "unauthorized",
						Title: "Unauthorized", Status: 401, Detail: ptr("send a valid API key as Authorization: Bearer <token>")})
					return
				}
			}
			if ok, wait := lim.allow(clientName(client)); !ok {
				writeTooMany(w, r, wait)
				return
			}
			if !client.Has(scope) {
				writeProblem(w, r, http.StatusForbidden, api.Problem{Type: problemType + "forbidden",
					Title: "Forbidden", Status: 403, Detail: ptr("this API key lacks the " + scope + " scope")})
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), client)))
		})
	}
}
