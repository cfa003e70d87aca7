package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// The sustained section finds the highest ingest rate the whole pipeline
// keeps up with: `serve --role=all` (API and relay syncing to MongoDB) in its
// own process, fed at a steady rate by the rate generator in another
// process (rategen.go). A rate is sustained when every request is answered
// 201 at that rate and the backlog (outbox rows not yet relayed) stays flat.
// It searches (doubling from -sustained-start, then halving the interval
// between the last rate kept up with and the first one not), confirms the
// rate found over -sustained-hold, and then measures ingest → synced at
// 200/s and at half the sustained rate.
var sustainedOpts sustainedConfig

type sustainedConfig struct {
	start, max       float64
	probe, hold, lat time.Duration
	steps            int
}

func init() {
	flag.Float64Var(&sustainedOpts.start, "sustained-start", 100, "sustained: first rate probed (emails/s)")
	flag.Float64Var(&sustainedOpts.max, "sustained-max", 3200, "sustained: highest rate probed (emails/s)")
	flag.DurationVar(&sustainedOpts.probe, "sustained-probe", 10*time.Second, "sustained: duration of each probe of the search")
	flag.IntVar(&sustainedOpts.steps, "sustained-steps", 3, "sustained: bisection steps after the doubling")
	flag.DurationVar(&sustainedOpts.hold, "sustained-hold", 60*time.Second, "sustained: how long the rate found must keep the backlog flat")
	flag.DurationVar(&sustainedOpts.lat, "sustained-latency", 20*time.Second, "sustained: duration of the latency runs at 200/s and at half the sustained rate")
	register("sustained", benchSustained)
}

// sustainedReserve is about how long the section takes, kept free of the
// drain's budget.
func sustainedReserve() time.Duration {
	o := sustainedOpts
	probes := time.Duration(o.steps + 6)
	return probes*(o.probe+5*time.Second) + 2*(o.hold+10*time.Second) + 2*(o.lat+15*time.Second) + 30*time.Second
}

