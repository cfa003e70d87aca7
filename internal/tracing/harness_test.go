package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testlog"
	"mailsync/internal/testwait"
	"mailsync/internal/tracing"
)

// record turns tracing on for the test with an in-memory span recorder.
// It must come before the pool, store and router are made: their
// instrumentation is installed only while tracing is on.
func record(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(tracing.Install(tp))
	return rec
}

// stack is one mailsync instance's API (without relay workers) on a test
// database and MongoDB database of its own.
type stack struct {
	t      *testing.T
	url    string // the HTTP server
	dbURL  string
	pool   *pgxpool.Pool
	mongo  *mongostore.Store
	mongoD string // the MongoDB database
}

func newStack(t *testing.T) *stack {
	t.Helper()
	pool, dbURL := dbtest.New(t)
	mongo, name := mongotest.NewStore(t)
	require.NoError(t, mongo.EnsureIndexes(context.Background()))
	h := handlers.New(&handlers.Config{
		Pool: pool, Mongo: mongo, Reader: ingest.NewReader(pool),
		Sync:   relay.NewAdmin(pool, 0, 3, func() {}),
		Ingest: ingest.NewService(pool, &ingest.Config{Render: handlers.RenderEmail, MaxRetries: 3}),
	})
	reg := prometheus.NewRegistry()
	router, err := handlers.Router(h, handlers.RouterConfig{MaxBodyBytes: 1 << 20, Gatherer: reg, Registerer: reg,
		RequestTimeout: time.Minute})
	require.NoError(t, err)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return &stack{t: t, url: srv.URL, dbURL: dbURL, pool: pool, mongo: mongo, mongoD: name}
}

// relayOf is a relay instance of its own: its own PostgreSQL pool and
// MongoDB client, driven step by step with RunOnce.
func (s *stack) relayOf(store *mongostore.Store, cfg relay.Config) *relay.Relay {
	s.t.Helper()
	pool, err := db.Open(context.Background(), s.dbURL, 4) // traced like serve's pool
	require.NoError(s.t, err)
	s.t.Cleanup(pool.Close)
	if cfg.Name == "" {
		cfg.Name = "instance-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return relay.New(pool, store, &cfg)
}

// post stores one email by POST /v1/emails and returns its id.
func (s *stack) post(n int) int64 {
	s.t.Helper()
	body, err := json.Marshal(map[string]any{
		"message_id": "<trace." + strconv.Itoa(n) + "@mail.example.com>", "mailbox": "support",
		"from": "Alice <alice@example.com>", "to": []string{"support@example.org"},
		"subject": "Order " + strconv.Itoa(n), "text_body": "Hello", "received_at": "2026-11-27T10:00:00Z",
	})
	require.NoError(s.t, err)
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/emails", bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "trace-"+strconv.Itoa(n))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	require.Equal(s.t, http.StatusCreated, resp.StatusCode)
	var e struct{ ID int64 }
	require.NoError(s.t, json.NewDecoder(resp.Body).Decode(&e))
	return e.ID
}

// outboxTrace returns the traceparent stored with email id's outbox row
// and the trace id stored with the email ("" for NULL).
func (s *stack) outboxTrace(id int64) (traceparent, traceID string) {
	s.t.Helper()
	var tp, tid *string
	require.NoError(s.t, s.pool.QueryRow(context.Background(),
		`SELECT o.traceparent, e.trace_id FROM outbox_messages o JOIN incoming_emails e ON e.id = o.aggregate_id
		 WHERE o.aggregate_id = $1 AND o.payload->>'reason' = 'ingest'`, id).Scan(&tp, &tid))
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return deref(tp), deref(tid)
}

// span waits for an ended span that matches and returns it.
func span(t *testing.T, rec *tracetest.SpanRecorder, what string, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	testwait.Until(t, 10*time.Second, what, func() bool {
		for _, s := range rec.Ended() {
			if match(s) {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

// linksTo reports whether s has a link to trace id.
func linksTo(s sdktrace.ReadOnlySpan, id trace.TraceID) bool {
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == id {
			return true
		}
	}
	return false
}

// logLines returns the JSON log lines written to logs so far.
func logLines(logs *testlog.Buffer) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// attr is span s's string attribute key ("" when absent).
func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// linkTo is s's link to trace id (the zero link when there is none).
func linkTo(s sdktrace.ReadOnlySpan, id trace.TraceID) sdktrace.Link {
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == id {
			return l
		}
	}
	return sdktrace.Link{}
}

// attrOfLink is link l's int attribute key (0 when absent).
func attrOfLink(l sdktrace.Link, key attribute.Key) int64 {
	for _, kv := range l.Attributes {
		if kv.Key == key {
			return kv.Value.AsInt64()
		}
	}
	return 0
}

// syncStatus is email id's sync_status.
func (s *stack) syncStatus(id int64) string {
	s.t.Helper()
	var status string
	require.NoError(s.t, s.pool.QueryRow(context.Background(), `SELECT sync_status FROM incoming_emails WHERE id = $1`, id).Scan(&status))
	return status
}
