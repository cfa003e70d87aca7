package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// The blobs section measures the resident memory of `server serve` (its
// own process, default settings) while raw messages carrying big
// attachments arrive at once, are stored as blobs and relayed to GridFS,
// and how much it still holds a while after they synced.
var blobOpts struct {
	emails, msgMB, attMB int
	peakMB, heldMB       float64
	settle               time.Duration
}

func init() {
	register("blobs", benchBlobs)
	flag.IntVar(&blobOpts.emails, "blobs-emails", 20, "blobs: raw messages POSTed at once")
	flag.IntVar(&blobOpts.msgMB, "blobs-message-mb", 25, "blobs: size of each raw message, MB (10^6 bytes)")
	flag.IntVar(&blobOpts.attMB, "blobs-attachment-mb", 20, "blobs: size of each message's attachment, MB (sent 8bit)")
	flag.Float64Var(&blobOpts.peakMB, "blobs-peak-target", 300, "blobs: target for the peak RSS, MB")
	flag.Float64Var(&blobOpts.heldMB, "blobs-held-target", 120, "blobs: target for the RSS after the settle time, MB")
	flag.DurationVar(&blobOpts.settle, "blobs-settle", 30*time.Second, "blobs: when after the last email synced the RSS is read")
}

func benchBlobs(ctx context.Context, o benchOptions, d *database, _ *cpuWatch) ([]row, error) {
	if o.mongoURL == "" {
		return nil, errors.New("-mongo-url (or MAILSYNC_BENCH_MONGO_URL) is required")
	}
	bin, cleanup, err := buildServer(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	n := blobOpts.emails
	fmt.Printf("%d raw messages of %d MB, each with a %d MB attachment, POSTed at once to `server serve` (its own process, "+
		"defaults; a 503 is retried after its Retry-After), stored as blobs and relayed to GridFS; RSS from /proc;\n"+
		"targets: peak ≤ %.0f MB, ≤ %.0f MB %s after the last synced\n",
		n, blobOpts.msgMB, blobOpts.attMB, blobOpts.peakMB, blobOpts.heldMB, blobOpts.settle)
	srv, err := startRelayServer(ctx, o, d, bin, "blobs", "RECONCILE_INTERVAL=0")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	idle := srv.rssMB()
	stopSampling := srv.sample(20 * time.Millisecond)
	line := []byte("0123456789abcdefghijklmnopqrstuvwxyz,ABCDEFGHIJKLMNOPQRSTUVWXYZ;0123456789\r\n")
	att := bytes.Repeat(line, blobOpts.attMB*1_000_000/len(line)+1)[:blobOpts.attMB*1_000_000]
	say := []byte("The attached export, as promised.\r\n")
	text := bytes.Repeat(say, max(0, (blobOpts.msgMB-blobOpts.attMB)*1_000_000)/len(say)+1)
	client := newClient(n)
	client.Timeout = 10 * time.Minute
	var refused int64
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = postRawBlob(ctx, client, srv.base, i, text, att, &refused) })
	}
	wg.Wait()
	ingest := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w (peak RSS so far %.0f MB)", err, max(stopSampling(), srv.hwmMB()))
	}
	if err := waitAllSynced(ctx, srv.pool, n, 15*time.Minute); err != nil {
		return nil, err
	}
	peak := max(stopSampling(), srv.hwmMB())
	synced := time.Since(start)
	atSynced := srv.rssMB()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(blobOpts.settle):
	}
	held := srv.rssMB()
	fmt.Printf("  idle %.0f MB | stored in %s (%d× 503 retried), synced after %s | peak %.0f MB | %.0f MB at synced, %.0f MB %s later\n",
		idle, ingest.Round(time.Millisecond), refused, synced.Round(time.Millisecond), peak, atSynced, held, blobOpts.settle)
	fmt.Printf("blobs: peak RSS %.0f MB (target ≤ %.0f MB); RSS %s after synced %.0f MB (target ≤ %.0f MB)\n",
		peak, blobOpts.peakMB, blobOpts.settle, held, blobOpts.heldMB)
	return []row{
		{fmt.Sprintf("peak RSS, %d × %d MB raw (%d MB attachment)", n, blobOpts.msgMB, blobOpts.attMB), fmt.Sprintf("%.0f MB", peak),
			fmt.Sprintf("idle %.0f MB", idle), "", fmt.Sprintf("≤ %.0f MB", blobOpts.peakMB), verdict(peak, blobOpts.peakMB, true)},
		{fmt.Sprintf("  RSS %s after they synced", blobOpts.settle), fmt.Sprintf("%.0f MB", held),
			fmt.Sprintf("at synced %.0f MB", atSynced), "", fmt.Sprintf("≤ %.0f MB", blobOpts.heldMB), verdict(held, blobOpts.heldMB, true)},
	}, nil
}

// postRawBlob POSTs raw message i (text and an 8bit attachment, both
// shared, made distinct by a first line naming i), retrying a 503 after
// its Retry-After, and expects 201.
func postRawBlob(ctx context.Context, client *http.Client, base string, i int, text, att []byte, refused *int64) error {
	head := []byte(fmt.Sprintf("From: Bench <bench@example.com>\r\nTo: blobs@example.org\r\nSubject: export %d\r\n"+
		"Message-ID: <blobs-%d-%d@bench.example.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"bench-boundary\"\r\n\r\n--bench-boundary\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n", i, os.Getpid(), i))
	mid := []byte(fmt.Sprintf("\r\n--bench-boundary\r\nContent-Type: text/csv\r\nContent-Transfer-Encoding: 8bit\r\n"+
		"Content-Disposition: attachment; filename=\"export-%d.csv\"\r\n\r\nexport %d\r\n", i, i))
	tail := []byte("\r\n--bench-boundary--\r\n")
	key := "blobs-" + strconv.Itoa(i)
	return postParts(ctx, client, base, key, "message/rfc822", 10*time.Minute, refused, head, text, mid, att, tail)
}
