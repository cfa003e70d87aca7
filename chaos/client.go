package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Client is an API client of the suite: its name (the client_id that scopes
// idempotency keys) and bearer token.
type Client struct{ Name, Token string }

// errGaveUp is returned when a request found no final answer before the
// give-up time.
var errGaveUp = errors.New("gave up: no final answer before the give-up time")

// outcomes counts what clients saw, per fault phase.
type outcomes struct {
	mu      sync.Mutex
	byPhase map[string]map[string]int
	samples []string // bodies of unexpected server errors, a few
}

func (o *outcomes) add(phase, what string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byPhase == nil {
		o.byPhase = map[string]map[string]int{}
	}
	if o.byPhase[phase] == nil {
		o.byPhase[phase] = map[string]int{}
	}
	o.byPhase[phase][what]++
}

func (o *outcomes) sample(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.samples) < 5 {
		o.samples = append(o.samples, s)
	}
}

// Table renders the outcomes, one line per phase.
func (o *outcomes) Table() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	phases := make([]string, 0, len(o.byPhase))
	for p := range o.byPhase {
		phases = append(phases, p)
	}
	sort.Strings(phases)
	var b strings.Builder
	for _, p := range phases {
		names := make([]string, 0, len(o.byPhase[p]))
		for n := range o.byPhase[p] {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s=%d", n, o.byPhase[p][n])
		}
		fmt.Fprintf(&b, "  %-28s %s\n", p+":", strings.Join(parts, " "))
	}
	return b.String()
}

// count sums one outcome over all phases whose name satisfies match.
func (o *outcomes) count(match func(phase, what string) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for p, m := range o.byPhase {
		for w, c := range m {
			if match(p, w) {
				n += c
			}
		}
	}
	return n
}

// retryable says whether an HTTP status asks the client to try again later:
// the statuses a client of mailsync is told to retry (409 key in flight,
// 429 rate limit, 503 dependency down) and, defensively, any other 5xx.
func retryable(status int) bool {
	return status == http.StatusConflict || status == http.StatusTooManyRequests || status >= 500
}

// netOutcome names a transport error.
func netOutcome(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn-refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "client-timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "conn-reset"
	default:
		return "net-error"
	}
}

// post sends one POST with retries (rotating over the targets, honouring
// Retry-After, exponential backoff with jitter) until a final answer: a 2xx
// or a status that is not retryable. It returns errGaveUp when the give-up
// time passes first.
func (l *Load) post(path string, c Client, key string, body []byte, start int) (int, http.Header, []byte, error) {
	backoff := 50 * time.Millisecond
	targets := l.cfg.Targets
	for attempt := 0; ; attempt++ {
		if time.Now().After(l.giveUpAt()) {
			return 0, nil, nil, errGaveUp
		}
		base := targets[(start+attempt)%len(targets)]
		req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.Token)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		l.requests.Add(1)
		if attempt > 0 {
			l.retries.Add(1)
		}
		resp, err := l.http.Do(req)
		phase := l.cfg.Timeline.Phase()
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, time.Second)
		if err != nil {
			l.out.add(phase, netOutcome(err))
			sleepBriefly(wait)
			continue
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		s := resp.StatusCode
		switch {
		case rerr != nil:
			l.out.add(phase, netOutcome(rerr))
		case s >= 200 && s < 300:
			l.out.add(phase, strconv.Itoa(s))
			return s, resp.Header, b, nil
		case !retryable(s):
			l.out.add(phase, strconv.Itoa(s))
			return s, resp.Header, b, nil
		default:
			ra := resp.Header.Get("Retry-After")
			name := strconv.Itoa(s)
			if s == http.StatusServiceUnavailable || s == http.StatusConflict || s == http.StatusTooManyRequests {
				if ra == "" {
					name += "-without-Retry-After"
				} else {
					name += "+Retry-After"
				}
			}
			l.out.add(phase, name)
			if s >= 500 && s != http.StatusServiceUnavailable {
				l.out.sample(fmt.Sprintf("%s %s%s → %d: %s", phase, base, path, s, strings.TrimSpace(string(b))))
			}
			if secs, err := strconv.Atoi(ra); err == nil && secs > 0 {
				wait = min(time.Duration(secs)*time.Second, 2*time.Second)
			}
		}
		sleepBriefly(wait)
	}
}

func sleepBriefly(d time.Duration) { time.Sleep(d) }
