package main

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"mailsync/internal/lifecycle"
)

// releaseMemory gives memory back to the operating system after bursts of
// big requests. Go returns freed heap pages only gradually, and only after a
// collection, which an idle process may not run for two minutes; buffers
// parked in a sync.Pool (pgx's read buffers, encoding/json's encode states)
// survive one collection. So every interval, when the heap holds more than
// threshold bytes beyond its live objects, it runs two collections (the
// second empties the pools) and returns the free pages (debug.FreeOSMemory).
// It stops when ctx ends.
func releaseMemory(ctx context.Context, interval time.Duration, threshold uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	release := lifecycle.Loop{Name: "memory release", Interval: interval, Pass: func(context.Context, context.Context) error {
		metrics.Read(samples)
		held := samples[0].Value.Uint64() + samples[1].Value.Uint64() + samples[2].Value.Uint64()
		live := samples[3].Value.Uint64()
		if held < live+threshold {
			return nil
		}
		runtime.GC()
		debug.FreeOSMemory()
		slog.Debug("returned memory to the OS", "held_mb", held>>20, "live_mb", live>>20)
		return nil
	}}
	release.Run(ctx, ctx) // nothing in flight to finish: it stops with ctx
}
