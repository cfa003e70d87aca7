package tracing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config says whether and how spans are exported. It is read from the
// standard OpenTelemetry variables (FromEnv); everything else the SDK reads
// from the environment itself: OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT, _COMPRESSION, _INSECURE,
// _CERTIFICATE, and the batch processor's OTEL_BSP_*.
type Config struct {
	// On: an OTLP exporter is configured.
	On bool
	// Protocol is "http/protobuf" (the default) or "grpc".
	Protocol string
}

// The variables FromEnv reads.
const (
	envDisabled       = "OTEL_SDK_DISABLED"
	envExporter       = "OTEL_TRACES_EXPORTER"
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// FromEnv reads the configuration through lookup. Tracing is on when
// OTEL_TRACES_EXPORTER is otlp, or when it is unset and an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
// set; OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true turn it off.
// The error names the variable of a value mailsync does not support.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	var errs []error
	disabled, endpoint, tracesEndpoint := get(envDisabled), get(envEndpoint), get(envTracesEndpoint)
	exporter, protocol, tracesProtocol := get(envExporter), get(envProtocol), get(envTracesProtocol)
	c := Config{Protocol: "http/protobuf"}
	switch strings.ToLower(disabled) {
	case "", "false":
	case "true":
		return Config{}, nil
	default:
		errs = append(errs, fmt.Errorf("%s=%q must be true or false", envDisabled, disabled))
	}
	switch strings.ToLower(exporter) {
	case "":
		c.On = endpoint != "" || tracesEndpoint != ""
	case "otlp":
		c.On = true
	case "none":
	default:
		errs = append(errs, fmt.Errorf("%s=%q must be otlp or none", envExporter, exporter))
	}
	if p := cmp.Or(tracesProtocol, protocol); p != "" {
		c.Protocol = p
	}
	if c.Protocol != "http/protobuf" && c.Protocol != "grpc" {
		errs = append(errs, fmt.Errorf("OTLP protocol %q (%s, %s) must be http/protobuf or grpc", c.Protocol, envTracesProtocol, envProtocol))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// Setup starts tracing as c says. While c is off it does nothing and
// returns a shutdown that does nothing: no exporter, no provider, and
// Enabled stays false. When on, it makes the OTLP exporter (which reads
// the OTEL_EXPORTER_OTLP_* variables), a provider batching spans to it
// with the resource of OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
// (service.name defaults to mailsync), and installs it. The shutdown
// flushes the spans still buffered, closes the exporter and turns tracing
// off.
func Setup(ctx context.Context, c Config) (shutdown func(context.Context) error, err error) {
	if !c.On {
		return func(context.Context) error { return nil }, nil
	}
	var exp sdktrace.SpanExporter
	if c.Protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "mailsync")),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID())
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { // a collector out of reach, for example
		slog.Warn("tracing: spans not exported", "err", err)
	}))
	restore := Install(tp)
	return func(ctx context.Context) error {
		defer restore() // spans started after this are no-ops
		return tp.Shutdown(ctx)
	}, nil
}
