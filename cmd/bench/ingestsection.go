package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/relay"
)

// singleFigures are the medians of single-email ingest at one concurrency.
type singleFigures struct {
	conc                           int
	tps, rps, p50, p99             float64
	cpuRatio, cpuMs, goUs, pgCPUms float64
}

// benchIngest measures single-email ingest over HTTP against pgbench running
// the same transaction at each concurrency (alternating, so both see the
// same table sizes), then batch ingest against the pgbench rate, and the
// cost of the status-count triggers on that transaction.
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
	maxConc := o.batchConc
	for _, c := range o.concList {
		maxConc = max(maxConc, c)
	}
	st, err := startStack(ctx, d.url, nil, relay.Config{Workers: 0}) // relay off: ingest only
	if err != nil {
		return nil, err
	}
	defer st.close()
	if err := reset(ctx, st.pool); err != nil {
		return nil, err
	}
	p := poster{client: newClient(maxConc), base: st.base}
	single := func(tag string) func(w, seq int) error {
		return func(w, seq int) error { _, err := p.single(fmt.Sprintf("%s-%d-%d", tag, w, seq)); return err }
	}
	if r := runLoad(ctx, o.conc, 2*time.Second, 0, single("warm")); r.errors > 0 {
		return nil, fmt.Errorf("warm-up: %d errors, first: %v", r.errors, r.firstErr)
	}
	var rows []row
	var base singleFigures
	for ci, conc := range o.concList {
		fmt.Printf("single-email POST /v1/emails, %d clients, %s per run; pgbench -M prepared -c %d, same transaction\n",
			conc, describe(o.duration, o.requests), conc)
		var f [8][]float64 // tps, rps, p50, p99, cpuRatio, cpuMs, goUs, pgCPU
		for i := range o.runs {
			stop := w.start(ctx)
			t, err := runPgbench(ctx, o.pgbench, d.url, scriptPath, defines, conc, o.duration, o.requests)
			if err != nil {
				return nil, err
			}
			pg := stop()
			stop = w.start(ctx)
			r := runLoad(ctx, conc, o.duration, o.requests, single(fmt.Sprintf("s%d-%d", conc, i)))
			if r.errors > 0 {
				return nil, fmt.Errorf("single ingest: %d errors, first: %v", r.errors, r.firstErr)
			}
			in := stop()
			txs := t * o.duration.Seconds()
			if o.requests > 0 {
				txs = float64(max(o.requests/conc, 1) * conc)
			}
			pgCPU, inCPU := perOpMs(pg.children+pg.pgbench, txs), perOpMs(in.service(false), float64(r.requests))
			goUs := 1000 * perOpMs(in.self, float64(r.requests))
			p50, p99 := msOf(percentile(r.latencies, 50)), msOf(percentile(r.latencies, 99))
			for k, v := range []float64{t, r.perSecond(), p50, p99, pgCPU / inCPU, inCPU, goUs, pgCPU} {
				f[k] = append(f[k], v)
			}
			fmt.Printf("  run %d: pgbench %.0f tps | ingest %.0f req/s (%d requests), p50 %s, p99 %s | ratio %.2f\n",
				i+1, t, r.perSecond(), r.requests, ms(p50), ms(p99), r.perSecond()/t)
			fmt.Printf("         pgbench %s\n         ingest  %s\n         CPU per operation: pgbench %.2f ms, ingest %.2f ms (Go process %.0f µs) → CPU-cost ratio %.2f\n",
				pg.perOp(int(txs), "tx"), in.perOp(r.requests, "request"), pgCPU, inCPU, goUs, pgCPU/inCPU)
		}
		s := singleFigures{conc: conc, tps: median(f[0]), rps: median(f[1]), p50: median(f[2]), p99: median(f[3]),
			cpuRatio: median(f[4]), cpuMs: median(f[5]), goUs: median(f[6]), pgCPUms: median(f[7])}
		if ci == 0 {
			base = s
		}
		fmt.Printf("ingest at %d: median %.0f req/s vs pgbench %.0f tps → ratio %.2f (target ≥ 1.0); p50 %s, p99 %s; Go process %.0f µs CPU per request; CPU-cost ratio %.2f\n",
			conc, s.rps, s.tps, s.rps/s.tps, ms(s.p50), ms(s.p99), s.goUs, s.cpuRatio)
		rows = append(rows,
			row{fmt.Sprintf("single-email ingest, %d clients (req/s)", conc), fmt.Sprintf("%.0f", s.rps),
				fmt.Sprintf("pgbench %.0f tps", s.tps), fmt.Sprintf("%.2f", s.rps/s.tps), "≥ 1.0", verdict(s.rps/s.tps, 1.0, false)},
			row{"  its latency p50 / p99", ms(s.p50) + " / " + ms(s.p99), "", "", p99Target(ci), p99Verdict(ci, s.p99)},
			row{"  CPU per op (client+server+PostgreSQL)", fmt.Sprintf("%.2f ms/request", s.cpuMs), "pgbench (same)",
				fmt.Sprintf("%.2f", s.cpuRatio), "", ""},
			row{"  Go process CPU (HTTP client + server)", fmt.Sprintf("%.0f µs/request", s.goUs), "", "", "", ""})
	}
	batchRows, err := benchBatch(ctx, o, p, w, base)
	if err != nil {
		return nil, err
	}
	rows = append(rows, batchRows...)
	trig, err := triggerCost(ctx, o, w, st.pool, d.url, scriptPath, defines)
	if err != nil {
		return nil, err
	}
	return append(rows, trig...), nil
}

