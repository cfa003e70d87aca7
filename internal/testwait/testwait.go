// Package testwait is how tests wait for a condition that nothing signals:
// they poll it on a ticker until it holds or a deadline passes. Wait on a
// channel instead wherever the code under test can signal.
//
// Unlike testify's require.Eventually, the condition runs on the caller's
// goroutine, so it may call t.Fatal and require like the rest of the test.
package testwait

import (
	"testing"
	"time"
)

// Interval is how often Until and Poll check their condition.
const Interval = 20 * time.Millisecond

// Until calls cond at once and then every Interval until it returns true.
// If cond still does not hold after timeout, Until fails t with
// "timed out after <timeout> waiting for <what>" and stops the test.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Poll calls cond at once and then every Interval until it returns true or
// timeout has passed (cond is then checked once more), and reports whether
// cond held. It is Until for callers that word the failure themselves or
// must not fail a test at all (a fake connection, a helper goroutine).
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
