package handlers

import (
	"net/http"

	"mailsync/internal/ingest"
)

// admitIngest takes the room of a POST /v1/emails request in the ingest
// service's group-commit queue before anything reads its body, and refuses
// the request with 503 + Retry-After when the queue is full (the body is
// left unread and the connection closed). The request weighs its
// Content-Length, or maxBody when the length is unknown. The room is held
// until the response is written and, when the request gave up early, until
// its call left the queue.
func admitIngest(svc *ingest.Service, maxBody int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if svc == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || routePattern(r) != "/v1/emails" {
				next.ServeHTTP(w, r)
				return
			}
			size := r.ContentLength
			if size < 0 {
				size = maxBody
			}
			t, err := svc.Admit(size)
			if err != nil {
				// Closing the connection spares reading the body at all:
				// net/http would otherwise drain a small one to reuse it.
				w.Header().Set("Connection", "close")
				WriteError(w, r, err)
				return
			}
			defer t.Release()
			next.ServeHTTP(w, r.WithContext(ingest.WithTicket(r.Context(), t)))
		})
	}
}

// handlersOf returns h when it is a *Handlers, or the *Handlers it embeds.
func handlersOf(h any) *Handlers {
	if b, ok := h.(interface{ base() *Handlers }); ok {
		return b.base()
	}
	return New(&Config{})
}

func (h *Handlers) base() *Handlers { return h }
