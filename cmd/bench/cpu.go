package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The CPU accounting below reads Linux's /proc. CPU time, unlike throughput,
// hardly depends on what else the machine is doing, so it shows what an
// operation costs even on a busy machine, and which process pays: this
// process (HTTP client and server, relay), the PostgreSQL backends serving
// the bench database (the service's, or pgbench's), the FerretDB process and
// FerretDB's PostgreSQL backends. Backends are found by polling
// pg_stat_activity every 100 ms; the CPU a backend spends before it is first
// seen is missed (connection start-up, at most one poll interval).

// clockTick is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTick = 100

// cpuWatch says what to account: FerretDB's pid and database come from
// scripts/bench.sh (MAILSYNC_BENCH_DEVMONGO_PID, _DB) and are optional.
type cpuWatch struct {
	pool     *pgxpool.Pool // a connection to the bench database, for polling
	ferret   int
	ferretDB string
}

func newWatch(pool *pgxpool.Pool) *cpuWatch {
	w := &cpuWatch{pool: pool, ferretDB: os.Getenv("MAILSYNC_BENCH_DEVMONGO_DB")}
	w.ferret, _ = strconv.Atoi(os.Getenv("MAILSYNC_BENCH_DEVMONGO_PID"))
	return w
}

// cpuUse is what was spent between start and stop.
type cpuUse struct {
	seconds, machineBusy float64 // wall time; fraction of all CPUs busy
	self, children       time.Duration
	backends, pgbench    time.Duration // bench database backends: the service's, pgbench's
	ferret, ferretPGs    time.Duration
	withFerret           bool
}

// pids tracks the first and last CPU reading of each process seen.
type pids struct{ first, last map[int]int64 }

func (p *pids) observe(pid int) {
	j := procJiffies(pid)
	if j < 0 {
		return
	}
	if _, ok := p.first[pid]; !ok {
		p.first[pid] = j
	}
	p.last[pid] = j
}

func (p *pids) total() (d time.Duration) {
	for pid, j := range p.last {
		d += time.Duration(j-p.first[pid]) * time.Second / clockTick
	}
	return d
}

func newPids() *pids { return &pids{first: map[int]int64{}, last: map[int]int64{}} }

// start begins a measurement; the returned stop ends it.
func (w *cpuWatch) start(ctx context.Context) (stop func() cpuUse) {
	at := time.Now()
	busy0, total0 := machineJiffies()
	self0, children0 := rusage()
	service, pgbench, ferretPGs := newPids(), newPids(), newPids()
	ferret0 := procJiffies(w.ferret)
	poll := func() {
		rows, err := w.pool.Query(ctx, `SELECT pid, datname = current_database(), application_name = 'pgbench'
			FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (datname = current_database() OR datname = $1)`, w.ferretDB)
		if err != nil {
			return
		}
		defer rows.Close()
		for rows.Next() {
			var pid int
			var ours, isPgbench bool
			if rows.Scan(&pid, &ours, &isPgbench) != nil {
				return
			}
			switch {
			case ours && isPgbench:
				pgbench.observe(pid)
			case ours:
				service.observe(pid)
			default:
				ferretPGs.observe(pid)
			}
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	poll()
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				poll()
			}
		}
	})
	return func() cpuUse {
		cancel()
		wg.Wait()
		poll()
		busy1, total1 := machineJiffies()
		self1, children1 := rusage()
		u := cpuUse{seconds: time.Since(at).Seconds(), self: self1 - self0, children: children1 - children0,
			backends: service.total(), pgbench: pgbench.total(), ferretPGs: ferretPGs.total(), withFerret: w.ferret > 0}
		if d := total1 - total0; d > 0 {
			u.machineBusy = float64(busy1-busy0) / float64(d)
		}
		if f := procJiffies(w.ferret); f >= 0 && ferret0 >= 0 {
			u.ferret = time.Duration(f-ferret0) * time.Second / clockTick
		}
		return u
	}
}

// service is the CPU of the service under test: this process and the bench
// database's backends other than pgbench's (and FerretDB when wanted).
func (u cpuUse) service(withFerret bool) time.Duration {
	d := u.self + u.backends
	if withFerret {
		d += u.ferret + u.ferretPGs
	}
	return d
}

// perOp formats the CPU spent per operation by each component.
func (u cpuUse) perOp(n int, op string) string {
	per := func(d time.Duration) string { return fmt.Sprintf("%.2f", msOf(d)/float64(max(n, 1))) }
	s := fmt.Sprintf("ms CPU per %s: this process %s, PostgreSQL %s", op, per(u.self), per(u.backends))
	ours := u.self + u.children + u.backends + u.pgbench
	if u.children > 0 || u.pgbench > 0 {
		s += fmt.Sprintf(", pgbench %s, pgbench's PostgreSQL %s", per(u.children), per(u.pgbench))
	}
	if u.withFerret {
		s += ", FerretDB " + per(u.ferret) + ", FerretDB's PostgreSQL " + per(u.ferretPGs)
		ours += u.ferret + u.ferretPGs
	}
	cpus := float64(runtime.NumCPU())
	other := max(u.machineBusy*cpus-ours.Seconds()/max(u.seconds, 1e-9), 0)
	return s + fmt.Sprintf(" | machine %.0f%% busy, other processes used %.1f of %d CPUs", 100*u.machineBusy, other, int(cpus))
}

func machineJiffies() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // cpu user nice system idle iowait irq softirq steal
	for i := 1; i < len(f) && i <= 8; i++ {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		total += v
		if i != 4 && i != 5 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

func rusage() (self, children time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self, children
}

// procJiffies is the user+system CPU of pid so far, or -1.
func procJiffies(pid int) int64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// After the ")" that closes the command name: utime and stime are the 12th and 13th fields.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// loadavg is the 1-, 5- and 15-minute load averages: how busy the machine
// was with other work, which every throughput and latency here depends on.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
