package handlers_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailsync/internal/auth"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
)

// BenchmarkCreateEmail measures the single-email JSON ingest path as the
// server runs it: the whole router (middleware, input checks, generated
// decoder, handler, group commit into PostgreSQL, rendering) called
// in-process, without a network, for the ≈2 KB email the load generator of
// `make bench` sends. Besides ns/op (which includes waiting for PostgreSQL)
// it reports cpu-ns/op, the CPU this process spent per request (getrusage),
// which depends little on what else the machine is doing:
//
//	go test -run '^$' -bench CreateEmail -benchmem -count 6 ./internal/handlers/
func BenchmarkCreateEmail(b *testing.B) {
	// Logs are formatted as serve formats them and written to /dev/null
	// (go test would mix them into the benchmark's output).
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(handlers.LogHandler(slog.NewJSONHandler(devNull, nil))))
	b.Cleanup(func() { slog.SetDefault(prev); devNull.Close() })
	router := ingestRouter(b)
	var seq atomic.Int64
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	post := func(b *testing.B) {
		n := strconv.FormatInt(seq.Add(1), 10)
		req := httptest.NewRequest(http.MethodPost, "/v1/emails", bytes.NewReader(benchEmail("<"+run+"."+n+"@bench.example.com>")))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokenIngest)
		req.Header.Set("Idempotency-Key", run+"-"+n)
		w := httptest.NewRecorder()
		router.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Errorf("status %d: %s", w.Code, w.Body) // Errorf: RunParallel's goroutines may not call Fatal
		}
	}
	post(b) // warm-up
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			post(b)
		}
		cpu.report(b)
	})
	b.Run("parallel16", func(b *testing.B) { // 16 clients on 2 CPUs: groups form
		b.ReportAllocs()
		b.SetParallelism(8)
		cpu := startCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b)
			}
		})
		cpu.report(b)
	})
}

// ingestRouter is the router as serve builds it, over a fresh database,
// with only what POST /v1/emails uses: no relay, eraser or reconciler
// polling in the background, so that the CPU this process spends (and an
// instruction count under valgrind) is the requests'.
func ingestRouter(b *testing.B) http.Handler {
	pool, _ := dbtest.New(b)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	h := handlers.New(&handlers.Config{Pool: pool, Reader: ingest.NewReader(pool),
		Ingest: ingest.NewService(pool, &ingest.Config{Render: handlers.RenderEmail, Metrics: m})})
	keys, err := auth.ParseKeys("mta:" + tokenIngest + ":ingest")
	if err != nil {
		b.Fatal(err)
	}
	router, err := handlers.Router(h, handlers.RouterConfig{Keys: keys, MaxBodyBytes: 26214400, Gatherer: reg, Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	return router
}

// benchEmail is the JSON email of the bench's load generator with the
// given Message-ID.
func benchEmail(messageID string) []byte {
	text := strings.Repeat("Hello, my order 1234 has not arrived yet. Could you check? ", 10)
	return []byte(`{"attachments":[{"content_type":"application/pdf","filename":"invoice.pdf",` +
		`"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","size_bytes":48213}],` +
		`"cc":["Bob <bob@example.com>"],"from":"Alice Example <alice@example.com>",` +
		`"headers":{"Received":["from mx1.example.com by mx2.example.org","from client by mx1.example.com"],"X-Mailer":["bench 1.0"],"X-Spam-Score":["0.1"]},` +
		`"html_body":"<html><body><p>` + text + `</p></body></html>","mailbox":"support","message_id":"` + messageID + `",` +
		`"received_at":"2026-11-27T10:00:00Z","subject":"Order 1234 has not arrived yet","text_body":"` + text + `","to":["support@example.org"]}`)
}

// cpuClock reads this process's CPU time (user + system).
type cpuClock time.Duration

func startCPU() cpuClock { return cpuClock(processCPU()) }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds the CPU spent since c per operation as cpu-ns/op.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-time.Duration(c))/float64(b.N), "cpu-ns/op")
}
