package handlers

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"golang.org/x/time/rate"

	"mailsync/internal/api"
	"mailsync/internal/auth"
)

// RateLimit is a per-client token bucket: RPS requests per second on
// average, bursts of Burst. A zero RPS turns limiting off.
type RateLimit struct {
	RPS   float64
	Burst int
}

type limiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newLimiter(cfg RateLimit) *limiter {
	if cfg.Burst < 1 {
		cfg.Burst = int(math.Max(1, math.Ceil(cfg.RPS)))
	}
	return &limiter{cfg: cfg, clients: map[string]*rate.Limiter{}}
}

// allow takes a token of client's bucket, or returns the seconds to wait.
func (l *limiter) allow(client string) (bool, int) {
	if l == nil || l.cfg.RPS <= 0 {
		return true, 0
	}
	l.mu.Lock()
	lim, ok := l.clients[client]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(l.cfg.RPS), l.cfg.Burst)
		l.clients[client] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, int(math.Ceil(d.Seconds()))
	}
	return true, 0
}

func writeTooMany(w http.ResponseWriter, r *http.Request, retryAfter int) {
	w.Header().Set("Retry-After", strconv.Itoa(max(retryAfter, 1)))
	writeProblem(w, r, http.StatusTooManyRequests, api.Problem{Type: problemType + "rate_limited",
		Title: "Too many requests", Status: http.StatusTooManyRequests,
		Detail: ptr("this API key exceeded its request rate; retry after the Retry-After seconds")})
}

// clientName is the rate-limit identity of a request's client.
func clientName(c *auth.Client) string {
	if c == nil {
		return ""
	}
	return c.Name
}
