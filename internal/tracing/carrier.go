package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The trace context of the request that enqueued an outbox row travels in
// the row as the W3C traceparent and tracestate headers would carry it. The
// relay's batch span links to it: a link, not a parent, since one batch
// relays the rows of many requests, and the relay may run long after the
// request, in another instance.

// Carried is a W3C trace context as stored: the traceparent and tracestate
// header values; both empty when there is none.
type Carried struct {
	Parent string
	State  string
}

// Carry returns the trace context of the span in ctx, or the zero Carried
// when ctx has no valid span context (always so while tracing is off).
func Carry(ctx context.Context) Carried {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return Carried{}
	}
	h := propagation.HeaderCarrier{}
	propagation.TraceContext{}.Inject(ctx, h)
	return Carried{Parent: h.Get("traceparent"), State: h.Get("tracestate")}
}

// TraceID is the trace id c carries (32 hex digits), or "".
func (c Carried) TraceID() string {
	if sc := c.spanContext(); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

func (c Carried) spanContext() trace.SpanContext {
	if c.Parent == "" {
		return trace.SpanContext{}
	}
	h := propagation.HeaderCarrier{}
	h.Set("traceparent", c.Parent)
	if c.State != "" {
		h.Set("tracestate", c.State)
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), h))
}

// Link is a link to the span c carries, with attrs; ok is false when c
// holds no valid trace context (tracing was off when it was stored, or the
// value is damaged), and no link is to be made.
func (c Carried) Link(attrs ...attribute.KeyValue) (trace.Link, bool) {
	sc := c.spanContext()
	if !sc.IsValid() {
		return trace.Link{}, false
	}
	return trace.Link{SpanContext: sc, Attributes: attrs}, true
}

// LinkTo returns a start option linking the new span to the span in ctx
// (when there is one): for work done on behalf of a caller, apart from it.
func LinkTo(ctx context.Context, attrs ...attribute.KeyValue) trace.SpanStartOption {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return trace.WithLinks()
	}
	return trace.WithLinks(trace.Link{SpanContext: sc, Attributes: attrs})
}

// StartLinked starts a span of its own trace (a root) for work done at
// once on behalf of n callers, linked to the span of each caller's context
// (ctxOf(i)) that has one: the group commit of concurrent requests. While
// tracing is off it returns ctx and a no-op span without calling ctxOf.
func StartLinked(ctx context.Context, name string, n int, ctxOf func(i int) context.Context,
	opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !Enabled() {
		return ctx, noop.Span{}
	}
	links := make([]trace.Link, 0, n)
	for i := range n {
		if sc := trace.SpanContextFromContext(ctxOf(i)); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	opts = append(opts, trace.WithNewRoot(), trace.WithLinks(links...))
	ctx, span := Tracer().Start(ctx, name, opts...)
	for i := range n { // and each caller's span links back to it
		trace.SpanFromContext(ctxOf(i)).AddLink(trace.Link{SpanContext: span.SpanContext()})
	}
	return ctx, span
}
