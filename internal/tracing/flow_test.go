package tracing_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testlog"
	"mailsync/internal/testwait"
	"mailsync/internal/tracing"
)

// requestSpan waits for the server span of the POST /v1/emails that stored
// email id's outbox row (the one whose trace id the row carries).
func requestSpan(t *testing.T, rec interface {
	Ended() []sdktrace.ReadOnlySpan
}, traceID string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	testwait.Until(t, 10*time.Second, "the server span of POST /v1/emails", func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == "POST /v1/emails" && s.SpanContext().TraceID().String() == traceID {
				found = s
				return true
			}
		}
		return false
	})
	require.Equal(t, trace.SpanKindServer, found.SpanKind())
	return found
}

// mongoInsertUnder waits for the MongoDB insert span that is a child of
// batch, in batch's trace.
func mongoInsertUnder(t *testing.T, rec interface {
	Ended() []sdktrace.ReadOnlySpan
}, batch sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	testwait.Until(t, 10*time.Second, "the MongoDB insert span under the relay batch", func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == "insert "+mongostore.Collection && s.Parent().SpanID() == batch.SpanContext().SpanID() &&
				s.SpanContext().TraceID() == batch.SpanContext().TraceID() {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

func TestOneTraceLeadsFromTheRequestToTheMongoInsert(t *testing.T) {
	rec := record(t)
	logs := &testlog.Buffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(tracing.LogHandler(slog.NewJSONHandler(logs, nil))))
	t.Cleanup(func() { slog.SetDefault(prev) })
	s := newStack(t)
	id := s.post(1)

	// The outbox row carries the request's trace context, the email its trace id.
	parent, traceID := s.outboxTrace(id)
	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, parent)
	require.Equal(t, parent[3:35], traceID)
	req := requestSpan(t, rec, traceID)
	require.Equal(t, "/v1/emails", attr(req, "http.route"))

	// The group commit is a span of its own trace, linked to the request;
	// the insert statement is in that trace (in the span of its pgx batch).
	group := span(t, rec, "the group commit span", func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == tracing.SpanGroupCommit && linksTo(s, req.SpanContext().TraceID())
	})
	require.NotEqual(t, req.SpanContext().TraceID(), group.SpanContext().TraceID())
	require.True(t, linksTo(req, group.SpanContext().TraceID()), "the request links back to its group commit")
	span(t, rec, "the InsertEmail statement under the group commit", func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == "InsertEmail" && s.SpanContext().TraceID() == group.SpanContext().TraceID()
	})

	// The relay batch that writes the email links to the request's trace,
	// and MongoDB's insert is the batch's child.
	r := s.relayOf(s.mongo, relay.Config{})
	n, err := r.RunOnce(context.Background(), "w1")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	batch := span(t, rec, "the relay batch span linked to the request", func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == tracing.SpanRelayBatch && linksTo(s, req.SpanContext().TraceID())
	})
	require.Equal(t, req.SpanContext().SpanID(), linkTo(batch, req.SpanContext().TraceID()).SpanContext.SpanID(),
		"the link names the request's span")
	require.Equal(t, id, attrOfLink(linkTo(batch, req.SpanContext().TraceID()), tracing.AttrEmailID))
	insert := mongoInsertUnder(t, rec, batch)
	require.Equal(t, "mongodb", attr(insert, "db.system.name"))
	require.Equal(t, s.mongoD, attr(insert, "db.namespace"))

	// The access log line of the request carries its trace and span ids.
	testwait.Until(t, 10*time.Second, "the access log line of the request", func() bool {
		for _, l := range logLines(logs) {
			if l["msg"] == "http request" && l["route"] == "/v1/emails" {
				require.Equal(t, traceID, l["trace_id"])
				require.Equal(t, req.SpanContext().SpanID().String(), l["span_id"])
				return true
			}
		}
		return false
	})
}

func TestTheLinkHoldsWhenAnotherInstanceRelaysAfterAFailedAttempt(t *testing.T) {
	rec := record(t)
	s := newStack(t)
	id := s.post(2)
	_, traceID := s.outboxTrace(id)
	req := requestSpan(t, rec, traceID)

	// Instance A's MongoDB is gone: its attempt fails and the row stays due.
	down, _ := mongotest.StoreAt(t, mongotest.URL(t))
	require.NoError(t, down.Close(context.Background()))
	a := s.relayOf(down, relay.Config{Name: "instance-a", BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	n, _ := a.RunOnce(context.Background(), "a-0")
	require.Equal(t, 1, n)
	failed := span(t, rec, "instance A's batch span", func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == tracing.SpanRelayBatch && attr(s, string(tracing.AttrWorker)) == "a-0"
	})
	require.True(t, linksTo(failed, req.SpanContext().TraceID()), "instance A's batch links to the request")
	require.Equal(t, codes.Error, failed.Status().Code, "instance A's batch failed")
	require.Equal(t, "pending", s.syncStatus(id))

	// Instance B, with its own pool and MongoDB client, relays the row later.
	other, err := mongostore.Connect(context.Background(), mongotest.URL(t), s.mongoD, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close(context.Background()) })
	b := s.relayOf(other, relay.Config{Name: "instance-b"})
	testwait.Until(t, 10*time.Second, "instance B to relay the email", func() bool {
		n, err := b.RunOnce(context.Background(), "b-0")
		require.NoError(t, err)
		return n == 1
	})
	batch := span(t, rec, "instance B's batch span linked to the request", func(s sdktrace.ReadOnlySpan) bool {
		return s.Name() == tracing.SpanRelayBatch && attr(s, string(tracing.AttrWorker)) == "b-0" &&
			linksTo(s, req.SpanContext().TraceID())
	})
	require.Equal(t, req.SpanContext().SpanID(), linkTo(batch, req.SpanContext().TraceID()).SpanContext.SpanID())
	mongoInsertUnder(t, rec, batch)
	require.Equal(t, "synced", s.syncStatus(id))
}
