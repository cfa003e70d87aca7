package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"mailsync/internal/relay"
)

// profileIngest takes a CPU profile of the ingest path under load: the
// service wired as serve wires it (relay off), in this process, driven by
// the load generator process at the first concurrency for -duration, and
// prints the top entries by cumulative and by flat CPU.
func profileIngest(ctx context.Context, o benchOptions, d *database) error {
	st, err := startStack(ctx, d.url, nil, relay.Config{Workers: 0})
	if err != nil {
		return err
	}
	defer st.close()
	if err := reset(ctx, st.pool); err != nil {
		return err
	}
	if _, err := loadgen(ctx, st.base, "single", o.conc, 2*time.Second, 0, "pw"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mailsync-bench-profile")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ingest.pprof")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	r, err := loadgen(ctx, st.base, "single", o.conc, o.duration, 0, "p")
	pprof.StopCPUProfile()
	f.Close()
	if err != nil {
		return err
	}
	fmt.Printf("CPU profile of the ingest path (the service in this process, serve's wiring, relay off), %d clients from the load generator, %s, %.0f req/s:\n",
		o.conc, o.duration, r.perSecond())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, sort := range []string{"-cum", "-flat"} {
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", sort, fmt.Sprintf("-nodecount=%d", ingestOpts.profileTop), self, path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof: %w\n%s", err, out)
		}
		fmt.Printf("%s\n", out)
	}
	return nil
}
