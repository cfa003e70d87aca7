package chaos

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apiclient "mailsync/client"
)

// Client is an API client of the suite: its name (the client_id that scopes
// idempotency keys) and bearer token.
type Client struct{ Name, Token string }

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

// newAPI returns, for every client of the suite and every target, a
// mailsync client whose first attempt goes to that target and whose
// retries go to the next ones in turn, so an operation starting at a random
// instance fails over to the others. The retry rules are the client's; it
// retries until the give-up time (Finish), backing off from 50 ms to 1 s.
func (l *Load) newAPI() error {
	targets := l.cfg.Targets
	l.api = make([][]*apiclient.Client, len(l.cfg.Clients))
	for ci, c := range l.cfg.Clients {
		for start := range targets {
			var rest []string
			for i := 1; i < len(targets); i++ {
				rest = append(rest, targets[(start+i)%len(targets)])
			}
			api, err := apiclient.New(&apiclient.Config{BaseURL: targets[start], Failover: rest, Token: c.Token,
				HTTPClient: l.http, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, MaxAttempts: math.MaxInt,
				Retry:   func(err error) bool { return time.Now().Before(l.giveUpAt()) && apiclient.Retryable(err) },
				Observe: l.observe})
			if err != nil {
				return err
			}
			l.api[ci] = append(l.api[ci], api)
		}
	}
	return nil
}

// client returns the mailsync client of API client ci whose first attempt
// goes to target start (modulo the number of targets).
func (l *Load) client(ci, start int) *apiclient.Client {
	return l.api[ci][start%len(l.cfg.Targets)]
}

// observe counts one attempt and what it saw, per fault phase: its status
// (503, 409 and 429 with or without Retry-After) or its transport error,
// and a sample of the body of a server error other than 503.
func (l *Load) observe(a apiclient.Attempt) {
	l.requests.Add(1)
	if a.N > 1 {
		l.retries.Add(1)
	}
	phase := l.cfg.Timeline.Phase()
	var pe *apiclient.ProblemError
	var ae *apiclient.AnswerError
	if a.Err != nil && !errors.As(a.Err, &pe) && !errors.As(a.Err, &ae) {
		l.out.add(phase, netOutcome(a.Err))
		return
	}
	s := a.Status
	name := strconv.Itoa(s)
	if s == http.StatusServiceUnavailable || s == http.StatusConflict || s == http.StatusTooManyRequests {
		if a.Header.Get("Retry-After") == "" {
			name += "-without-Retry-After"
		} else {
			name += "+Retry-After"
		}
	}
	l.out.add(phase, name)
	if s >= 500 && s != http.StatusServiceUnavailable && pe != nil {
		l.out.sample(fmt.Sprintf("%s %s %s → %d: %s", phase, a.Method, a.URL, s, strings.TrimSpace(string(pe.Body))))
	}
}
