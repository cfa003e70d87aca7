package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/relay"
)

// perOpMs is d in milliseconds per one of n operations.
func perOpMs(d time.Duration, n float64) float64 { return msOf(d) / max(n, 1) }

// benchIngest measures single-email ingest over HTTP against pgbench running
// the same transaction (alternating, so both see the same table sizes), then
// batch ingest against the single-email rate.
func benchIngest(ctx context.Context, o benchOptions, d *database, w *cpuWatch) ([]row, error) {
	script, defines, err := pgbenchScript(o.queries)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailsync-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	scriptPath := filepath.Join(dir, "ingest.sql")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return nil, err
	}
	st, err := startStack(ctx, d.url, nil, relay.Config{Workers: 0}) // relay off: ingest only
	if err != nil {
		return nil, err
	}
	defer st.close()
	if err := reset(ctx, st.pool); err != nil {
		return nil, err
	}
	p := poster{client: newClient(max(o.conc, o.batchConc)), base: st.base}
	single := func(tag string) func(w, seq int) error {
		return func(w, seq int) error { _, err := p.single(fmt.Sprintf("%s-%d-%d", tag, w, seq)); return err }
	}
	if r := runLoad(ctx, o.conc, 2*time.Second, 0, single("warm")); r.errors > 0 {
		return nil, fmt.Errorf("warm-up: %d errors, first: %v", r.errors, r.firstErr)
	}
	fmt.Printf("single-email POST /v1/emails, %d clients, %s per run; pgbench -M prepared -c %d, same transaction\n",
		o.conc, describe(o.duration, o.requests), o.conc)
	var tps, rps, p50, p99, cpuRatio, singleCPU []float64
	for i := range o.runs {
		stop := w.start(ctx)
		t, err := runPgbench(ctx, o.pgbench, d.url, scriptPath, defines, o.conc, o.duration, o.requests)
		if err != nil {
			return nil, err
		}
		pg := stop()
		stop = w.start(ctx)
		r := runLoad(ctx, o.conc, o.duration, o.requests, single(fmt.Sprintf("s%d", i)))
		if r.errors > 0 {
			return nil, fmt.Errorf("single ingest: %d errors, first: %v", r.errors, r.firstErr)
		}
		in := stop()
		txs := t * o.duration.Seconds()
		if o.requests > 0 {
			txs = float64(max(o.requests/o.conc, 1) * o.conc)
		}
		pgCPU, inCPU := perOpMs(pg.children+pg.pgbench, txs), perOpMs(in.service(false), float64(r.requests))
		tps, rps = append(tps, t), append(rps, r.perSecond())
		p50, p99 = append(p50, msOf(percentile(r.latencies, 50))), append(p99, msOf(percentile(r.latencies, 99)))
		cpuRatio, singleCPU = append(cpuRatio, pgCPU/inCPU), append(singleCPU, inCPU)
		fmt.Printf("  run %d: pgbench %.0f tps | ingest %.0f req/s (%d requests), p50 %s, p99 %s | ratio %.2f\n",
			i+1, t, r.perSecond(), r.requests, ms(p50[i]), ms(p99[i]), r.perSecond()/t)
		fmt.Printf("         pgbench %s\n         ingest  %s\n         CPU per operation: pgbench %.2f ms, ingest %.2f ms → CPU-cost ratio %.2f\n",
			pg.perOp(int(txs), "tx"), in.perOp(r.requests, "request"), pgCPU, inCPU, pgCPU/inCPU)
	}
	fmt.Printf("batch POST /v1/emails/batch, %d emails per request, %d clients, %s per run\n", o.batchSize, o.batchConc, o.batchDuration)
	var eps, batchCPU []float64
	for i := range o.runs {
		stop := w.start(ctx)
		r := runLoad(ctx, o.batchConc, o.batchDuration, 0, func(w, seq int) error {
			return p.batch(fmt.Sprintf("b%d-%d-%d", i, w, seq), o.batchSize)
		})
		if r.errors > 0 {
			return nil, fmt.Errorf("batch ingest: %d errors, first: %v", r.errors, r.firstErr)
		}
		use := stop()
		n := r.requests * o.batchSize
		e := r.perSecond() * float64(o.batchSize)
		eps, batchCPU = append(eps, e), append(batchCPU, perOpMs(use.service(false), float64(n)))
		fmt.Printf("  run %d: %.0f emails/s (%d requests, p50 %s, p99 %s)\n         %s\n", i+1, e, r.requests,
			ms(msOf(percentile(r.latencies, 50))), ms(msOf(percentile(r.latencies, 99))), use.perOp(n, "email"))
	}
	mt, mr, me := median(tps), median(rps), median(eps)
	mc, sc, bc := median(cpuRatio), median(singleCPU), median(batchCPU)
	fmt.Printf("ingest: median %.0f req/s vs pgbench %.0f tps → ratio %.2f (target ≥ 0.70); p50 %s, p99 %s; CPU-cost ratio %.2f\n",
		mr, mt, mr/mt, ms(median(p50)), ms(median(p99)), mc)
	fmt.Printf("batch: median %.0f emails/s vs single %.0f req/s → ratio %.1f (target ≥ 5); CPU per email %.2f ms vs %.2f ms per single request → CPU-cost ratio %.1f\n",
		me, mr, me/mr, bc, sc, sc/bc)
	return []row{
		{fmt.Sprintf("single-email ingest, %d clients (req/s)", o.conc), fmt.Sprintf("%.0f", mr),
			fmt.Sprintf("pgbench %.0f tps", mt), fmt.Sprintf("%.2f", mr/mt), "≥ 0.70", verdict(mr/mt, 0.7, false)},
		{"  its latency p50 / p99", ms(median(p50)) + " / " + ms(median(p99)), "", "", "", ""},
		{"  CPU per op (client+server+PostgreSQL)", fmt.Sprintf("%.2f ms/request", sc), "pgbench (same)", fmt.Sprintf("%.2f", mc), "(≥ 0.70)", info(verdict(mc, 0.7, false))},
		{fmt.Sprintf("batch ingest, %d/request, %d clients (emails/s)", o.batchSize, o.batchConc), fmt.Sprintf("%.0f", me),
			fmt.Sprintf("single %.0f req/s", mr), fmt.Sprintf("%.1f", me/mr), "≥ 5", verdict(me/mr, 5, false)},
		{"  CPU per email", fmt.Sprintf("%.2f ms/email", bc), fmt.Sprintf("single %.2f ms", sc), fmt.Sprintf("%.1f", sc/bc), "(≥ 5)", info(verdict(sc/bc, 5, false))},
	}, nil
}

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
	fmt.Printf("relay drain of a %d-email backlog%s, %d workers × batch %d; baseline: one unordered InsertMany of the same documents\n",
		o.drainN, note, o.drainWorkers, o.drainBatch)
	var relayRates, rawRates, cpuRatio []float64
	var docs []any
	for i := range o.runs {
		r, err := drainOnce(ctx, pool, w, o.mongoURL, fmt.Sprintf("%d_%d", os.Getpid(), i), o.drainN, i == 0 || o.drainReseed,
			&docs, relay.Config{Workers: o.drainWorkers, BatchSize: o.drainBatch})
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
		fmt.Printf("  run %d: relay %.0f docs/s (%s) | raw InsertMany %.0f docs/s (%s) | ratio %.2f\n", i+1,
			r.relayDocsPerSec, r.relayElapsed.Round(time.Millisecond), r.rawDocsPerSec, r.rawElapsed.Round(time.Millisecond),
			r.relayDocsPerSec/r.rawDocsPerSec)
		fmt.Printf("         relay %s\n         raw   %s\n         CPU per doc, all processes: relay %.2f ms, raw %.2f ms → CPU-cost ratio %.2f\n         (unmeasured: %s)\n",
			r.relayCPU.perOp(o.drainN, "doc"), r.rawCPU.perOp(o.drainN, "doc"), relayCPU, rawCPU, rawCPU/relayCPU, strings.Join(r.overhead, ", "))
	}
	mr, mb, mc := median(relayRates), median(rawRates), median(cpuRatio)
	fmt.Printf("drain: median %.0f docs/s vs raw InsertMany %.0f docs/s → ratio %.2f (target ≥ 0.80); CPU-cost ratio %.2f\n", mr, mb, mr/mb, mc)
	return []row{
		{fmt.Sprintf("relay drain %d%s, %d×%d (docs/s)", o.drainN, shortNote(note), o.drainWorkers, o.drainBatch), fmt.Sprintf("%.0f", mr),
			fmt.Sprintf("InsertMany %.0f docs/s", mb), fmt.Sprintf("%.2f", mr/mb), "≥ 0.80", verdict(mr/mb, 0.8, false)},
		{"  CPU per doc (all processes)", "", "raw InsertMany", fmt.Sprintf("%.2f", mc), "(≥ 0.80)", info(verdict(mc, 0.8, false))},
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
	p := poster{client: newClient(64), base: st.base}
	if _, err := latencyOnce(ctx, st, p, "warm", o.rate, time.Second); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	fmt.Printf("POST /v1/emails at %.0f/s for %s per run, relay %d workers × batch %d; latency = synced_at − created_at\n",
		o.rate, o.latencyDuration, o.latencyWorkers, o.latencyBatch)
	var p50, p99, cpu []float64
	for i := range o.runs {
		stop := w.start(ctx)
		r, err := latencyOnce(ctx, st, p, fmt.Sprintf("l%d", i), o.rate, o.latencyDuration)
		if err != nil {
			return nil, err
		}
		use := stop()
		p50, p99 = append(p50, msOf(percentile(r.sync, 50))), append(p99, msOf(percentile(r.sync, 99)))
		cpu = append(cpu, perOpMs(use.service(true), float64(r.sent)))
		fmt.Printf("  run %d: %d emails at %.1f/s; ingest→synced p50 %s, p99 %s, max %s | HTTP p50 %s, p99 %s\n",
			i+1, r.sent, r.rate, ms(p50[i]), ms(p99[i]), ms(msOf(percentile(r.sync, 100))),
			ms(msOf(percentile(r.http, 50))), ms(msOf(percentile(r.http, 99))))
		fmt.Printf("         largest outbox backlog %d; %.1f PostgreSQL transactions per email (ingest 1, the rest relay and sampling)\n         %s\n",
			r.maxBacklog, r.xactPerEmail, use.perOp(r.sent, "email"))
	}
	fmt.Printf("latency: median p50 %s, p99 %s (target p99 ≤ 250 ms); CPU per email, all processes %.2f ms (%.2f CPUs at %.0f/s)\n",
		ms(median(p50)), ms(median(p99)), median(cpu), median(cpu)*o.rate/1000, o.rate)
	return []row{
		{fmt.Sprintf("ingest→synced at %.0f/s, p50 / p99", o.rate), ms(median(p50)) + " / " + ms(median(p99)),
			"", "", "p99 ≤ 250 ms", verdict(median(p99), 250, true)},
		{"  CPU per email (all processes)", fmt.Sprintf("%.2f ms", median(cpu)), fmt.Sprintf("= %.2f CPUs", median(cpu)*o.rate/1000), "", "", ""},
	}, nil
}

// shortNote is the part of a note up to its colon, closed: " (cut from N to fit -budget 9m30s)".
func shortNote(note string) string {
	if i := strings.Index(note, ":"); i >= 0 {
		return note[:i] + ")"
	}
	return note
}
