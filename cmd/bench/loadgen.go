package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// The load generator runs as its own process (`bench loadgen ...`), as the
// upstream processors that feed mailsync do: its CPU is not the server's,
// and the server's scheduler does not run the clients. Every HTTP figure of
// the ingest section, mailsync's and the floor's, is driven by it. It
// prints one JSON loadReport on stdout. It posts through mailsync's Go
// client (mailsync/client) with the same pooled connections to mailsync
// and to the floor.

// loadReport is what one loadgen run measured.
type loadReport struct {
	Requests int     `json:"requests"` // answered as expected
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	P50, P99 float64 // milliseconds
	Retried  int64   `json:"retried"` // 503 + Retry-After answers retried
}

func (r loadReport) perSecond() float64 { return float64(r.Requests) / max(r.Seconds, 1e-9) }

// loadgenMain is the loadgen process: closed-loop clients posting new
// emails (mode single: POST /v1/emails; batch: POST /v1/emails/batch).
func loadgenMain(args []string) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	base := fs.String("url", "", "server base URL")
	conc := fs.Int("c", 16, "concurrent clients")
	d := fs.Duration("d", 10*time.Second, "duration")
	mode := fs.String("mode", "single", "single or batch")
	size := fs.Int("batch", 100, "emails per batch request")
	tag := fs.String("tag", "l", "prefix of the idempotency keys (unique per run)")
	if fs.Parse(args) != nil || *base == "" {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := newPoster(*base, *conc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	do := func(w, seq int) error {
		_, err := p.single(fmt.Sprintf("%s-%d-%d", *tag, w, seq))
		return err
	}
	if *mode == "batch" {
		do = func(w, seq int) error { return p.batch(fmt.Sprintf("%s-%d-%d", *tag, w, seq), *size) }
	}
	r := runLoad(ctx, *conc, *d, 0, do)
	rep := loadReport{Requests: r.requests, Errors: r.errors, Seconds: r.elapsed.Seconds(),
		P50: msOf(percentile(r.latencies, 50)), P99: msOf(percentile(r.latencies, 99)), Retried: unavailableRetries.Load()}
	if r.firstErr != nil {
		rep.FirstErr = r.firstErr.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

// loadgen runs one loadgen process against base and returns its report;
// any failed request is an error.
func loadgen(ctx context.Context, base, mode string, conc int, d time.Duration, batch int, tag string) (loadReport, error) {
	self, err := os.Executable()
	if err != nil {
		return loadReport{}, err
	}
	cmd := exec.CommandContext(ctx, self, "loadgen", "-url", base, "-c", strconv.Itoa(conc), "-d", d.String(),
		"-mode", mode, "-batch", strconv.Itoa(batch), "-tag", tag)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return loadReport{}, fmt.Errorf("loadgen: %w", err)
	}
	var r loadReport
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("loadgen output %q: %w", out, err)
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("loadgen against %s: %d of %d requests failed, first: %s", base, r.Errors, r.Errors+r.Requests, r.FirstErr)
	}
	unavailableRetries.Add(r.Retried)
	return r, nil
}
