package relay

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"mailsync/internal/db"
	"mailsync/internal/tracing"
)

// batchSpan starts the span of one claimed batch, from the claim's start:
// a root span linked to the trace context stored with each row, so that
// the trace of the request that enqueued a row leads to the MongoDB write
// that relays it, whichever instance relays it and however late. The
// statements and MongoDB commands of the batch are its children. It
// returns ctx and lctx carrying the span. While tracing is off it returns
// them unchanged with a no-op span.
func batchSpan(ctx, lctx context.Context, start time.Time, worker string, rows []db.OutboxMessage) (context.Context, context.Context, trace.Span) {
	if !tracing.Enabled() {
		return ctx, lctx, trace.SpanFromContext(context.Background())
	}
	links := make([]trace.Link, 0, len(rows))
	for _, m := range rows {
		c := tracing.Carried{Parent: m.Trace.Parent, State: m.Trace.State}
		if l, ok := c.Link(tracing.AttrOutboxID.Int64(m.ID), tracing.AttrEmailID.Int64(m.AggregateID),
			tracing.AttrRetryCount.Int(int(m.RetryCount))); ok {
			links = append(links, l)
		}
	}
	_, span := tracing.Tracer().Start(ctx, tracing.SpanRelayBatch, trace.WithNewRoot(), trace.WithTimestamp(start),
		trace.WithLinks(links...), trace.WithAttributes(tracing.AttrWorker.String(worker), tracing.AttrBatchRows.Int(len(rows))))
	return trace.ContextWithSpan(ctx, span), trace.ContextWithSpan(lctx, span), span
}
