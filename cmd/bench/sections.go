package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/relay"
)

// perOpMs is d in milliseconds per one of n operations.
func perOpMs(d time.Duration, n float64) float64 { return msOf(d) / max(n, 1) }

func describe(d time.Duration, n int) string {
	if n > 0 {
		return fmt.Sprintf("%d requests", n)
	}
	return d.String()
}

// benchDrain measures the relay draining a backlog against a raw InsertMany.
func benchDrain(ctx context.Context, o benchOptions, d *database, w *cpuWatch) ([]row, error) {
	pool, err := db.Open(ctx, d.url, int32(o.drainWorkers+20))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	n, note, err := fitDrain(ctx, o)
	if err != nil {
		return nil, err
	}
	o.drainN = n
	fmt.Printf("relay drain of a %d-email backlog%s, %d workers × batch %d (serve's defaults); baseline, the raw relay limit: %d goroutines\n"+
		"each reading %d emails from PostgreSQL, building their documents and inserting them with one unordered InsertMany, all timed\n",
		o.drainN, note, o.drainWorkers, o.drainBatch, o.drainWorkers, o.drainBatch)
	var relayRates, rawRates, cpuRatio []float64
	for i := range o.runs {
		r, err := drainOnce(ctx, pool, w, o.mongoURL, fmt.Sprintf("%d_%d", os.Getpid(), i), o.drainN, i == 0 || o.drainReseed,
			relay.Config{Workers: o.drainWorkers, BatchSize: o.drainBatch})
		if err != nil {
			return nil, err
		}
		if r.seedElapsed > 0 {
			fmt.Printf("  seeded %d emails through ingest.Service (transactions of 500, 2 at a time) in %s: %.0f emails/s\n",
				o.drainN, r.seedElapsed.Round(time.Millisecond), float64(o.drainN)/r.seedElapsed.Seconds())
		} else {
			fmt.Printf("  re-enqueued the %d stored emails (fresh outbox rows)\n", o.drainN)
		}
		relayCPU, rawCPU := perOpMs(r.relayCPU.service(true), float64(o.drainN)), perOpMs(r.rawCPU.service(true), float64(o.drainN))
		relayRates, rawRates, cpuRatio = append(relayRates, r.relayDocsPerSec), append(rawRates, r.rawDocsPerSec), append(cpuRatio, rawCPU/relayCPU)
		fmt.Printf("  run %d: relay %.0f docs/s (%s) | raw relay limit %.0f docs/s (%s) | ratio %.2f\n", i+1,
			r.relayDocsPerSec, r.relayElapsed.Round(time.Millisecond), r.rawDocsPerSec, r.rawElapsed.Round(time.Millisecond),
			r.relayDocsPerSec/r.rawDocsPerSec)
		fmt.Printf("         relay %s\n         raw   %s\n         CPU per doc, all processes: relay %.2f ms, raw %.2f ms → CPU-cost ratio %.2f\n         (unmeasured: %s)\n",
			r.relayCPU.perOp(o.drainN, "doc"), r.rawCPU.perOp(o.drainN, "doc"), relayCPU, rawCPU, rawCPU/relayCPU, strings.Join(r.overhead, ", "))
	}
	mr, mb, mc := median(relayRates), median(rawRates), median(cpuRatio)
	fmt.Printf("drain: median %.0f docs/s vs raw relay limit %.0f docs/s → ratio %.2f (target ≥ 0.80); CPU-cost ratio %.2f\n", mr, mb, mr/mb, mc)
	return []row{
		{fmt.Sprintf("relay drain %d%s, %d×%d (docs/s)", o.drainN, shortNote(note), o.drainWorkers, o.drainBatch), fmt.Sprintf("%.0f", mr),
			fmt.Sprintf("raw limit %.0f docs/s", mb), fmt.Sprintf("%.2f", mr/mb), "≥ 0.80", verdict(mr/mb, 0.8, false)},
		{"  CPU per doc (all processes)", "", "raw relay limit", fmt.Sprintf("%.2f", mc), "(≥ 0.80)", info(verdict(mc, 0.8, false))},
	}, nil
}

