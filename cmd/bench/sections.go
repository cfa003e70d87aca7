package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/relay"
)

// benchIngest measures single-email ingest over HTTP against pgbench running
// the same transaction (alternating, so both see the same table sizes), then
// batch ingest against the single-email rate.
func benchIngest(ctx context.Context, o benchOptions, d *database) ([]row, error) {
	script, err := pgbenchScript(o.queries)
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
	pids, err := poolBackends(ctx, st.pool)
	if err != nil {
		return nil, err
	}
	var tps, rps, p50, p99 []float64
	for i := range o.runs {
		c0 := sampleCPU(nil)
		t, err := runPgbench(ctx, o.pgbench, d.url, scriptPath, o.conc, o.duration, o.requests)
		if err != nil {
			return nil, err
		}
		c1 := sampleCPU(pids)
		r := runLoad(ctx, o.conc, o.duration, o.requests, single(fmt.Sprintf("s%d", i)))
		if r.errors > 0 {
			return nil, fmt.Errorf("single ingest: %d errors, first: %v", r.errors, r.firstErr)
		}
		pg, http := cpuSince(c0, c1), cpuSince(c1, sampleCPU(pids))
		tps, rps = append(tps, t), append(rps, r.perSecond())
		p50, p99 = append(p50, msOf(percentile(r.latencies, 50))), append(p99, msOf(percentile(r.latencies, 99)))
		fmt.Printf("  run %d: pgbench %.0f tps | ingest %.0f req/s (%d requests), p50 %s, p99 %s | ratio %.2f\n",
			i+1, t, r.perSecond(), r.requests, ms(p50[i]), ms(p99[i]), r.perSecond()/t)
		fmt.Printf("         cpu: pgbench run: machine %.0f%% busy, pgbench client %.2f ms CPU/tx; ingest run: %s\n",
			100*pg.machineBusy, msOf(pg.children)/(t*pg.seconds), http.perOp(r.requests))
	}
	fmt.Printf("batch POST /v1/emails/batch, %d emails per request, %d clients, %s per run\n", o.batchSize, o.batchConc, o.batchDuration)
	var eps []float64
	for i := range o.runs {
		c0 := sampleCPU(pids)
		r := runLoad(ctx, o.batchConc, o.batchDuration, 0, func(w, seq int) error {
			return p.batch(fmt.Sprintf("b%d-%d-%d", i, w, seq), o.batchSize)
		})
		if r.errors > 0 {
			return nil, fmt.Errorf("batch ingest: %d errors, first: %v", r.errors, r.firstErr)
		}
		use := cpuSince(c0, sampleCPU(pids))
		e := r.perSecond() * float64(o.batchSize)
		eps = append(eps, e)
		fmt.Printf("  run %d: %.0f emails/s (%d requests, p50 %s, p99 %s) | cpu per email: %s\n", i+1, e, r.requests,
			ms(msOf(percentile(r.latencies, 50))), ms(msOf(percentile(r.latencies, 99))), use.perOp(r.requests*o.batchSize))
	}
	mt, mr, me := median(tps), median(rps), median(eps)
	fmt.Printf("ingest: median %.0f req/s vs pgbench %.0f tps → ratio %.2f (target ≥ 0.70); p50 %s, p99 %s\n",
		mr, mt, mr/mt, ms(median(p50)), ms(median(p99)))
	fmt.Printf("batch: median %.0f emails/s vs single %.0f req/s → ratio %.1f (target ≥ 5)\n", me, mr, me/mr)
	return []row{
		{fmt.Sprintf("single-email ingest, %d clients (req/s)", o.conc), fmt.Sprintf("%.0f", mr),
			fmt.Sprintf("pgbench %.0f tps", mt), fmt.Sprintf("%.2f", mr/mt), "≥ 0.70", verdict(mr/mt, 0.7, false)},
		{"  its latency p50 / p99", ms(median(p50)) + " / " + ms(median(p99)), "", "", "", ""},
		{fmt.Sprintf("batch ingest, %d/request, %d clients (emails/s)", o.batchSize, o.batchConc), fmt.Sprintf("%.0f", me),
			fmt.Sprintf("single %.0f req/s", mr), fmt.Sprintf("%.1f", me/mr), "≥ 5", verdict(me/mr, 5, false)},
	}, nil
}