func p99Target(ci int) string {
	if ci == 0 {
		return "p99 ≤ 50 ms"
	}
	return ""
}

func p99Verdict(ci int, p99 float64) string {
	if ci == 0 {
		return verdict(p99, 50, true)
	}
	return ""
}

// benchBatch measures batch ingest against the pgbench rate of base.
func benchBatch(ctx context.Context, o benchOptions, p poster, w *cpuWatch, base singleFigures) ([]row, error) {
	fmt.Printf("batch POST /v1/emails/batch, %d emails per request, %d clients, %s per run\n", o.batchSize, o.batchConc, o.batchDuration)
	var eps, batchCPU, goUs []float64
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
		goUs = append(goUs, 1000*perOpMs(use.self, float64(n)))
		fmt.Printf("  run %d: %.0f emails/s (%d requests, p50 %s, p99 %s)\n         %s\n", i+1, e, r.requests,
			ms(msOf(percentile(r.latencies, 50))), ms(msOf(percentile(r.latencies, 99))), use.perOp(n, "email"))
	}
	me, bc := median(eps), median(batchCPU)
	fmt.Printf("batch: median %.0f emails/s vs pgbench %.0f tps → ratio %.1f (target ≥ 2); CPU per email %.2f ms (Go process %.0f µs) vs %.2f ms per single request\n",
		me, base.tps, me/base.tps, bc, median(goUs), base.cpuMs)
	return []row{
		{fmt.Sprintf("batch ingest, %d/request, %d clients (emails/s)", o.batchSize, o.batchConc), fmt.Sprintf("%.0f", me),
			fmt.Sprintf("pgbench %.0f tps", base.tps), fmt.Sprintf("%.1f", me/base.tps), "≥ 2", verdict(me/base.tps, 2, false)},
		{"  CPU per email", fmt.Sprintf("%.2f ms/email", bc), fmt.Sprintf("single %.2f ms", base.cpuMs), fmt.Sprintf("%.1f", base.cpuMs/bc), "", ""},
	}, nil
}

// triggerCost runs the pgbench transaction with and without the
// status-count triggers of incoming_emails (one run each) and compares
// PostgreSQL's CPU per transaction, which hardly depends on other load.
func triggerCost(ctx context.Context, o benchOptions, w *cpuWatch, pool *pgxpool.Pool, dbURL, scriptPath string, defines []string) ([]row, error) {
	set := func(on bool) error {
		verb := "DISABLE"
		if on {
			verb = "ENABLE"
		}
		for _, t := range []string{"insert", "update", "delete", "truncate"} {
			if _, err := pool.Exec(ctx, "ALTER TABLE incoming_emails "+verb+" TRIGGER incoming_emails_count_"+t); err != nil {
				return err
			}
		}
		return nil
	}
	var tps, cpu [2]float64 // without, with
	for i, on := range []bool{false, true} {
		if err := set(on); err != nil {
			return nil, err
		}
		stop := w.start(ctx)
		t, err := runPgbench(ctx, o.pgbench, dbURL, scriptPath, defines, o.conc, o.duration, o.requests)
		if err != nil {
			return nil, err
		}
		use := stop()
		tps[i], cpu[i] = t, perOpMs(use.pgbench, t*o.duration.Seconds())
	}
	fmt.Printf("status-count triggers: pgbench -c %d %.0f tps and %.3f ms PostgreSQL CPU per tx with them, %.0f tps and %.3f ms without → CPU-cost ratio %.2f\n",
		o.conc, tps[1], cpu[1], tps[0], cpu[0], cpu[0]/cpu[1])
	return []row{{"PostgreSQL CPU per tx with status-count triggers", fmt.Sprintf("%.3f ms", cpu[1]),
		fmt.Sprintf("without %.3f ms", cpu[0]), fmt.Sprintf("%.2f", cpu[0]/cpu[1]), "", ""}}, nil
}
