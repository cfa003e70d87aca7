package handlers

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"mailsync/internal/apperr"
)

// inflight bounds the bytes of request bodies a process works on at once.
// Big emails cost several times their size in memory while they are parsed
// and stored, so without a bound a burst of them exhausts the process's
// memory; with it, the requests beyond the bound are refused with 503 and
// Retry-After before their bodies are read, and the client retries later.
type inflight struct {
	sem      *semaphore.Weighted
	capacity int64
	maxBody  int64
	gauge    prometheus.Gauge
}

// newInflight returns a bound of capacity bytes; a request whose length is
// unknown (chunked) weighs maxBody. capacity <= 0 turns the bound off.
func newInflight(capacity, maxBody int64, reg prometheus.Registerer) *inflight {
	if capacity <= 0 {
		return nil
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mailsync_http_inflight_body_bytes",
		Help: "Request body bytes admitted and being processed (bounded by MAX_INFLIGHT_BODY_BYTES).",
	})
	if reg != nil {
		reg.MustRegister(g)
	}
	return &inflight{sem: semaphore.NewWeighted(capacity), capacity: capacity, maxBody: maxBody, gauge: g}
}

// weight is what a request holds while it runs: its Content-Length, or
// MAX_BODY_BYTES when the length is unknown, never more than the capacity
// (so a request the body limit admits can always run alone). Requests
// without a body weigh nothing.
func (l *inflight) weight(r *http.Request) int64 {
	n := r.ContentLength
	switch {
	case r.Body == nil || r.Body == http.NoBody || n == 0:
		return 0
	case n < 0:
		n = l.maxBody
	}
	if n <= 0 || n > l.capacity {
		n = l.capacity
	}
	return n
}

// middleware admits a request while its body's weight fits in the bound,
// and holds the weight until the response is written. It must run after
// authentication (an unauthenticated client must not take the capacity of
// the authenticated ones) and before anything reads the body.
func (l *inflight) middleware(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := l.weight(r)
		if n == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if !l.sem.TryAcquire(n) {
			// Not a wait: a queue of waiting bodies would hold the
			// connections and the sockets' buffers the bound is there to
			// spare. The body is left unread; net/http closes the connection
			// rather than drain a big one.
			WriteError(w, r, apperr.New(apperr.Unavailable,
				"the server is busy with other large requests (request bodies in flight are limited to %d bytes); retry later", l.capacity))
			return
		}
		l.gauge.Add(float64(n))
		defer func() {
			l.gauge.Sub(float64(n))
			l.sem.Release(n)
		}()
		next.ServeHTTP(w, r)
	})
}