func describe(d time.Duration, n int) string {
	if n > 0 {
		return fmt.Sprintf("%d requests", n)
	}
	return d.String()
}

// benchDrain measures the relay draining a backlog against a raw InsertMany.
func benchDrain(ctx context.Context, o benchOptions, d *database) ([]row, error) {
	pool, err := db.Open(ctx, d.url, int32(o.drainWorkers+20))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	fmt.Printf("relay drain of a %d-email backlog, %d workers × batch %d; baseline: one unordered InsertMany of the same documents\n",
		o.drainN, o.drainWorkers, o.drainBatch)
	var relayRates, rawRates []float64
	for i := range o.runs {
		r, err := drainOnce(ctx, pool, o.mongoURL, fmt.Sprintf("%d_%d", os.Getpid(), i), o.drainN, i == 0 || o.drainReseed,
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
		relayRates, rawRates = append(relayRates, r.relayDocsPerSec), append(rawRates, r.rawDocsPerSec)
		fmt.Printf("  run %d: relay %.0f docs/s (%s) | raw InsertMany %.0f docs/s (%s) | ratio %.2f\n", i+1,
			r.relayDocsPerSec, r.relayElapsed.Round(time.Millisecond), r.rawDocsPerSec, r.rawElapsed.Round(time.Millisecond),
			r.relayDocsPerSec/r.rawDocsPerSec)
	}
	mr, mb := median(relayRates), median(rawRates)
	fmt.Printf("drain: median %.0f docs/s vs raw InsertMany %.0f docs/s → ratio %.2f (target ≥ 0.80)\n", mr, mb, mr/mb)
	return []row{{fmt.Sprintf("relay drain %d, %d×%d (docs/s)", o.drainN, o.drainWorkers, o.drainBatch), fmt.Sprintf("%.0f", mr),
		fmt.Sprintf("InsertMany %.0f docs/s", mb), fmt.Sprintf("%.2f", mr/mb), "≥ 0.80", verdict(mr/mb, 0.8, false)}}, nil
}

// benchLatency measures ingest → synced at a steady rate with the relay on,
// configured as serve configures it by default.
func benchLatency(ctx context.Context, o benchOptions, d *database) ([]row, error) {
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
	var p50, p99, max_ []float64
	for i := range o.runs {
		r, err := latencyOnce(ctx, st, p, fmt.Sprintf("l%d", i), o.rate, o.latencyDuration)
		if err != nil {
			return nil, err
		}
		p50, p99 = append(p50, msOf(percentile(r.sync, 50))), append(p99, msOf(percentile(r.sync, 99)))
		max_ = append(max_, msOf(percentile(r.sync, 100)))
		fmt.Printf("  run %d: %d emails at %.1f/s; ingest→synced p50 %s, p99 %s, max %s | HTTP p50 %s, p99 %s\n",
			i+1, r.sent, r.rate, ms(p50[i]), ms(p99[i]), ms(max_[i]),
			ms(msOf(percentile(r.http, 50))), ms(msOf(percentile(r.http, 99))))
	}
	fmt.Printf("latency: median p50 %s, p99 %s (target p99 ≤ 250 ms)\n", ms(median(p50)), ms(median(p99)))
	return []row{{fmt.Sprintf("ingest→synced at %.0f/s, p50 / p99", o.rate), ms(median(p50)) + " / " + ms(median(p99)),
		"", "", "p99 ≤ 250 ms", verdict(median(p99), 250, true)}}, nil
}
