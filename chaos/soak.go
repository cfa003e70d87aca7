package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is one readout of the soaked instance.
type Sample struct {
	At         time.Duration
	RSS        int64 // bytes, VmRSS from /proc/<pid>/status
	HeapInuse  int64 // bytes, go_memstats_heap_inuse_bytes from /metrics
	Goroutines int64 // go_goroutines from /metrics
	Acked      int
	Backlog    int64 // outbox pending + in flight
}

// SoakInterval is the readout interval for a soak of d: every minute for
// long soaks, eight readouts for short ones.
func SoakInterval(d time.Duration) time.Duration {
	if d >= 5*time.Minute {
		return time.Minute
	}
	return max(d/8, 5*time.Second)
}

// SoakMaxRSS is the RSS no readout after warm-up may exceed.
const SoakMaxRSS = 150 << 20

// Soak runs steady load from workers concurrent clients against one
// instance (role all) for d, prints a readout every interval, then drains,
// checks both stores, the trend and SoakMaxRSS. It returns the samples and
// the problems found.
func Soak(ctx context.Context, d, interval time.Duration, workers int, out io.Writer) ([]Sample, []string, error) {
	tl := NewTimeline(out)
	tl.Printf("soak: %s of steady load (%d clients) against one instance, readout every %s", d, workers, interval)
	var problems []string
	st, err := StartStack(ctx, tl, "mailsync_soak", []string{"all"}, []string{"RELAY_WORKERS=4"}, false)
	defer func() { st.Close(err != nil || len(problems) > 0) }()
	if err != nil {
		return nil, nil, err
	}
	a := st.Instances[0]
	load, err := NewLoad(LoadConfig{Targets: st.APIBases(), Clients: clients, Workers: workers, Pace: 25 * time.Millisecond,
		MaxBatch: 10, RequestTimeout: 15 * time.Second, Timeline: tl, RunID: strconv.Itoa(os.Getpid())})
	if err != nil {
		return nil, nil, err
	}
	loadCtx, stop := context.WithCancel(ctx)
	defer stop()
	load.Start(loadCtx)
	start := time.Now()
	var samples []Sample
	for i := 1; time.Since(start) < d; i++ {
		time.Sleep(min(time.Until(start.Add(time.Duration(i)*interval)), time.Until(start.Add(d))))
		s, err := readout(ctx, a, clients[0].Token)
		if err != nil {
			problems = append(problems, "readout: "+err.Error())
			continue
		}
		s.At, s.Acked = time.Since(start).Round(time.Second), load.Counts().Acked
		samples = append(samples, s)
		tl.Printf("readout %2d: rss=%6.1f MiB heap_inuse=%6.1f MiB goroutines=%4d acknowledged=%d backlog=%d",
			len(samples), mib(s.RSS), mib(s.HeapInuse), s.Goroutines, s.Acked, s.Backlog)
	}
	stop()
	load.Finish(30 * time.Second)
	lc := load.Counts()
	problems = append(problems, lc.Violations...)
	if _, err := Drain(ctx, a.Base, clients[0].Token, 2*time.Minute, tl); err != nil {
		problems = append(problems, "drain: "+err.Error())
	}
	sc, err := CheckStores(ctx, st.DatabaseURL, st.Mongo.URL, st.MongoDB, load.Acks(), load.Sent())
	if err != nil {
		return samples, problems, err
	}
	problems = append(problems, sc.Problems...)
	fmt.Fprintf(out, "\ncounts (soak %s, %.0f acknowledged emails/s):\n", d, float64(lc.Acked)/d.Seconds())
	printCounts(out, lc, sc)
	problems = append(problems, Trend(samples, out)...)
	for _, s := range samples[min(len(samples), max(1, len(samples)/5)):] {
		if s.RSS > SoakMaxRSS {
			problems = append(problems, fmt.Sprintf("rss %.1f MiB at %s is over %d MiB", mib(s.RSS), s.At, SoakMaxRSS>>20))
		}
	}
	return samples, problems, nil
}

// Trend compares the last third of the samples after warm-up (the first
// fifth, at least one sample) with the first third: RSS or goroutines more
// than 50% higher, and by more than a floor that absorbs noise (32 MiB, 25
// goroutines), is a growth trend.
func Trend(samples []Sample, out io.Writer) []string {
	warm := max(1, len(samples)/5)
	if len(samples)-warm < 3 {
		return []string{fmt.Sprintf("trend: only %d readouts after warm-up; run longer", len(samples)-warm)}
	}
	rest := samples[warm:]
	third := len(rest) / 3
	avg := func(ss []Sample, f func(Sample) int64) float64 {
		var sum int64
		for _, s := range ss {
			sum += f(s)
		}
		return float64(sum) / float64(len(ss))
	}
	var problems []string
	check := func(name string, f func(Sample) int64, floor float64, unit func(float64) string) {
		first, last := avg(rest[:third], f), avg(rest[len(rest)-third:], f)
		verdict := "ok"
		if last > first*1.5 && last-first > floor {
			verdict = "GROWTH"
			problems = append(problems, fmt.Sprintf("trend: %s grew from %s to %s (first vs last third after warm-up)", name, unit(first), unit(last)))
		}
		fmt.Fprintf(out, "  trend %-11s first third %s, last third %s: %s\n", name, unit(first), unit(last), verdict)
	}
	bytesUnit := func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
	plain := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	fmt.Fprintf(out, "  trend over readouts %d..%d (%d for warm-up):\n", warm+1, len(samples), warm)
	check("rss", func(s Sample) int64 { return s.RSS }, 32<<20, bytesUnit)
	check("goroutines", func(s Sample) int64 { return s.Goroutines }, 25, plain)
	// The Go heap is shown, not judged: it follows the garbage collector's pacing.
	fmt.Fprintf(out, "  heap_inuse  first third %s, last third %s (informational)\n",
		bytesUnit(avg(rest[:third], func(s Sample) int64 { return s.HeapInuse })),
		bytesUnit(avg(rest[len(rest)-third:], func(s Sample) int64 { return s.HeapInuse })))
	return problems
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// readout reads the instance's RSS, heap, goroutines and backlog.
func readout(ctx context.Context, in *Instance, token string) (Sample, error) {
	var s Sample
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", in.Pid()))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			s.RSS = kb << 10
		}
	}
	f.Close()
	resp, err := http.Get(in.Base + "/metrics")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	sc = bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			s.Goroutines = int64(parseFloat(v))
		} else if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			s.HeapInuse = int64(parseFloat(v))
		}
	}
	if st, err := SyncStatus(ctx, in.Base, token); err == nil {
		s.Backlog = st.Outbox.Pending + st.Outbox.InFlight
	}
	return s, sc.Err()
}

func parseFloat(s string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v
}
