package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"mailsync/internal/tracing"
)

// collector is a fake OTLP/HTTP collector counting the trace exports it gets.
func collector(t *testing.T) (url string, exports *atomic.Int64) {
	exports = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	return srv.URL, exports
}

func TestTracingOffStoresNoContextAndExportsNothing(t *testing.T) {
	url, exports := collector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_TRACES_EXPORTER", "none") // an endpoint, but the exporter turned off
	cfg, err := tracing.FromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_TRACES_EXPORTER": "none"}))
	require.NoError(t, err)
	require.False(t, cfg.On)
	shutdown, err := tracing.Setup(context.Background(), cfg)
	require.NoError(t, err)
	require.False(t, tracing.Enabled())
	require.Nil(t, tracing.PgxTracer(), "no statement tracer")
	require.Nil(t, tracing.MongoMonitor(), "no command monitor")

	s := newStack(t)
	require.Nil(t, s.pool.Config().ConnConfig.Tracer)
	id := s.post(3)
	parent, traceID := s.outboxTrace(id)
	require.Empty(t, parent, "no trace context in the outbox row")
	require.Empty(t, traceID, "no trace id on the email")
	_, sp := otel.Tracer("x").Start(context.Background(), "x")
	require.False(t, sp.IsRecording())
	require.NoError(t, shutdown(context.Background()))
	require.Zero(t, exports.Load(), "nothing was exported")
}

func TestTracingOnExportsToTheCollector(t *testing.T) {
	url, exports := collector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	cfg, err := tracing.FromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url}))
	require.NoError(t, err)
	require.True(t, cfg.On)
	shutdown, err := tracing.Setup(context.Background(), cfg)
	require.NoError(t, err)
	require.True(t, tracing.Enabled())
	_, sp := tracing.Start(context.Background(), "probe")
	require.True(t, sp.IsRecording())
	sp.End()
	require.NoError(t, shutdown(context.Background())) // flushes
	require.Positive(t, exports.Load(), "the span reached the collector")
	require.False(t, tracing.Enabled(), "shutdown turns tracing off")
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		on       bool
		protocol string
		err      string
	}{
		{env: nil, on: false},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: true, protocol: "grpc"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, on: true, protocol: "http/protobuf"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, on: false},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, on: false},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{env: map[string]string{"OTEL_SDK_DISABLED": "yes"}, err: "OTEL_SDK_DISABLED"},
	} {
		cfg, err := tracing.FromEnv(envOf(c.env))
		if c.err != "" {
			require.ErrorContains(t, err, c.err, "%v", c.env)
			continue
		}
		require.NoError(t, err, "%v", c.env)
		require.Equal(t, c.on, cfg.On, "%v", c.env)
		if c.on {
			require.Equal(t, c.protocol, cfg.Protocol, "%v", c.env)
		}
	}
}

func TestLogLinesInsideASpanCarryItsIDs(t *testing.T) {
	t.Cleanup(tracing.Install(sdktrace.NewTracerProvider()))
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With("k", "v")
	ctx, span := tracing.Start(context.Background(), "work")
	log.InfoContext(ctx, "inside", "a", 1)
	span.End()
	log.InfoContext(context.Background(), "outside")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 2)
	var in, out map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &in))
	require.NoError(t, json.Unmarshal(lines[1], &out))
	require.Equal(t, span.SpanContext().TraceID().String(), in["trace_id"])
	require.Equal(t, span.SpanContext().SpanID().String(), in["span_id"])
	require.Equal(t, "v", in["k"])
	require.NotContains(t, out, "trace_id")
	require.NotContains(t, out, "span_id")
}
