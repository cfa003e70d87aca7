package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A duration in a log line reads as a duration in both formats, not as a
// count of nanoseconds ("duration":13000000).
func TestLogDurationsReadAsDurations(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		slog.New(logHandler(&b, config{LogFormat: format, LogLevel: "info"})).Info("reconciliation finished",
			"duration", 13*time.Millisecond)
		if format == "json" {
			require.Contains(t, b.String(), `"duration":"13ms"`, b.String())
		} else {
			require.Contains(t, b.String(), "duration=13ms", b.String())
		}
	}
}
