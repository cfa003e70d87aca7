package chaos

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChaos is the chaos suite. It runs only when asked, because it loads
// both CPUs for a minute or more: MAILSYNC_CHAOS=short (in make test, after
// every other test) or MAILSYNC_CHAOS=full (make chaos). It restarts only the
// throwaway PostgreSQL cluster it starts.
func TestChaos(t *testing.T) {
	mode := os.Getenv("MAILSYNC_CHAOS")
	if mode == "" {
		t.Skip("chaos suite: set MAILSYNC_CHAOS=short|full (make chaos) to run it")
	}
	p, err := PlanFor(mode)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	res, err := Run(context.Background(), p, os.Stdout)
	if err != nil {
		t.Fatalf("chaos %s: %v", p.Name, err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("chaos %s found %d problems:\n  %s", p.Name, len(res.Problems), strings.Join(res.Problems, "\n  "))
	}
	t.Logf("chaos %s passed in %s: %d acknowledged, %d in PostgreSQL, %d in MongoDB, lost %d, doubled %d",
		p.Name, time.Since(t0).Round(time.Second), res.Load.Acked, res.Stores.PGRows, res.Stores.MongoDocs, res.Stores.Lost, res.Stores.Doubled)
}

// TestSoak is soak mode: MAILSYNC_SOAK=<duration> (make soak DURATION=10m)
// runs steady load against one instance with a memory and goroutine readout
// every minute (eight readouts for soaks under 5 minutes) and fails on a
// growth trend, a lost or a doubled email.
func TestSoak(t *testing.T) {
	v := os.Getenv("MAILSYNC_SOAK")
	if v == "" {
		t.Skip("soak mode: set MAILSYNC_SOAK=<duration> (make soak DURATION=10m) to run it")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 40*time.Second {
		t.Fatalf("MAILSYNC_SOAK=%q: want a duration of at least 40s, like 10m", v)
	}
	// go test runs with -timeout 0 for soaks; this bounds the run instead.
	watchdog := time.AfterFunc(d+10*time.Minute, func() { panic("soak: still running 10 minutes after its duration") })
	defer watchdog.Stop()
	workers := 2
	if w := os.Getenv("MAILSYNC_SOAK_WORKERS"); w != "" {
		if workers, err = strconv.Atoi(w); err != nil || workers < 1 {
			t.Fatalf("MAILSYNC_SOAK_WORKERS=%q: want a positive number of clients", w)
		}
	}
	samples, problems, err := Soak(context.Background(), d, SoakInterval(d), workers, os.Stdout)
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	if len(problems) > 0 {
		t.Fatalf("soak found %d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	t.Logf("soak passed: %d readouts over %s", len(samples), d)
}
