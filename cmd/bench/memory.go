package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/client"
	"mailsync/internal/db"
)

// The memory section measures the resident memory of the service while big
// emails arrive at once, and how fast it gives the memory back. The service
// runs as its own process (`server serve`, built from ./cmd/server), so the
// figure is the service's alone: its VmHWM and VmRSS from /proc.
var memOpts struct {
	emails, mib    int
	runs           int
	peakMB, heldMB float64
	settle         time.Duration
}

func init() {
	flag.IntVar(&memOpts.emails, "memory-emails", 20, "memory: emails ingested at once")
	flag.IntVar(&memOpts.runs, "memory-runs", 1, "memory: runs, each with a fresh server process (0: -runs)")
	flag.IntVar(&memOpts.mib, "memory-mb", 15, "memory: size of each email in MB (10^6 bytes), nearly all text_body")
	flag.Float64Var(&memOpts.peakMB, "memory-peak-target", 400, "memory: target for the peak RSS, MB")
	flag.Float64Var(&memOpts.heldMB, "memory-held-target", 150, "memory: target for the RSS after the emails synced, MB")
	flag.DurationVar(&memOpts.settle, "memory-settle", 30*time.Second, "memory: how long after the emails synced the RSS may take to fall under its target")
}

// memResult is one run of the memory section.
type memResult struct {
	idleMB, peakMB, syncedMB, endMB float64
	underAfter                      time.Duration // -1: not within settle
	ingest, sync                    time.Duration
	refused                         int64 // 503s the clients retried
}

// benchMemory ingests memOpts.emails JSON emails of memOpts.mib MB each, all
// at once (clients retry a 503 after its Retry-After), waits until the relay
// synced them to MongoDB, then watches the RSS for memOpts.settle.
func benchMemory(ctx context.Context, o benchOptions, d *database, _ *cpuWatch) ([]row, error) {
	if o.mongoURL == "" {
		return nil, errors.New("-mongo-url (or MAILSYNC_BENCH_MONGO_URL) is required")
	}
	bin, cleanup, err := buildServer(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	pool, err := db.Open(ctx, d.url, 2)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	n, size := memOpts.emails, memOpts.mib*1_000_000
	fmt.Printf("%d JSON emails of %d MB (text_body) POSTed at once to `server serve` in its own process (serve's defaults;\n"+
		"a 503 is retried after its Retry-After); RSS of that process from /proc; targets: peak ≤ %.0f MB, < %.0f MB within %s of synced\n",
		n, memOpts.mib, memOpts.peakMB, memOpts.heldMB, memOpts.settle)
	var peak, held []float64
	var last memResult
	if memOpts.runs > 0 {
		o.runs = memOpts.runs
	}
	for i := range o.runs {
		if err := reset(ctx, pool); err != nil {
			return nil, err
		}
		r, err := memoryOnce(ctx, bin, d.url, o.mongoURL, fmt.Sprintf("bench_mem_%d_%d", os.Getpid(), i), pool, n, size)
		if err != nil {
			return nil, err
		}
		under := "not within " + memOpts.settle.String()
		if r.underAfter >= 0 {
			under = "after " + r.underAfter.Round(100*time.Millisecond).String()
		}
		fmt.Printf("  run %d: idle %.0f MB | peak %.0f MB while ingesting (%s, %d× 503 retried) | %.0f MB when all synced (%s later) | under %.0f MB %s; %.0f MB at the end\n",
			i+1, r.idleMB, r.peakMB, r.ingest.Round(time.Millisecond), r.refused, r.syncedMB, r.sync.Round(time.Millisecond),
			memOpts.heldMB, under, r.endMB)
		peak, held = append(peak, r.peakMB), append(held, r.endMB)
		last = r
	}
	mp, mh := median(peak), median(held)
	fmt.Printf("memory: median peak RSS %.0f MB (target ≤ %.0f MB); median RSS %s after synced %.0f MB (target < %.0f MB)\n",
		mp, memOpts.peakMB, memOpts.settle, mh, memOpts.heldMB)
	return []row{
		{fmt.Sprintf("peak RSS, %d × %d MB emails at once", n, memOpts.mib), fmt.Sprintf("%.0f MB", mp),
			fmt.Sprintf("idle %.0f MB", last.idleMB), "", fmt.Sprintf("≤ %.0f MB", memOpts.peakMB), verdict(mp, memOpts.peakMB, true)},
		{fmt.Sprintf("  RSS ≤ %s after they synced", memOpts.settle), fmt.Sprintf("%.0f MB", mh),
			fmt.Sprintf("at synced %.0f MB", last.syncedMB), "", fmt.Sprintf("< %.0f MB", memOpts.heldMB), verdict(mh, memOpts.heldMB, true)},
	}, nil
}

// memoryOnce runs one fresh server process through one burst.
func memoryOnce(ctx context.Context, bin, dbURL, mongoURL, mongoDB string, pool *pgxpool.Pool, n, size int) (memResult, error) {
	store, err := freshStore(ctx, mongoURL, mongoDB)
	if err != nil {
		return memResult{}, err
	}
	defer dropStore(store)
	srv, err := startServer(ctx, bin, []string{
		"DATABASE_URL=" + dbURL, "MONGO_URL=" + mongoURL, "MONGO_DB=" + mongoDB, "HTTP_ADDR=127.0.0.1:0",
		"API_KEYS=bench:" + benchToken + ":ingest+read", "RECONCILE_INTERVAL=0", "LOG_FORMAT=json", "LOG_LEVEL=info",
	})
	if err != nil {
		return memResult{}, err
	}
	defer srv.stop()
	var r memResult
	r.idleMB = srv.rssMB()
	stopSampling := srv.sample(20 * time.Millisecond)
	line := []byte("All work and no play makes Jack a dull boy, said the big email. ")
	text := bytes.Repeat(line, size/len(line)+1)[:size]
	client := newClient(n)
	client.Timeout = 5 * time.Minute // a loaded 2-CPU machine takes long over 20 big emails
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = postBig(ctx, client, srv.base, fmt.Sprintf("mem-%d", i), text, &r.refused) })
	}
	wg.Wait()
	r.ingest = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return r, fmt.Errorf("%w (peak RSS so far %.0f MB)", err, max(stopSampling(), srv.hwmMB()))
	}
	err = waitAllSynced(ctx, pool, n, 3*time.Minute)
	r.peakMB = stopSampling()
	r.sync = time.Since(start) - r.ingest
	if err != nil {
		return r, err
	}
	r.peakMB = max(r.peakMB, srv.hwmMB())
	r.syncedMB = srv.rssMB()
	r.underAfter = -1
	synced := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(synced) < memOpts.settle {
		r.endMB = srv.rssMB()
		if r.endMB < memOpts.heldMB {
			r.underAfter = time.Since(synced)
			break
		}
		<-tick.C
	}
	return r, nil
}

