package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The CPU accounting below reads Linux's /proc. It shows where the CPU of
// a run went: the machine as a whole, this process (HTTP client and server),
// and the PostgreSQL backends serving this process's pool.

// clockTick is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTick = 100

// cpuSample is a point-in-time reading of the CPU counters.
type cpuSample struct {
	at            time.Time
	busy, total   int64 // machine-wide jiffies from /proc/stat
	self          time.Duration
	children      time.Duration // finished child processes (pgbench)
	backends      map[int]int64 // backend pid → utime+stime jiffies
	backendsKnown bool
}

// sampleCPU reads the counters; pids are the PostgreSQL backends to follow.
func sampleCPU(pids []int) cpuSample {
	s := cpuSample{at: time.Now(), backends: map[int]int64{}, backendsKnown: pids != nil}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // cpu user nice system idle iowait irq softirq steal
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			s.total += v
			if i != 4 && i != 5 { // idle, iowait
				s.busy += v
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		s.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// Fields after the ")" closing the command name: state is 3rd, utime 14th, stime 15th.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				s.backends[pid] = u + st
			}
		}
	}
	return s
}

// cpuUse is what happened between two samples.
type cpuUse struct {
	machineBusy float64       // fraction of all CPUs busy
	seconds     float64       // wall time between the samples
	self        time.Duration // this process
	children    time.Duration // child processes that ended in between
	backends    time.Duration // the followed PostgreSQL backends
	known       bool
}

func cpuSince(a, b cpuSample) cpuUse {
	u := cpuUse{self: b.self - a.self, children: b.children - a.children, known: a.backendsKnown && len(a.backends) > 0}
	u.seconds = b.at.Sub(a.at).Seconds()
	if d := b.total - a.total; d > 0 {
		u.machineBusy = float64(b.busy-a.busy) / float64(d)
	}
	for pid, j := range b.backends {
		if j0, ok := a.backends[pid]; ok {
			u.backends += time.Duration(j-j0) * time.Second / clockTick
		}
	}
	return u
}

// perOp formats the CPU spent per operation.
func (u cpuUse) perOp(n int) string {
	s := fmt.Sprintf("machine %.0f%% busy; this process %.2f ms CPU/op", 100*u.machineBusy, msOf(u.self)/float64(max(n, 1)))
	if u.known {
		s += fmt.Sprintf(", its PostgreSQL backends %.2f ms CPU/op", msOf(u.backends)/float64(max(n, 1)))
	}
	return s
}

// poolBackends returns the backend pids of every connection pool holds
// (opening them all first), so their CPU can be followed.
func poolBackends(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	n := int(pool.Config().MaxConns)
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	pids := make([]int, 0, n)
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		var pid int
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// loadavg is the 1-, 5- and 15-minute load averages: how busy the machine
// was with other work, which every figure here is sensitive to.
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
