package ingest

import (
	"context"
	"errors"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"mailsync/internal/apperr"
)

// Bodies bounds the bytes of message bodies a process holds at once, over
// all its front doors (HTTP requests and LMTP deliveries). A body takes its
// weight before it is read and gives it back once its request is
// answered. While the bound is full, bodies wait for room in the order they
// came, each up to its deadline: a burst of big messages is worked through
// a few at a time instead of being read at once, and only a body that
// could not get room in time is refused (503 + Retry-After, LMTP 451).
type Bodies struct {
	sem      *semaphore.Weighted
	capacity int64
	held     prometheus.Gauge
	waiting  prometheus.Gauge
}

// NewBodies returns a bound of capacity bytes whose gauges are registered
// with reg (when not nil). capacity <= 0 is no bound: nil, on which every
// method works and never waits.
func NewBodies(capacity int64, reg prometheus.Registerer) *Bodies {
	if capacity <= 0 {
		return nil
	}
	b := &Bodies{sem: semaphore.NewWeighted(capacity), capacity: capacity,
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailsync_http_inflight_body_bytes",
			Help: "Message body bytes admitted and being processed, HTTP and LMTP (bounded by MAX_INFLIGHT_BODY_BYTES).",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailsync_inflight_body_waiting",
			Help: "Requests and LMTP deliveries waiting for room under MAX_INFLIGHT_BODY_BYTES before their body is read.",
		}),
	}
	if reg != nil {
		reg.MustRegister(b.held, b.waiting)
	}
	return b
}

// Capacity is the bound in bytes (0: none).
func (b *Bodies) Capacity() int64 {
	if b == nil {
		return 0
	}
	return b.capacity
}

// Acquire takes the room of a body of n bytes (at most the capacity, so a
// body the size limit admits can always be read alone), waiting while
// there is none until ctx ends; then it returns an apperr Unavailable.
// The release function gives the room back; call it once.
func (b *Bodies) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if b == nil || n <= 0 {
		return func() {}, nil
	}
	n = min(n, b.capacity)
	if !b.sem.TryAcquire(n) {
		b.waiting.Inc()
		err := b.sem.Acquire(ctx, n)
		b.waiting.Dec()
		if err != nil {
			return nil, apperr.New(apperr.Unavailable,
				"the server is busy with other large messages (message bodies in memory are limited to %d bytes "+
					"and none made room in time); retry later", b.capacity)
		}
	}
	b.held.Add(float64(n))
	return func() {
		b.held.Sub(float64(n))
		b.sem.Release(n)
	}, nil
}

// SizedBody is a request body that knows its length before it is read.
type SizedBody interface {
	io.Reader
	DeclaredSize() int64
}

// ReadBody reads all of r into one buffer of the body's size when r is a
// SizedBody, so the body is held once (io.ReadAll grows its buffer by
// copying, which for a big body leaves about twice its size behind).
func ReadBody(r io.Reader) ([]byte, error) {
	var hint int64
	if s, ok := r.(SizedBody); ok {
		hint = s.DeclaredSize()
	}
	return readSized(r, hint)
}

// readSized reads all of r into a buffer of hint bytes (one more, to see
// the end), growing it only when r holds more.
func readSized(r io.Reader, hint int64) ([]byte, error) {
	if hint <= 0 || hint > 1<<32 {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, hint+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // more than declared: grow as io.ReadAll does
		}
	}
}
