package tracing_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/lmtp"
	"mailsync/internal/metrics"
	"mailsync/internal/reconcile"
	"mailsync/internal/tracing"
)

// send posts body to path and returns the status.
func (s *stack) send(path, contentType, key, traceparent string, body []byte) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// traceIDs returns the trace id stored with each email, by message id.
func (s *stack) traceIDs() map[string]string {
	s.t.Helper()
	rows, err := s.pool.Query(context.Background(),
		`SELECT e.message_id, coalesce(e.trace_id, ''), coalesce(o.traceparent, '')
		 FROM incoming_emails e JOIN outbox_messages o ON o.aggregate_id = e.id`)
	require.NoError(s.t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var mid, tid, parent string
		require.NoError(s.t, rows.Scan(&mid, &tid, &parent))
		require.Len(s.t, parent, 55, "the outbox row of %s carries a traceparent", mid)
		require.Equal(s.t, parent[3:35], tid, "the email %s and its outbox row name one trace", mid)
		out[mid] = tid
	}
	require.NoError(s.t, rows.Err())
	return out
}

func TestEveryHTTPIngestPathStoresTheRequestsTrace(t *testing.T) {
	rec := record(t)
	s := newStack(t)
	raw := []byte("From: Bob <bob@example.com>\r\nTo: support@example.org\r\nSubject: raw\r\n" +
		"Message-ID: <raw.1@example.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n")
	require.Equal(t, http.StatusCreated, s.send("/v1/emails", "message/rfc822", "raw-1", "", raw))
	batch := []byte(`{"emails":[` +
		`{"idempotency_key":"b-1","email":{"message_id":"<b.1@example.com>","mailbox":"support","from":"a@example.com","to":["b@example.com"],"subject":"b1","text_body":"x","received_at":"2026-11-27T10:00:00Z"}},` +
		`{"idempotency_key":"b-2","email":{"message_id":"<b.2@example.com>","mailbox":"support","from":"a@example.com","to":["b@example.com"],"subject":"b2","text_body":"x","received_at":"2026-11-27T10:00:00Z"}}]}`)
	require.Equal(t, http.StatusOK, s.send("/v1/emails/batch", "application/json", "", "", batch))
	// A caller's traceparent is continued: the email is in the caller's trace.
	const upstream = "0af7651916cd43dd8448eb211c80319c"
	json := []byte(`{"message_id":"<up.1@example.com>","mailbox":"support","from":"a@example.com","to":["b@example.com"],"subject":"up","text_body":"x","received_at":"2026-11-27T10:00:00Z"}`)
	require.Equal(t, http.StatusCreated, s.send("/v1/emails", "application/json", "up-1",
		"00-"+upstream+"-b7ad6b7169203331-01", json))

	ids := s.traceIDs()
	require.Len(t, ids, 4)
	require.Equal(t, ids["<b.1@example.com>"], ids["<b.2@example.com>"], "one batch request, one trace")
	require.Equal(t, upstream, ids["<up.1@example.com>"])
	for mid, name := range map[string]string{"<raw.1@example.com>": "POST /v1/emails",
		"<b.1@example.com>": "POST /v1/emails/batch", "<up.1@example.com>": "POST /v1/emails"} {
		span(t, rec, "the server span of "+mid, func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == name && s.SpanContext().TraceID().String() == ids[mid]
		})
	}
}

func TestLMTPDeliveriesStoreTheirSpansTrace(t *testing.T) {
	rec := record(t)
	pool, _ := dbtest.New(t)
	srv, err := lmtp.NewServer(ingest.NewService(pool, &ingest.Config{Render: handlers.RenderEmail}),
		&lmtp.Config{Addr: "127.0.0.1:0", Metrics: metrics.NewLMTP(prometheus.NewRegistry())})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(ctx))
	})
	conn, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	c := smtp.NewClientLMTP(conn)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Hello("mta.test"))
	require.NoError(t, c.Mail("alice@example.com", nil))
	require.NoError(t, c.Rcpt("one@example.org", nil))
	require.NoError(t, c.Rcpt("two@example.org", nil))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte("From: alice@example.com\r\nTo: one@example.org\r\nSubject: hi\r\n" +
		"Message-ID: <lmtp.1@example.com>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	traces := dbtest.Column[string](t, pool, `SELECT e.trace_id FROM incoming_emails e ORDER BY id`)
	require.Len(t, traces, 2, "one email per recipient")
	require.NotEqual(t, traces[0], traces[1], "each recipient is a delivery span of its own")
	for _, id := range traces {
		span(t, rec, "the LMTP delivery span of trace "+id, func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == tracing.SpanLMTP && s.SpanContext().TraceID().String() == id
		})
	}
}

func TestAPatchStoresItsTraceWithItsOutboxRow(t *testing.T) {
	rec := record(t)
	s := newStack(t)
	id := s.post(4)
	req, err := http.NewRequest(http.MethodPatch, s.url+"/v1/emails/"+strconv.FormatInt(id, 10),
		strings.NewReader(`{"mailbox":"billing"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"1"`)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	var parent string
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT coalesce(traceparent, '') FROM outbox_messages
		WHERE aggregate_id = $1 AND payload->>'reason' = 'patch'`, id).Scan(&parent))
	require.Len(t, parent, 55, "the patch's outbox row carries a traceparent")
	ingestParent, _ := s.outboxTrace(id)
	require.NotEqual(t, ingestParent[3:35], parent[3:35], "the patch is a trace of its own")
	span(t, rec, "the server span of the PATCH", func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Name() == "PATCH /v1/emails/{id}" && sp.SpanContext().TraceID().String() == parent[3:35]
	})
}

func TestAReconciliationRunIsASpanWithItsCommands(t *testing.T) {
	rec := record(t)
	s := newStack(t)
	s.post(5)
	rc := reconcile.New(s.pool, s.mongo, &reconcile.Config{Wake: func() {}})
	rep, err := rc.Run(context.Background(), reconcile.TriggerManual, true)
	require.NoError(t, err)
	run := span(t, rec, "the reconciliation run's span", func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Name() == tracing.SpanReconcile && attr(sp, string(tracing.AttrReportID)) == strconv.FormatInt(rep.ID, 10)
	})
	require.Equal(t, "true", attr(run, string(tracing.AttrDryRun)))
	span(t, rec, "a MongoDB command of the run", func(sp sdktrace.ReadOnlySpan) bool {
		return attr(sp, "db.system.name") == "mongodb" && sp.SpanContext().TraceID() == run.SpanContext().TraceID()
	})
}
