// Package tracing is mailsync's OpenTelemetry tracing: the env-driven setup
// of the OTLP exporter (off unless configured), the spans of HTTP requests,
// PostgreSQL statements and MongoDB commands, the trace context carried in
// outbox rows, and the trace and span ids of log lines. While tracing is
// off no exporter exists, the instrumentation is not installed, and the few
// spans the services start are the no-op spans of the default provider.
package tracing

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of mailsync's own spans.
const Scope = "mailsync"

// Span names of mailsync's own spans (HTTP, SQL and MongoDB spans are named
// by their route, statement and command).
const (
	SpanGroupCommit = "ingest group commit"
	SpanRelayBatch  = "relay batch"
	SpanReconcile   = "reconcile run"
	SpanLMTP        = "LMTP deliver"
)

// Attribute keys of mailsync's own spans and links.
const (
	AttrGroupSize   = attribute.Key("mailsync.group.size")
	AttrBatchRows   = attribute.Key("mailsync.relay.rows")
	AttrWorker      = attribute.Key("mailsync.relay.worker")
	AttrOutboxID    = attribute.Key("mailsync.outbox.id")
	AttrEmailID     = attribute.Key("mailsync.email.id")
	AttrRetryCount  = attribute.Key("mailsync.outbox.retry_count")
	AttrReportID    = attribute.Key("mailsync.reconciliation.id")
	AttrDryRun      = attribute.Key("mailsync.reconciliation.dry_run")
	AttrRequestID   = attribute.Key("mailsync.request_id")
	AttrLMTPMailbox = attribute.Key("mailsync.mailbox")
)

var enabled atomic.Bool

// Enabled reports whether tracing is on: Setup found an exporter
// configured, or Install was called. The instrumentation of HTTP,
// PostgreSQL and MongoDB is installed only when it is on at the time the
// router, pool or client is made.
func Enabled() bool { return enabled.Load() }

// Install makes tp the process's tracer provider and W3C trace context
// (with baggage) its propagator, and turns tracing on. It returns a
// function that puts back what was there before (for tests).
func Install(tp trace.TracerProvider) (restore func()) {
	prevTP, prevProp, prevOn := otel.GetTracerProvider(), otel.GetTextMapPropagator(), enabled.Load()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	enabled.Store(true)
	return func() {
		if !prevOn { // tracing was off: spans are no-ops again
			prevTP = noop.NewTracerProvider()
		}
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		enabled.Store(prevOn)
	}
}

// Tracer is the tracer of mailsync's own spans, from the provider installed
// now (a no-op tracer while tracing is off).
func Tracer() trace.Tracer { return otel.GetTracerProvider().Tracer(Scope) }

// Start starts a span of mailsync's own; while tracing is off it returns
// ctx and a no-op span at the cost of a few loads.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !enabled.Load() {
		return ctx, noop.Span{}
	}
	return Tracer().Start(ctx, name, opts...)
}

// End records err on span (status Error) when it is not nil, and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// LogHandler wraps h so every record logged with a context inside a span
// carries the span's trace_id and span_id, and a log line can be found from
// a trace and the other way round. Outside a span (and while tracing is
// off) records pass through unchanged.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(a []slog.Attr) slog.Handler { return logHandler{l.Handler.WithAttrs(a)} }

func (l logHandler) WithGroup(n string) slog.Handler { return logHandler{l.Handler.WithGroup(n)} }
