package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/client"
)

// The rate generator (`bench rategen ...`) is the sustained section's load:
// its own process posting new single emails at a steady rate (open loop:
// each send is scheduled at start + i/rate whatever the earlier answers
// do), every email with a fresh Idempotency-Key tag-i and Message-ID,
// through mailsync's Go client in one attempt: a 503 is counted as
// refused, not retried. It prints one JSON paceReport.

// paceReport is what one rategen run measured.
type paceReport struct {
	Sent, OK, Refused, Errors int
	FirstErr                  string  `json:",omitempty"`
	Seconds                   float64 // the scheduled duration
	P50, P99                  float64 // HTTP latency, milliseconds
}

func (r paceReport) achieved() float64 { return float64(r.OK) / max(r.Seconds, 1e-9) }

func rategenMain(args []string) int {
	fs := flag.NewFlagSet("rategen", flag.ContinueOnError)
	base := fs.String("url", "", "server base URL")
	rate := fs.Float64("rate", 100, "emails per second")
	d := fs.Duration("d", 10*time.Second, "duration")
	tag := fs.String("tag", "r", "prefix of the idempotency keys (unique per run)")
	if fs.Parse(args) != nil || *base == "" || *rate <= 0 {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	api, err := client.New(&client.Config{BaseURL: *base, Token: benchToken, MaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DisableCompression: true, IdleConnTimeout: 90 * time.Second}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rategen:", err)
		return 2
	}
	var mu sync.Mutex
	var lat []time.Duration
	rep := paceReport{Seconds: d.Seconds()}
	var wg sync.WaitGroup
	total := int(*rate * d.Seconds())
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		// Send i at start + i/rate: sleep until then when it is ahead (a
		// sleep is ≈1 ms at best, so at high rates several go at once).
		if ahead := time.Duration(float64(i)/(*rate)*float64(time.Second)) - time.Since(start); ahead > time.Millisecond {
			time.Sleep(ahead)
		}
		wg.Go(func() {
			key := *tag + "-" + strconv.Itoa(i)
			t := time.Now()
			status, err := postPaced(ctx, api, key)
			took := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			rep.Sent++
			switch {
			case err == nil && status == http.StatusCreated:
				rep.OK++
				lat = append(lat, took)
			case err == nil && status == http.StatusServiceUnavailable:
				rep.Refused++
			default:
				rep.Errors++
				if rep.FirstErr == "" {
					rep.FirstErr = fmt.Sprintf("status %d, %v", status, err)
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	rep.P50, rep.P99 = msOf(percentile(lat, 50)), msOf(percentile(lat, 99))
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

// pacedEmail is the ≈2 KB JSON email the load generators send, split
// around its Message-ID.
var pacedEmail = func() [2]string {
	text := strings.Repeat("Hello, my order 1234 has not arrived yet. Could you check? ", 10)
	return [2]string{`{"attachments":[{"content_type":"application/pdf","filename":"invoice.pdf",` +
		`"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","size_bytes":48213}],` +
		`"cc":["Bob <bob@example.com>"],"from":"Alice Example <alice@example.com>",` +
		`"headers":{"Received":["from mx1.example.com by mx2.example.org","from client by mx1.example.com"],"X-Mailer":["bench 1.0"],"X-Spam-Score":["0.1"]},` +
		`"html_body":"<html><body><p>` + text + `</p></body></html>","mailbox":"support","message_id":"<`,
		`@bench.example.com>","received_at":"2026-11-27T10:00:00Z","subject":"Order 1234 has not arrived yet","text_body":"` + text + `","to":["support@example.org"]}`}
}()

// postPaced posts one email under key through mailsync's Go client, in
// one attempt (a 503 is counted, not retried), and returns the answer's
// status (201 when the email was stored).
func postPaced(ctx context.Context, api *client.Client, key string) (int, error) {
	body := []byte(pacedEmail[0] + key + pacedEmail[1])
	_, err := api.IngestBody(ctx, key, client.BytesBody("application/json", body), client.Envelope{})
	var pe *client.ProblemError
	switch {
	case err == nil:
		return http.StatusCreated, nil
	case errors.As(err, &pe):
		return pe.Status, nil
	}
	return 0, err
}

// pacer runs the rate generator against a server and watches its backlog.
type pacer struct {
	srv  *serverProc
	pool *pgxpool.Pool
}

// paceResult is a rategen report with what the bench saw meanwhile.
type paceResult struct {
	paceReport
	tag        string
	slope      float64 // backlog trend, rows per second, the first 20 % left out
	maxBacklog int
}

// run feeds the server rate emails/s for d from a rategen process while
// sampling the backlog every 250 ms.
func (p *pacer) run(ctx context.Context, rate float64, d time.Duration, tag string) (paceResult, error) {
	res := paceResult{tag: tag + "." + strconv.FormatInt(time.Now().UnixNano(), 36)}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	sctx, cancel := context.WithCancel(ctx)
	var ts, ns []float64
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			var n int
			if p.pool.QueryRow(sctx, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL AND failed_at IS NULL`).Scan(&n) == nil {
				ts, ns = append(ts, time.Since(start).Seconds()), append(ns, float64(n))
				res.maxBacklog = max(res.maxBacklog, n)
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	cmd := exec.CommandContext(ctx, self, "rategen", "-url", p.srv.base, "-rate", strconv.FormatFloat(rate, 'f', 1, 64),
		"-d", d.String(), "-tag", res.tag)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	cancel()
	<-done
	if err != nil {
		return res, fmt.Errorf("rategen: %w", err)
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&res.paceReport); err != nil {
		return res, fmt.Errorf("rategen output %q: %w", out, err)
	}
	res.slope = trend(ts, ns, 0.2*d.Seconds(), d.Seconds())
	return res, nil
}

// trend is the least-squares slope of ys over xs, for xs in [from, to].
func trend(xs, ys []float64, from, to float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for i, x := range xs {
		if x < from || x > to {
			continue
		}
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+ys[i], sxx+x*x, sxy+x*ys[i]
	}
	if n < 3 || n*sxx == sx*sx {
		return 0
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}
