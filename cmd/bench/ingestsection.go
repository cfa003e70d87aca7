package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
)

// The ingest section measures mailsync as upstream processors see it: the
// server in its own process (`server serve`, built from ./cmd/server),
// driven by the load generator in another process, next to the HTTP floor
// (floor.go) driven by the same load generator in the same run, and next
// to the grouped database limit (pgbenchgroup.go).
var ingestOpts struct {
	pgbenchDuration time.Duration
	groupInFlight   int
	profileTop      int
}

func init() {
	flag.DurationVar(&ingestOpts.pgbenchDuration, "pgbench-duration", 5*time.Second, "ingest: duration of each grouped pgbench run")
	flag.IntVar(&ingestOpts.groupInFlight, "group-inflight", 4, "ingest: mailsync's group transactions at once (the ingest service's default), pgbench's -c")
	flag.IntVar(&ingestOpts.profileTop, "profile-top", 25, "ingest: profile the ingest path under load and print this many top entries (0: no profile)")
}

// serverEnv is serve's environment for the bench: its database, a MongoDB
// database of its own, the bench's API key, a kernel-chosen port; every
// other setting at its default.
func serverEnv(dbURL, mongoURL, mongoDB string) []string {
	return []string{"DATABASE_URL=" + dbURL, "MONGO_URL=" + mongoURL, "MONGO_DB=" + mongoDB, "HTTP_ADDR=127.0.0.1:0",
		"API_KEYS=bench:" + benchToken + ":ingest+read", "LOG_FORMAT=json", "LOG_LEVEL=info"}
}

// singleRun is one load run against one server.
type singleRun struct {
	rps, p50, p99, cpuUs, group float64
}

// measureSingle runs the load generator against srv and, when pool is
// set, counts the transactions the database committed meanwhile.
func measureSingle(ctx context.Context, srv *serverProc, pool *pgxpool.Pool, conc int, d time.Duration, tag string) (singleRun, error) {
	var x0 int64
	if pool != nil {
		var err error
		if x0, err = xacts(ctx, pool); err != nil {
			return singleRun{}, err
		}
	}
	j0 := procJiffies(srv.cmd.Process.Pid)
	r, err := loadgen(ctx, srv.base, "single", conc, d, 0, tag)
	if err != nil {
		return singleRun{}, err
	}
	j1 := procJiffies(srv.cmd.Process.Pid)
	out := singleRun{rps: r.perSecond(), p50: r.P50, p99: r.P99,
		cpuUs: float64(j1-j0) * 1e6 / clockTick / float64(max(r.Requests, 1))}
	if pool != nil {
		x1, err := xacts(ctx, pool)
		if err != nil {
			return out, err
		}
		out.group = float64(r.Requests) / float64(max(x1-x0, 1))
	}
	return out, nil
}

func benchIngest(ctx context.Context, o benchOptions, d *database, _ *cpuWatch) ([]row, error) {
	if o.mongoURL == "" {
		return nil, fmt.Errorf("-mongo-url (or MAILSYNC_BENCH_MONGO_URL) is required")
	}
	bin, cleanup, err := buildServer(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, d.url, 4)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := reset(ctx, pool); err != nil {
		return nil, err
	}
	floor, err := startProc(ctx, self, []string{"floor"}, nil)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	defer floor.stop()
	mongoDB := fmt.Sprintf("bench_ingest_%d", os.Getpid())
	store, err := freshStore(ctx, o.mongoURL, mongoDB)
	if err != nil {
		return nil, err
	}
	defer dropStore(store)
	api, err := startProc(ctx, bin, []string{"serve", "--role=api"}, serverEnv(d.url, o.mongoURL, mongoDB))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	stopAPI := api.stop
	defer func() { stopAPI() }()
	for _, s := range []*serverProc{floor, api} { // warm-up
		if _, err := loadgen(ctx, s.base, "single", o.conc, 2*time.Second, 0, "warm"); err != nil {
			return nil, err
		}
	}
	fmt.Printf("single-email POST /v1/emails from a load generator in its own process (closed loop, fresh key each), %s per run.\n"+
		"HTTP floor: the same router, middleware chain and http.Server in its own process; it decodes the body into the\n"+
		"request type and answers 201 with an email of the same size, without validating, hashing or storing.\n", o.duration)
	var rows []row
	floorMed := map[int]float64{}
	groups := map[int][2]float64{} // per concurrency: emails per group transaction, req/s
	for ci, conc := range o.concList {
		var fl, ap, p50, p99, group, cpuF, cpuA []float64
		for i := range o.runs {
			f, err := measureSingle(ctx, floor, nil, conc, o.duration, fmt.Sprintf("f%d-%d", conc, i))
			if err != nil {
				return nil, err
			}
			a, err := measureSingle(ctx, api, pool, conc, o.duration, fmt.Sprintf("a%d-%d", conc, i))
			if err != nil {
				return nil, err
			}
			fl, ap, p50, p99, group = append(fl, f.rps), append(ap, a.rps), append(p50, a.p50), append(p99, a.p99), append(group, a.group)
			cpuF, cpuA = append(cpuF, f.cpuUs), append(cpuA, a.cpuUs)
			fmt.Printf("  %d clients, run %d: floor %.0f req/s (p99 %s, %.0f µs CPU/request) | --role=api %.0f req/s (p50 %s, p99 %s, %.0f µs CPU/request, %.1f emails per transaction) | ratio %.2f\n",
				conc, i+1, f.rps, ms(f.p99), f.cpuUs, a.rps, ms(a.p50), ms(a.p99), a.cpuUs, a.group, a.rps/f.rps)
		}
		mf, ma := median(fl), median(ap)
		floorMed[conc], groups[conc] = mf, [2]float64{median(group), ma}
		fmt.Printf("single ingest at %d clients: median %.0f req/s vs HTTP floor %.0f req/s → %.2f (target ≥ 0.6); p50 %s, p99 %s; server CPU %.0f µs/request (floor %.0f); %.1f emails per group transaction\n",
			conc, ma, mf, ma/mf, ms(median(p50)), ms(median(p99)), median(cpuA), median(cpuF), median(group))
		target := ""
		if ci == 0 {
			target = "p99 ≤ 50 ms"
		}
		rows = append(rows,
			row{fmt.Sprintf("single ingest --role=api, %d clients (req/s)", conc), fmt.Sprintf("%.0f", ma),
				fmt.Sprintf("HTTP floor %.0f req/s", mf), fmt.Sprintf("%.2f", ma/mf), "≥ 0.6", verdict(ma/mf, 0.6, false)},
			row{"  its latency p50 / p99", ms(median(p50)) + " / " + ms(median(p99)), "", "", target, p99Verdict(ci, median(p99))},
			row{"  server CPU per request", fmt.Sprintf("%.0f µs", median(cpuA)), fmt.Sprintf("floor %.0f µs", median(cpuF)),
				fmt.Sprintf("%.2f", median(cpuF)/median(cpuA)), "", ""})
	}
	batch, err := benchBatch(ctx, o, api)
	if err != nil {
		return nil, err
	}
	stopAPI()
	stopAPI = func() {}
	relayRows, err := singleWithRelay(ctx, o, d, bin, floorMed)
	if err != nil {
		return nil, err
	}
	rows = append(rows, relayRows...)
	limits, err := groupedLimits(ctx, o, d, pool, groups, batch)
	if err != nil {
		return nil, err
	}
	rows = append(rows, limits...)
	if ingestOpts.profileTop > 0 {
		if err := profileIngest(ctx, o, d); err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
	}
	return rows, nil
}

