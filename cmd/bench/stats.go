package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ms renders a duration in milliseconds with a precision that suits it.
func ms(d float64) string {
	if d < 10 {
		return fmt.Sprintf("%.2f ms", d)
	}
	return fmt.Sprintf("%.1f ms", d)
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// info marks a verdict as informational (not the target).
func info(v string) string { return "(" + strings.ToLower(v) + ")" }

// row is one line of the summary table.
type row struct {
	metric, value, baseline, ratio, target, verdict string
}

// verdict says whether got meets a target: at least (want > 0) or at most
// (atMost) the wanted value.
func verdict(got, want float64, atMost bool) string {
	switch {
	case math.IsNaN(got):
		return "n/a"
	case atMost && got <= want, !atMost && got >= want:
		return "met"
	default:
		return "MISSED"
	}
}

// printTable writes rows as an aligned plain-text table (it pastes into
// Markdown as a code block unchanged).
func printTable(w io.Writer, rows []row) {
	head := row{"measurement", "median", "baseline (median)", "ratio", "target", "verdict"}
	all := append([]row{head}, rows...)
	width := make([]int, 6)
	cells := func(r row) []string { return []string{r.metric, r.value, r.baseline, r.ratio, r.target, r.verdict} }
	for _, r := range all {
		for i, c := range cells(r) {
			width[i] = max(width[i], len(c))
		}
	}
	for j, r := range all {
		var b strings.Builder
		for i, c := range cells(r) {
			fmt.Fprintf(&b, "%-*s  ", width[i], c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if j == 0 {
			var b strings.Builder
			for i := range width {
				b.WriteString(strings.Repeat("-", width[i]) + "  ")
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
}
