// Command bench measures mailsync against baselines taken in the same run
// on the same machine, and prints figures, ratios and a summary table:
//
//   - ingest: single-email POST /v1/emails to `server serve --role=api` in
//     its own process, driven by a load generator in another process, at
//     concurrency 16 and 64, next to the HTTP floor (the same HTTP stack
//     answering 201 without storing) driven the same way; the same with the
//     relay running (--role=all); batch ingest; next to the grouped database
//     limit (pgbench storing the same rows N per transaction); a CPU profile
//     of the ingest path under load;
//   - status: /v1/sync/status, /v1/sync/failures and /metrics on a database
//     of -status-emails emails built with generate_series;
//   - drain: a relay draining the backlog of a real outage into MongoDB, next
//     to the raw relay limit (InsertMany with the relay's parallelism and
//     batch size, documents built from the PostgreSQL rows in the timing);
//   - latency: ingest → synced at a steady rate with the relay on;
//   - memory: the service's RSS (its own process) while 20 emails of 15 MB
//     arrive at once, and after they synced (-sections memory runs only it).
//
// Each measurement runs -runs times and the median is reported. It creates
// its own database mailsync_bench_<pid> and drops it at the end. scripts/bench.sh
// (make bench) starts the MongoDB-compatible server it needs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mailsync/internal/db"
)

type benchOptions struct {
	pgURL, mongoURL, pgbench, queries string
	sections, cpuprofile, concs       string
	rates                             string
	concList                          []int
	statusEmails, statusRequests      int
	runs                              int
	conc, requests                    int
	duration                          time.Duration
	batchSize, batchConc              int
	batchDuration                     time.Duration
	drainN, drainWorkers, drainBatch  int
	rateList                          []float64
	latencyDuration                   time.Duration
	latencyWorkers, latencyBatch      int
	keep, drainReseed, printPgbench   bool
	budget                            time.Duration
	deadline                          time.Time     // start + budget (zero: none)
	reserve                           time.Duration // kept for the sections after drain
}