func p99Verdict(ci int, p99 float64) string {
	if ci == 0 {
		return verdict(p99, 50, true)
	}
	return ""
}

// singleWithRelay measures single ingest with `serve` as production runs
// it (--role=all: the relay syncing to MongoDB in the same process).
func singleWithRelay(ctx context.Context, o benchOptions, d *database, bin string, floor map[int]float64) ([]row, error) {
	all, err := startRelayServer(ctx, o, d, bin, "ingest_all")
	if err != nil {
		return nil, err
	}
	defer all.stop()
	fmt.Println("the same with `serve --role=all` (the relay syncing to MongoDB in the same process, serve's defaults):")
	var rows []row
	for _, conc := range o.concList {
		var rps, p99 []float64
		for i := range o.runs {
			a, err := measureSingle(ctx, all.serverProc, nil, conc, o.duration, fmt.Sprintf("r%d-%d", conc, i))
			if err != nil {
				return nil, err
			}
			rps, p99 = append(rps, a.rps), append(p99, a.p99)
			fmt.Printf("  %d clients, run %d: %.0f req/s (p50 %s, p99 %s, %.0f µs server CPU/request)\n", conc, i+1, a.rps, ms(a.p50), ms(a.p99), a.cpuUs)
		}
		m := median(rps)
		fmt.Printf("single ingest with the relay at %d clients: median %.0f req/s vs HTTP floor %.0f → %.2f (target ≥ 0.4); p99 %s\n",
			conc, m, floor[conc], m/floor[conc], ms(median(p99)))
		rows = append(rows, row{fmt.Sprintf("single ingest --role=all (relay on), %d clients", conc), fmt.Sprintf("%.0f", m),
			fmt.Sprintf("HTTP floor %.0f req/s", floor[conc]), fmt.Sprintf("%.2f", m/floor[conc]), "≥ 0.4", verdict(m/floor[conc], 0.4, false)})
	}
	if err := waitDrained(ctx, all.pool, 5*time.Minute); err != nil {
		return nil, err
	}
	return rows, nil
}

// benchBatch measures batch ingest: emails/s.
func benchBatch(ctx context.Context, o benchOptions, api *serverProc) (float64, error) {
	fmt.Printf("batch POST /v1/emails/batch, %d emails per request, %d clients, %s per run (--role=api, same load generator)\n",
		o.batchSize, o.batchConc, o.batchDuration)
	var eps []float64
	for i := range o.runs {
		r, err := loadgen(ctx, api.base, "batch", o.batchConc, o.batchDuration, o.batchSize, fmt.Sprintf("b%d", i))
		if err != nil {
			return 0, err
		}
		e := r.perSecond() * float64(o.batchSize)
		eps = append(eps, e)
		fmt.Printf("  run %d: %.0f emails/s (%d requests, p50 %s, p99 %s)\n", i+1, e, r.Requests, ms(r.P50), ms(r.P99))
	}
	return median(eps), nil
}

// roundGroup is a measured mean group size as a whole number of rows.
func roundGroup(g float64) int { return max(1, int(math.Round(g))) }