func benchSustained(ctx context.Context, o benchOptions, d *database, _ *cpuWatch) ([]row, error) {
	if o.mongoURL == "" {
		return nil, fmt.Errorf("-mongo-url (or MAILSYNC_BENCH_MONGO_URL) is required")
	}
	bin, cleanup, err := buildServer(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	srv, err := startRelayServer(ctx, o, d, bin, "sustained")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	p := &pacer{srv: srv.serverProc, pool: srv.pool}
	if _, err := p.run(ctx, 50, 2*time.Second, "warm"); err != nil {
		return nil, err
	}
	so := sustainedOpts
	fmt.Printf("sustained pipeline rate: `serve --role=all` (relay on, serve's defaults) fed at a steady rate by a generator in its own process;\n"+
		"a rate is kept up with when every request gets its 201 and the backlog (outbox rows not yet relayed) does not grow\n"+
		"(its trend over the run, the first 20%% left out, under 3%% of the rate + 5/s). Probes of %s, then %s to confirm.\n", so.probe, so.hold)
	rate, note, err := p.search(ctx, so)
	if err != nil {
		return nil, err
	}
	rows := []row{{"sustained pipeline rate (backlog flat " + so.hold.String() + ")", fmt.Sprintf("%.0f emails/s%s", rate, note),
		"", "", "printed", sustainedVerdict(rate)}}
	for _, r := range []struct {
		rate   float64
		label  string
		target float64
	}{{200, "200/s", 100}, {rate / 2, fmt.Sprintf("%.0f/s (half the sustained rate)", rate/2), 250}} {
		if r.rate <= 0 {
			continue
		}
		res, err := p.run(ctx, r.rate, so.lat, fmt.Sprintf("lat%.0f", r.rate))
		if err != nil {
			return nil, err
		}
		p50, p99, err := p.syncLatency(ctx, res.tag)
		if err != nil {
			return nil, err
		}
		fmt.Printf("ingest→synced at %s for %s: %s; p50 %s, p99 %s (target ≤ %.0f ms)\n", r.label, so.lat, res, ms(p50), ms(p99), r.target)
		value := ms(p50) + " / " + ms(p99)
		if lost := res.Refused + res.Errors; lost > 0 {
			value += fmt.Sprintf(" (%d of %d not stored)", lost, res.Sent)
		}
		rows = append(rows, row{"  ingest→synced at " + r.label + ", p50 / p99", value, "", "",
			fmt.Sprintf("p99 ≤ %.0f ms", r.target), verdict(p99, r.target, true)})
	}
	return rows, nil
}

func sustainedVerdict(rate float64) string {
	if rate <= 0 {
		return "MISSED"
	}
	return "printed"
}

// search finds the highest rate kept up with, confirmed over o.hold; note
// says when the search was cut short.
func (p *pacer) search(ctx context.Context, o sustainedConfig) (float64, string, error) {
	good, bad := 0.0, 0.0
	for r := o.start; r <= o.max; r *= 2 {
		ok, err := p.probe(ctx, r, o.probe)
		if err != nil {
			return 0, "", err
		}
		if !ok {
			bad = r
			break
		}
		good = r
	}
	if bad == 0 {
		return good, " (the highest probed)", nil
	}
	lo := good
	if lo == 0 {
		lo = bad / 4
	}
	for range o.steps {
		mid := (lo + bad) / 2
		ok, err := p.probe(ctx, mid, o.probe)
		if err != nil {
			return 0, "", err
		}
		if ok {
			lo = mid
		} else {
			bad = mid
		}
	}
	for range 3 { // confirm; step down by 15 % when the backlog grows over the longer run
		ok, err := p.probe(ctx, lo, o.hold)
		if err != nil {
			return 0, "", err
		}
		if ok {
			return lo, "", nil
		}
		lo *= 0.85
	}
	return lo, " (not confirmed)", nil
}

// probe runs at rate for d and reports whether the pipeline kept up.
func (p *pacer) probe(ctx context.Context, rate float64, d time.Duration) (bool, error) {
	res, err := p.run(ctx, rate, d, fmt.Sprintf("s%.0f", rate))
	if err != nil {
		return false, err
	}
	ok := res.keptUp(rate)
	fmt.Printf("  %6.0f/s for %s: %s → %s\n", rate, d, res, map[bool]string{true: "kept up", false: "fell behind"}[ok])
	// Every probe starts from an empty backlog.
	if err := waitDrained(ctx, p.pool, 3*time.Minute); err != nil {
		return false, err
	}
	return ok, nil
}

// keptUp reports whether a run at rate was answered and relayed as fast as
// it was fed.
func (r paceResult) keptUp(rate float64) bool {
	return r.Refused == 0 && r.Errors == 0 && r.achieved() >= 0.95*rate && r.slope <= 0.03*rate+5
}

func (r paceResult) String() string {
	s := fmt.Sprintf("%d sent, %.0f/s answered 201, %d refused (503), %d failed, HTTP p99 %s, backlog trend %+.1f/s (largest %d)",
		r.Sent, r.achieved(), r.Refused, r.Errors, ms(r.P99), r.slope, r.maxBacklog)
	if r.FirstErr != "" {
		s += "; first failure: " + r.FirstErr
	}
	return s
}

// syncLatency is the p50 and p99 of synced_at − created_at of the emails
// of one run (keys tag-*), once all of them are synced.
func (p *pacer) syncLatency(ctx context.Context, tag string) (p50, p99 float64, err error) {
	if err := waitDrained(ctx, p.pool, 3*time.Minute); err != nil {
		return 0, 0, err
	}
	err = p.pool.QueryRow(ctx, `SELECT coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY d), 0), coalesce(percentile_disc(0.99) WITHIN GROUP (ORDER BY d), 0)
		FROM (SELECT extract(epoch FROM synced_at - created_at) * 1000 AS d FROM incoming_emails
		      WHERE client_id = 'bench' AND idempotency_key LIKE $1 AND synced_at IS NOT NULL) s`, tag+"-%").Scan(&p50, &p99)
	return p50, p99, err
}