func main() {
	if len(os.Args) > 1 { // the processes the bench starts from its own binary
		switch os.Args[1] {
		case "loadgen":
			os.Exit(loadgenMain(os.Args[2:]))
		case "floor":
			os.Exit(floorMain())
		case "rategen":
			os.Exit(rategenMain(os.Args[2:]))
		}
	}
	var o benchOptions
	flag.StringVar(&o.pgURL, "pg-url", envOr("MAILSYNC_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL maintenance database; the bench database is created next to it")
	flag.StringVar(&o.mongoURL, "mongo-url", os.Getenv("MAILSYNC_BENCH_MONGO_URL"), "MongoDB (or FerretDB) URL (required for -sections drain,latency)")
	flag.StringVar(&o.pgbench, "pgbench", "pgbench", "pgbench binary")
	flag.StringVar(&o.queries, "queries", "internal/db/queries/emails.sql", "the sqlc query file the pgbench script is built from")
	flag.StringVar(&o.sections, "sections", "all", "comma-separated sections to run (all: "+sectionNames()+")")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of each section to <this>-<section>.pprof")
	flag.IntVar(&o.runs, "runs", 3, "repetitions of each measurement (the median is reported)")
	flag.StringVar(&o.concs, "concurrency", "16,64", "single-email ingest: comma-separated concurrent clients (and pgbench clients) to measure at; the first is the batch's baseline")
	flag.IntVar(&o.statusEmails, "status-emails", 500_000, "status: emails (and processed outbox rows) in the database the status endpoints are timed on")
	flag.IntVar(&o.statusRequests, "status-requests", 200, "status: requests per endpoint, one at a time")
	flag.IntVar(&o.requests, "requests", 0, "single-email ingest: requests per run (0: run for -duration)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "single-email ingest and pgbench: duration of each run")
	flag.IntVar(&o.batchSize, "batch-size", 100, "batch ingest: emails per request")
	flag.IntVar(&o.batchConc, "batch-concurrency", 4, "batch ingest: concurrent clients")
	flag.DurationVar(&o.batchDuration, "batch-duration", 10*time.Second, "batch ingest: duration of each run")
	flag.IntVar(&o.drainN, "drain-n", 50000, "relay drain: backlog size")
	flag.IntVar(&o.drainWorkers, "drain-workers", 4, "relay drain: relay workers (serve's RELAY_WORKERS default)")
	flag.IntVar(&o.drainBatch, "drain-batch", 100, "relay drain: relay batch size (serve's RELAY_BATCH_SIZE default)")
	flag.BoolVar(&o.drainReseed, "drain-reseed", true, "relay drain: every run drains a backlog built by a real outage (false: only the first; later runs re-enqueue the same emails)")
	flag.StringVar(&o.rates, "rate", "200,1000", "latency: comma-separated emails per second to measure at (targets: p99 ≤ 100 ms up to 200/s, ≤ 250 ms above)")
	flag.DurationVar(&o.latencyDuration, "latency-duration", 20*time.Second, "latency: duration of each run")
	flag.IntVar(&o.latencyWorkers, "latency-workers", 4, "latency: relay workers (serve's RELAY_WORKERS default)")
	flag.IntVar(&o.latencyBatch, "latency-batch", 100, "latency: relay batch size (serve's RELAY_BATCH_SIZE default)")
	flag.DurationVar(&o.budget, "budget", 23*time.Minute, "finish within this (0: no limit): on a slow or busy machine the drain backlog is made smaller to fit, and the output says so")
	flag.BoolVar(&o.keep, "keep", false, "keep the bench database at the end (for inspection)")
	flag.BoolVar(&o.printPgbench, "print-pgbench", false, "print the pgbench baseline script and its -D variables, and exit")
	flag.Parse()

	slog.SetDefault(slog.New(newLogHandler()))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o benchOptions) error {
	for _, c := range strings.Split(o.concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("-concurrency: %q is not a positive number", c)
		}
		o.concList = append(o.concList, n)
	}
	o.conc = o.concList[0]
	for _, r := range strings.Split(o.rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("-rate: %q is not a positive number", r)
		}
		o.rateList = append(o.rateList, v)
	}
	if o.printPgbench {
		script, defines, err := pgbenchScript(o.queries)
		if err != nil {
			return err
		}
		fmt.Print(script)
		fmt.Printf("-- run with: pgbench -n -M prepared -c %d -j 2 -T %d -f <this file> <database URL> \\\n--", o.conc, int(o.duration.Seconds()))
		for i := 0; i+1 < len(defines); i += 2 {
			fmt.Printf(" %s %q", defines[i], defines[i+1])
		}
		fmt.Println()
		return nil
	}
	chosen, err := chosenSections(o.sections)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, s := range chosen {
		want[s.name] = true
	}
	if (want["drain"] || want["latency"]) && o.mongoURL == "" {
		return fmt.Errorf("-mongo-url (or MAILSYNC_BENCH_MONGO_URL) is required for drain and latency")
	}
	if o.runs < 1 {
		o.runs = 1
	}
	if o.budget > 0 {
		o.deadline = time.Now().Add(o.budget)
	}
	if want["latency"] {
		o.reserve = time.Duration(len(o.rateList)*o.runs)*(o.latencyDuration+8*time.Second) + 15*time.Second
	}
	if want["memory"] {
		o.reserve += 2 * time.Minute
	}
	if want["sustained"] {
		o.reserve += sustainedReserve()
	}
	name := fmt.Sprintf("mailsync_bench_%d", os.Getpid())
	d, err := createDatabase(ctx, o.pgURL, name)
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("keeping database %s\n", name)
	} else {
		defer func() {
			if err := d.drop(); err != nil {
				fmt.Fprintln(os.Stderr, "bench: drop database:", err)
			}
		}()
	}
	pool, err := db.Open(ctx, d.url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	var version string
	_ = pool.QueryRow(ctx, "SHOW server_version").Scan(&version)
	host, _ := os.Hostname()
	startLoad := loadavg()
	fmt.Printf("mailsync bench: %s, %d CPUs, PostgreSQL %s, database %s, %d runs per measurement (median reported)\n",
		host, runtime.NumCPU(), version, name, o.runs)

	var rows []row
	for _, s := range chosen {
		fmt.Printf("\n== %s (load average %s)\n", s.name, loadavg())
		t := time.Now()
		stopProfile, err := profile(o.cpuprofile, s.name)
		if err != nil {
			return err
		}
		r, err := s.run(ctx, o, d, newWatch(pool))
		stopProfile()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("(%s took %s)\n", s.name, time.Since(t).Round(time.Second))
		rows = append(rows, r...)
	}
	fmt.Printf("\n== summary (medians; ratios are median ÷ median); %d CPUs, load average %s at start, %s at end\n",
		runtime.NumCPU(), startLoad, loadavg())
	printTable(os.Stdout, rows)
	fmt.Println("CPU rows: CPU time per operation of every process involved, from /proc; their ratios are what the throughput")
	fmt.Println("ratios would be on a CPU-bound machine running nothing else, and hardly depend on other load (targets in parentheses).")
	if n := unavailableRetries.Load(); n > 0 {
		fmt.Printf("HTTP clients retried %d answers of 503 + Retry-After (as mailsync's clients do).\n", n)
	}
	return nil
}

// profile starts a CPU profile of one section when prefix is set.
func profile(prefix, section string) (func(), error) {
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(prefix + "-" + section + ".pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
