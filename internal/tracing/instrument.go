package tracing

// The instrumentation of the HTTP server (otelhttp), PostgreSQL pools
// (otelpgx) and MongoDB clients (a command monitor), installed only while
// tracing is on.

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// HTTP returns the middleware that traces each request: a server span that
// continues the caller's traceparent, if any, named by method and route
// pattern ("POST /v1/emails", never the concrete path, so ids do not make
// every name unique) with the http.route attribute. route is called once
// the request was served, when the router has matched it; requestID, when
// not nil, gives the request id (set by an earlier middleware) to record.
// While tracing is off it returns the handler unchanged.
func HTTP(route func(*http.Request) string, requestID func(context.Context) string) func(http.Handler) http.Handler {
	if !Enabled() {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			span := trace.SpanFromContext(r.Context())
			pattern := route(r)
			span.SetName(r.Method + " " + pattern)
			attrs := []attribute.KeyValue{attribute.String("http.route", pattern)}
			if requestID != nil {
				if id := requestID(r.Context()); id != "" {
					attrs = append(attrs, AttrRequestID.String(id))
				}
			}
			span.SetAttributes(attrs...)
		})
		return otelhttp.NewHandler(named, "HTTP", otelhttp.WithFilter(notProbe),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				if r.Pattern != "" { // called again once the router has matched it
					return r.Method + " " + route(r)
				}
				return r.Method
			}))
	}
}

// notProbe is false for the health checks and the metrics scrape, which
// would otherwise make a trace every few seconds.
func notProbe(r *http.Request) bool {
	p := r.URL.Path
	return p != "/healthz" && p != "/readyz" && p != "/metrics"
}

// PgxTracer returns the tracer of a PostgreSQL pool's statements
// (otelpgx): a client span per statement, batch and connection acquire,
// child of the span of the statement's context. Statements run outside any
// span (the relay's empty claims, the listener, the collector of the
// status figures) are not traced. A span is named by the statement's sqlc
// name ("ClaimOutbox"), falling back to its first SQL word; it records the
// statement text but never its parameters. While tracing is off it returns
// nil (no tracer: no cost per statement).
func PgxTracer() pgx.QueryTracer {
	if !Enabled() {
		return nil
	}
	return otelpgx.NewTracer(otelpgx.WithSpanNameCtxFunc(statementName))
}

// statementName is the sqlc name of a statement ("-- name: ClaimOutbox
// :many" on its first line), or its first SQL word.
func statementName(ctx context.Context, sql string) string {
	if rest, ok := strings.CutPrefix(sql, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok && name != "" {
			return name
		}
	}
	return otelpgx.SQLOperationName(ctx, sql)
}

// MongoMonitor returns the command monitor that traces MongoDB commands: a
// client span per command, named "<command> <collection>" ("insert
// emails"), child of the span of the operation's context. Commands run
// outside any span (the relay's probe during an outage, index creation at
// start) are not traced. The command's documents are never recorded. While
// tracing is off it returns nil (no monitor).
func MongoMonitor() *event.CommandMonitor {
	if !Enabled() {
		return nil
	}
	m := &mongoMonitor{}
	return &event.CommandMonitor{Started: m.started, Succeeded: m.succeeded, Failed: m.failed}
}

type mongoMonitor struct {
	spans sync.Map // mongoKey → trace.Span
}

type mongoKey struct {
	conn string
	id   int64
}

func (m *mongoMonitor) started(ctx context.Context, e *event.CommandStartedEvent) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", "mongodb"),
		attribute.String("db.namespace", e.DatabaseName),
		attribute.String("db.operation.name", e.CommandName),
	}
	name := e.CommandName
	if first, err := e.Command.IndexErr(0); err == nil && first.Key() == e.CommandName {
		if coll, ok := first.Value().StringValueOK(); ok && coll != "" {
			attrs = append(attrs, attribute.String("db.collection.name", coll))
			name += " " + coll
		}
	}
	attrs = append(attrs, serverAttrs(e.ConnectionID)...)
	_, span := Tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	m.spans.Store(mongoKey{e.ConnectionID, e.RequestID}, span)
}

func (m *mongoMonitor) succeeded(_ context.Context, e *event.CommandSucceededEvent) {
	if s, ok := m.spans.LoadAndDelete(mongoKey{e.ConnectionID, e.RequestID}); ok {
		s.(trace.Span).End()
	}
}

func (m *mongoMonitor) failed(_ context.Context, e *event.CommandFailedEvent) {
	if s, ok := m.spans.LoadAndDelete(mongoKey{e.ConnectionID, e.RequestID}); ok {
		span := s.(trace.Span)
		span.RecordError(e.Failure)
		span.SetStatus(codes.Error, e.Failure.Error())
		span.End()
	}
}

// serverAttrs are server.address and server.port of a driver connection id
// ("host:port[-n]").
func serverAttrs(connID string) []attribute.KeyValue {
	if i := strings.LastIndexByte(connID, '['); i > 0 {
		connID = connID[:i]
	}
	host, port, err := net.SplitHostPort(connID)
	if err != nil {
		return nil
	}
	attrs := []attribute.KeyValue{attribute.String("server.address", host)}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	return attrs
}
