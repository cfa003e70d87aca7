package reconcile_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"mailsync/internal/email"
	"mailsync/internal/mongostore"
	"mailsync/internal/reconcile"
)

// TestBenchReconcile measures a reconciliation of N agreeing emails
// (MAILSYNC_BENCH_RECONCILE_N, default 200,000) next to a raw full scan of
// the same MongoDB collection, in one process, and prints `BENCH reconcile:`
// lines: both rates, their ratio (target >= 0.8) and the peak heap of each.
// It runs only with MAILSYNC_BENCH=1:
//
//	MAILSYNC_BENCH=1 go test -run TestBenchReconcile -v -timeout 60m ./internal/reconcile/
func TestBenchReconcile(t *testing.T) {
	if os.Getenv("MAILSYNC_BENCH") != "1" {
		t.Skip("set MAILSYNC_BENCH=1 to run the reconciliation benchmark")
	}
	n := 200_000
	if v := os.Getenv("MAILSYNC_BENCH_RECONCILE_N"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	e := newEnv(t)
	start := time.Now()
	seedBench(t, e, n)
	report(t, "seeded %d emails in both stores in %s", n, time.Since(start).Round(time.Millisecond))

	r := e.reconciler(reconcile.Config{RangeSize: 1000})
	scan := func(run int) measurement {
		m := measure(func() (int, error) { return rawScan(e.ctx, e.mongo) })
		require.NoError(t, m.err)
		require.Equal(t, n, m.docs)
		report(t, "raw Mongo scan %d:   %8.0f docs/s (%s), peak heap in use %.1f MiB", run, m.rate(),
			m.elapsed.Round(time.Millisecond), m.peakMiB())
		return m
	}
	scan1 := scan(1)
	rec := measure(func() (int, error) {
		rep, err := r.Run(e.ctx, reconcile.TriggerManual, false)
		if err == nil && rep.MismatchesFound != 0 {
			err = fmt.Errorf("unexpected drift: %+v", rep.Details.Counts)
		}
		return int(rep.RecordsChecked) / 2, err
	})
	require.NoError(t, rec.err)
	require.Equal(t, n, rec.docs)
	report(t, "full reconcile run: %8.0f docs/s (%s), peak heap in use %.1f MiB, allocated %.0f MiB",
		rec.rate(), rec.elapsed.Round(time.Millisecond), rec.peakMiB(), float64(rec.alloc)/(1<<20))
	scan2 := scan(2)
	scanRate := (scan1.rate() + scan2.rate()) / 2
	report(t, "ratio reconcile/scan = %.2f (reconcile %.0f docs/s vs mean scan %.0f docs/s; target >= 0.80)",
		rec.rate()/scanRate, rec.rate(), scanRate)
}

// report prints one result line on standard output (shown with go test -v).
func report(_ *testing.T, format string, args ...any) {
	fmt.Println("BENCH reconcile: " + fmt.Sprintf(format, args...))
}

type measurement struct {
	docs    int
	elapsed time.Duration
	peak    uint64 // highest HeapInuse sampled
	alloc   uint64 // bytes allocated meanwhile
	err     error
}

func (m measurement) rate() float64    { return float64(m.docs) / m.elapsed.Seconds() }
func (m measurement) peakMiB() float64 { return float64(m.peak) / (1 << 20) }

// measure runs f, sampling the heap every 10ms.
func measure(f func() (int, error)) measurement {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	peak.Store(before.HeapInuse)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	start := time.Now()
	docs, err := f()
	m := measurement{docs: docs, elapsed: time.Since(start), err: err}
	close(stop)
	<-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	m.peak, m.alloc = peak.Load(), after.TotalAlloc-before.TotalAlloc
	return m
}

// rawScan reads the whole collection with one cursor, decoding each document.
func rawScan(ctx context.Context, m *mongostore.Store) (int, error) {
	cur, err := m.Coll().Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return 0, err
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var d mongostore.Document
		if err := cur.Decode(&d); err != nil {
			return n, err
		}
		n++
	}
	return n, cur.Err()
}

// benchContent is a realistic email (its MongoDB document is about 1.3 KB).
func benchContent(i int64) email.Content {
	c := content(int(i))
	c.Cc = []string{"team@example.org"}
	c.Subject = fmt.Sprintf("Re: order %d — delivery question", i)
	c.TextBody = strings.Repeat(fmt.Sprintf("Line %d of a typical support email body. ", i), 6)
	c.HTMLBody = "<p>" + c.TextBody + "</p>"
	c.Headers["Received"] = []string{"from mx1.example.com by mx2.example.org"}
	c.Attachments = []email.Attachment{{Filename: "invoice.pdf", ContentType: "application/pdf", SizeBytes: 48213,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}
	c.RawSizeBytes = 5000
	c.ClientID = "bench"
	c.Normalize()
	return c
}

// seedBench stores n synced emails in PostgreSQL (multi-row INSERT … SELECT)
// and their documents in MongoDB (unordered InsertMany), with no drift.
func seedBench(t *testing.T, e *env, n int) {
	const batch = 5000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	docs := make(chan []any, 4)
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range docs {
				for lo := 0; lo < len(d); lo += 1000 {
					_, err := e.mongo.Coll().InsertMany(e.ctx, d[lo:min(lo+1000, len(d))], options.InsertMany().SetOrdered(false))
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	now := time.Now()
	for lo := int64(1); lo <= int64(n); lo += batch {
		hi := min(lo+batch-1, int64(n))
		hashes := make([]string, 0, hi-lo+1)
		d := make([]any, 0, hi-lo+1)
		for id := lo; id <= hi; id++ {
			c := benchContent(id)
			hashes = append(hashes, c.Hash())
			d = append(d, mongostore.FromEmail(email.Stored{Content: c, ID: id, Version: 1, ContentHash: hashes[len(hashes)-1]}, now))
		}
		_, err := e.pool.Exec(e.ctx, benchInsert, lo, hashes)
		require.NoError(t, err)
		docs <- d
	}
	close(docs)
	wg.Wait()
	require.NoError(t, firstErr)
}

// benchInsert writes emails lo, lo+1, … with the fields of benchContent (the
// per-email parts rebuilt in SQL from the id; $2 holds the content hashes).
const benchInsert = `
INSERT INTO incoming_emails (id, client_id, message_id, mailbox, from_address, to_addresses, cc_addresses,
    subject, text_body, html_body, headers, attachments, raw_size_bytes, received_at, content_hash,
    sync_status, synced_at, idempotency_key)
SELECT id, 'bench', '<' || id || '@reconcile.test>', 'support', 'a@example.com', ARRAY['b@example.com'], ARRAY['team@example.org'],
    'Re: order ' || id || ' — delivery question', body, '<p>' || body || '</p>',
    jsonb_build_object('X-Test', jsonb_build_array(id::text), 'Received', jsonb_build_array('from mx1.example.com by mx2.example.org')),
    '[{"filename": "invoice.pdf", "content_type": "application/pdf", "size_bytes": 48213, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]'::jsonb,
    5000, '2026-11-27T10:00:00Z', h, 'synced', now(), 'k' || id
FROM (SELECT $1::bigint + o - 1 AS id, h FROM unnest($2::text[]) WITH ORDINALITY AS u(h, o)) AS s,
    LATERAL (SELECT repeat('Line ' || s.id || ' of a typical support email body. ', 6) AS body) AS b`
