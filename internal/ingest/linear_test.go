package ingest

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// parseTimes parses each message of raws three times, interleaved, and
// returns the least CPU time (of the whole process: these tests do not run
// in parallel) each took. CPU time rather than wall time, and the least of
// three, keep a busy machine's load out of the comparison.
// Bodies of at least elideAt bytes are kept out of the MIME library (elide).
func parseTimes(t *testing.T, elideAt int, raws ...[]byte) []time.Duration {
	t.Helper()
	best := make([]time.Duration, len(raws))
	for i := range best {
		best[i] = time.Duration(1 << 62)
	}
	for range 3 {
		for i, raw := range raws {
			start := cpuTime(t)
			_, err := parseRawMin(raw, Envelope{}, testNow, elideAt)
			require.NoError(t, err)
			best[i] = min(best[i], cpuTime(t)-start)
		}
	}
	return best
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(t *testing.T) time.Duration {
	var u syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &u))
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// TestParseCostIsLinearInParts parses messages of N and 16N text parts of
// 10 KB: sixteen times the parts must cost about sixteen times the CPU
// time. The bound, 26x, sits above linear (16x; measured 17x to 21x) and
// below what the text of the parts concatenated one string at a time cost
// (32x at these sizes, growing with them toward quadratic, 256x).
func TestParseCostIsLinearInParts(t *testing.T) {
	small, large := ManyParts(60*10_000, 10_000), ManyParts(960*10_000, 10_000)
	d := parseTimes(t, elideMin, small, large)
	ts, tl := d[0], d[1]
	ratio := float64(tl) / float64(ts)
	t.Logf("60 parts: %v, 960 parts: %v, ratio %.1f", ts, tl, ratio)
	require.Less(t, ratio, 26.0, "parse time grows faster than linearly with the number of parts")
}

// TestParseManySmallPartsIsBounded parses the message that once took 40 s
// of CPU: 10 MB in 9,990 text parts. It costs no more than the same bytes
// in a single part of a multipart (generously: 5x), its first parts are
// kept and the rest is left in the raw message with parts_truncated. Both
// go through the MIME library: the single part is not elided.
func TestParseManySmallPartsIsBounded(t *testing.T) {
	many := ManyParts(10<<20, 10<<20/9990)
	single := ManyParts(10<<20, 10<<20)
	d := parseTimes(t, 1<<62, many, single)
	tm, ts := d[0], d[1]
	t.Logf("9,990 parts: %v, one part: %v", tm, ts)
	require.Less(t, float64(tm), 5*float64(ts), "many small parts cost far more than their bytes")
	m, err := ParseRaw(many, Envelope{}, testNow)
	require.NoError(t, err)
	require.Equal(t, []string{DefectPartsTruncated}, m.Content.ParseDefects)
	require.NotEmpty(t, m.Content.TextBody)
}
