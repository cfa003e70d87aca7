package testwait_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// recorder is a testing.TB that records a fatal message instead of
// stopping the test.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

// TestUntilReturnsOnceTheConditionHolds: the condition is polled until it
// holds, and a condition that holds at once is not waited for.
func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	calls := 0
	testwait.Until(t, time.Minute, "the third call", func() bool { calls++; return calls == 3 })
	require.Equal(t, 3, calls)

	calls = 0
	testwait.Until(t, time.Minute, "the first call", func() bool { calls++; return true })
	require.Equal(t, 1, calls)
}

// TestUntilNamesWhatItWaitedFor: a condition that never holds fails the
// test with the timeout and what was awaited.
func TestUntilNamesWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	r := &recorder{TB: t}
	testwait.Until(r, 50*time.Millisecond, "the moon", func() bool { return false })
	require.Equal(t, "timed out after 50ms waiting for the moon", r.fatal)
}

// TestPollReportsWhetherTheConditionHeld: Poll fails no test; it says
// whether the condition held, checking it once more at the deadline.
func TestPollReportsWhetherTheConditionHeld(t *testing.T) {
	t.Parallel()
	require.False(t, testwait.Poll(50*time.Millisecond, func() bool { return false }))

	calls := 0
	require.True(t, testwait.Poll(time.Minute, func() bool { calls++; return calls == 2 }))
	require.Equal(t, 2, calls)

	calls = 0
	require.True(t, testwait.Poll(0, func() bool { calls++; return calls == 2 }),
		"the last check at the deadline counts")
}