// benchLatency measures ingest → synced at a steady rate with the relay on,
// configured as serve configures it by default.
func benchLatency(ctx context.Context, o benchOptions, d *database, w *cpuWatch) ([]row, error) {
	mongo, err := freshStore(ctx, o.mongoURL, fmt.Sprintf("bench_e2e_%d", os.Getpid()))
	if err != nil {
		return nil, err
	}
	defer dropStore(mongo)
	st, err := startStack(ctx, d.url, mongo, relay.Config{Workers: o.latencyWorkers, BatchSize: o.latencyBatch})
	if err != nil {
		return nil, err
	}
	defer st.close()
	if err := reset(ctx, st.pool); err != nil {
		return nil, err
	}
	p, err := newPoster(st.base, 64)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, rate := range o.rateList {
		r, err := latencyAt(ctx, o, st, p, w, rate)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// latencyTarget is the ingest→synced p99 target at rate emails/s.
func latencyTarget(rate float64) float64 {
	if rate <= 200 {
		return 100
	}
	return 250
}

// latencyAt runs the latency measurement at one rate.
func latencyAt(ctx context.Context, o benchOptions, st *stack, p poster, w *cpuWatch, rate float64) ([]row, error) {
	if _, err := latencyOnce(ctx, st, p, fmt.Sprintf("warm%.0f", rate), rate, time.Second); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	fmt.Printf("POST /v1/emails at %.0f/s for %s per run, relay %d workers × batch %d; latency = synced_at − created_at\n",
		rate, o.latencyDuration, o.latencyWorkers, o.latencyBatch)
	var p50, p99, cpu, refused []float64
	for i := range o.runs {
		stop := w.start(ctx)
		r, err := latencyOnce(ctx, st, p, fmt.Sprintf("l%.0f-%d", rate, i), rate, o.latencyDuration)
		if err != nil {
			return nil, err
		}
		use := stop()
		p50, p99 = append(p50, msOf(percentile(r.sync, 50))), append(p99, msOf(percentile(r.sync, 99)))
		cpu = append(cpu, perOpMs(use.service(true), float64(r.sent)))
		refused = append(refused, float64(r.failed))
		fmt.Printf("  run %d: %d emails at %.1f/s (%d refused after retries); ingest→synced p50 %s, p99 %s, max %s | HTTP p50 %s, p99 %s\n",
			i+1, r.sent, r.rate, r.failed, ms(p50[i]), ms(p99[i]), ms(msOf(percentile(r.sync, 100))),
			ms(msOf(percentile(r.http, 50))), ms(msOf(percentile(r.http, 99))))
		fmt.Printf("         largest outbox backlog %d; %.1f PostgreSQL transactions per email (ingest 1, the rest relay and sampling)\n         %s\n",
			r.maxBacklog, r.xactPerEmail, use.perOp(r.sent, "email"))
	}
	target := latencyTarget(rate)
	fmt.Printf("latency at %.0f/s: median p50 %s, p99 %s (target p99 ≤ %.0f ms); CPU per email, all processes %.2f ms (%.2f CPUs)\n",
		rate, ms(median(p50)), ms(median(p99)), target, median(cpu), median(cpu)*rate/1000)
	return []row{
		{fmt.Sprintf("ingest→synced at %.0f/s, p50 / p99", rate), ms(median(p50)) + " / " + ms(median(p99)),
			"", "", fmt.Sprintf("p99 ≤ %.0f ms", target), verdict(median(p99), target, true)},
		{"  CPU per email (all processes)", fmt.Sprintf("%.2f ms", median(cpu)), fmt.Sprintf("= %.2f CPUs", median(cpu)*rate/1000), "", "", ""},
		{"  refused (503 after 5 tries)", fmt.Sprintf("%.0f of %.0f", median(refused), rate*o.latencyDuration.Seconds()), "", "", "", ""},
	}, nil
}

// shortNote is the part of a note up to its colon, closed: " (cut from N to fit -budget 9m30s)".
func shortNote(note string) string {
	if i := strings.Index(note, ":"); i >= 0 {
		return note[:i] + ")"
	}
	return note
}
