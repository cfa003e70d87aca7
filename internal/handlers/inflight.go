package handlers

import (
	"context"
	"io"
	"net/http"
	"time"

	"mailsync/internal/ingest"
)

// inflight bounds the bytes of request bodies a process holds at once with
// the bound it shares with the LMTP listener (ingest.Bodies). A request
// takes the weight of its body before the body is read and holds it until
// the response is written. While the bound is full the request waits for
// room, in arrival order, up to wait (the request timeout); its body stays
// unread in the socket meanwhile. Only a request that got no room by then is
// refused with 503 and Retry-After, its body unread.
type inflight struct {
	bodies  *ingest.Bodies
	maxBody int64
	wait    time.Duration
}

// newInflight returns the middleware's state over bodies; a request whose
// length is unknown (chunked) weighs maxBody. A nil bodies is no bound.
func newInflight(bodies *ingest.Bodies, maxBody int64, wait time.Duration) *inflight {
	if bodies == nil {
		return nil
	}
	return &inflight{bodies: bodies, maxBody: maxBody, wait: wait}
}

// weight is what a request holds while it runs: its Content-Length, or
// MAX_BODY_BYTES when the length is unknown (Bodies caps it at its
// capacity). Requests without a body weigh nothing.
func (l *inflight) weight(r *http.Request) int64 {
	n := r.ContentLength
	switch {
	case r.Body == nil || r.Body == http.NoBody || n == 0:
		return 0
	case n < 0:
		n = l.maxBody
	}
	return n
}

// middleware admits a request once its body's weight fits in the bound,
// and holds the weight until the response is written. It must run after
// authentication (an unauthenticated client must not take the capacity of
// the authenticated ones) and before anything reads the body. The body of
// an admitted request tells its length to ingest.ReadBody.
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
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if l.wait > 0 {
			ctx, cancel = context.WithTimeout(ctx, l.wait)
		}
		release, err := l.bodies.Acquire(ctx, n)
		cancel()
		if err != nil {
			// The body is left unread; net/http closes the connection
			// rather than drain a big one.
			w.Header().Set("Connection", "close")
			WriteError(w, r, err)
			return
		}
		defer release()
		if r.ContentLength > 0 {
			r.Body = sizedBody{ReadCloser: r.Body, size: r.ContentLength}
		}
		next.ServeHTTP(w, r)
	})
}

// sizedBody is a request body that tells ingest.ReadBody its length.
type sizedBody struct {
	io.ReadCloser
	size int64
}

func (b sizedBody) DeclaredSize() int64 { return b.size }

var _ ingest.SizedBody = sizedBody{}
