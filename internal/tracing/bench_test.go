package tracing_test

import (
	"context"
	"testing"

	"mailsync/internal/tracing"
)

// BenchmarkHooksWhileOff is what the services pay per email and per batch
// while tracing is off: the trace context of the request (none), the group
// commit's and a batch's span (no-ops).
func BenchmarkHooksWhileOff(b *testing.B) {
	if tracing.Enabled() {
		b.Skip("tracing is on")
	}
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	b.ReportAllocs()
	for b.Loop() {
		if tracing.Carry(ctx).Parent != "" {
			b.Fatal("a trace context while off")
		}
		_, s := tracing.StartLinked(ctx, tracing.SpanGroupCommit, 1, func(int) context.Context { return ctx })
		tracing.End(s, nil)
		_, s = tracing.Start(ctx, tracing.SpanReconcile)
		s.End()
	}
}
