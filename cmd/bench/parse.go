package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"

	"mailsync/internal/ingest"
)

// The parse section measures ingest.ParseRaw on the worst message shapes
// found (ingest.Shapes): the CPU time and the peak heap growth of one parse
// of each shape at -parse-mb, and the time at a quarter of that size, whose
// ratio shows whether the cost grows linearly (4x for 4x the bytes).
var parseOpts struct {
	mb          int
	ratioTarget float64
}

func init() {
	flag.IntVar(&parseOpts.mb, "parse-mb", 10, "parse: size of each message shape in MB (10^6 bytes)")
	flag.Float64Var(&parseOpts.ratioTarget, "parse-ratio-target", 6, "parse: the most time 4x the bytes may take, as a multiple")
	register("parse", benchParse)
}

// parseCost is the least CPU time and heap growth of three parses of raw.
func parseCost(raw []byte) (cpu time.Duration, peak uint64, defects []string) {
	cpu = time.Duration(1 << 62)
	for range 3 {
		runtime.GC()
		stop := sampleHeap()
		start := processCPU()
		m, err := ingest.ParseRaw(raw, ingest.Envelope{}, time.Now())
		cpu = min(cpu, processCPU()-start)
		peak = max(peak, stop())
		if err == nil {
			defects = m.Content.ParseDefects
		}
	}
	return cpu, peak, defects
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// sampleHeap watches the heap every millisecond until the returned
// function is called, which returns the most the heap grew.
func sampleHeap() func() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	base, peak := read(), uint64(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > base && v-base > peak {
				peak = v - base
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// benchParse prints and returns a row per shape.
func benchParse(_ context.Context, _ benchOptions, _ *database, _ *cpuWatch) ([]row, error) {
	size := parseOpts.mb * 1_000_000
	fmt.Printf("raw message parsing (ingest.ParseRaw), CPU time and peak heap growth of one parse, least of 3; "+
		"shapes of %d MB and %.1f MB\n", parseOpts.mb, float64(size)/4e6)
	var rows []row
	for _, s := range ingest.Shapes {
		big, small := s.Build(size), s.Build(size/4)
		cpu, peak, defects := parseCost(big)
		cpuSmall, _, _ := parseCost(small)
		ratio := float64(cpu) / float64(max(cpuSmall, time.Microsecond))
		fmt.Printf("  %-30s %8.1f ms  heap +%6.1f MB  (%.1f MB: %7.1f ms, x%.1f)  defects %v\n",
			s.Name, msOf(cpu), float64(peak)/1e6, float64(size)/4e6, msOf(cpuSmall), ratio, defects)
		rows = append(rows, row{
			metric:   fmt.Sprintf("parse %s, %d MB", s.Name, parseOpts.mb),
			value:    fmt.Sprintf("%.0f ms CPU, heap +%.0f MB", msOf(cpu), float64(peak)/1e6),
			baseline: fmt.Sprintf("%.0f ms at 1/4 size", msOf(cpuSmall)),
			ratio:    fmt.Sprintf("%.1fx", ratio),
			target:   fmt.Sprintf("<= %.0fx", parseOpts.ratioTarget),
			verdict:  verdict(ratio, parseOpts.ratioTarget, true),
		})
	}
	return rows, nil
}