// postBig POSTs one big JSON email, retrying after a 503's Retry-After, and
// expects 201.
func postBig(ctx context.Context, client *http.Client, base, key string, text []byte, refused *int64) error {
	in := sampleInput("<" + key + "@bench.example.com>")
	in.TextBody = new(string) // the text is spliced in below, so the request is built without copying it
	head, err := json.Marshal(in)
	if err != nil {
		return err
	}
	marker := []byte(`"text_body":""`)
	cut := bytes.Index(head, marker) + len(marker) - 1
	return postParts(ctx, client, base, key, "application/json", 5*time.Minute, refused, head[:cut], text, head[cut:])
}

// postParts POSTs the concatenation of parts (sent without copying them,
// through the client's IngestBody) as one email of the given content type
// under key, expects it stored, and lets the client retry a 503 after its
// Retry-After until wait has passed (counting each in refused).
func postParts(ctx context.Context, hc *http.Client, base, key, contentType string, wait time.Duration,
	refused *int64, parts ...[]byte) error {
	deadline := time.Now().Add(wait)
	c, err := client.New(&client.Config{BaseURL: base, Token: benchToken, HTTPClient: hc,
		MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: math.MaxInt,
		Retry: func(err error) bool { return time.Now().Before(deadline) && client.Retryable(err) },
		Observe: func(a client.Attempt) {
			if a.Status == http.StatusServiceUnavailable && a.Retry {
				atomic.AddInt64(refused, 1)
			}
		}})
	if err != nil {
		return err
	}
	var size int64
	for _, p := range parts {
		size += int64(len(p))
	}
	body := client.Body{ContentType: contentType, Size: size, Open: func() io.Reader {
		readers := make([]io.Reader, len(parts))
		for i, p := range parts {
			readers[i] = bytes.NewReader(p)
		}
		return io.MultiReader(readers...)
	}}
	// A replay is fine: an attempt answered 503 at its deadline may have
	// stored the email, and the retry then answers with it.
	if _, err := c.IngestBody(ctx, key, body, client.Envelope{}); err != nil {
		return fmt.Errorf("POST %s: %w", key, err)
	}
	return nil
}

// waitAllSynced waits until n emails are synced.
func waitAllSynced(ctx context.Context, pool *pgxpool.Pool, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var got int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'").Scan(&got)
		if err == nil && got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d emails synced after %s: %w", got, n, timeout, errors.Join(err, ctx.Err()))
		case <-tick.C:
		}
	}
}

// procStatusMB reads one field of /proc/<pid>/status (in kB) as MB.
func procStatusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1000
		}
	}
	return 0
}
