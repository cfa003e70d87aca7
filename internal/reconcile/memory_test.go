package reconcile_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/ingest"
	"mailsync/internal/reconcile"
)

// bigEmails stores n emails of size bytes each (nearly all text body),
// one per transaction, and relays them.
func (e *env) bigEmails(n, size int) {
	e.t.Helper()
	for i := range n {
		c := content(50_000 + i)
		c.TextBody = strings.Repeat(fmt.Sprintf("big %d ", i%10), size/6)
		_, err := e.ingest.Ingest(e.ctx, "test", []ingest.Item{{Key: fmt.Sprint("big", i), Fingerprint: fmt.Sprint("big", i), Content: c}})
		require.NoError(e.t, err)
		if i%4 == 3 {
			e.drain()
		}
	}
	e.drain()
}

// A run holds at most its read budget of MongoDB documents at once, by
// bytes, whatever their number: twelve emails of 3 MB under a 8 MiB budget
// are read two at a time, and the run still finds a changed one.
func TestReconciliationMemoryIsBoundedByBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ingestN(40)
	e.bigEmails(12, 3<<20)
	const limit = 8 << 20
	r := e.reconciler(reconcile.Config{ReadBudget: limit, Timeout: 5 * time.Minute})
	rep, err := r.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Zero(t, rep.MismatchesFound, "%+v", rep.Details)
	require.EqualValues(t, 2*52, rep.RecordsChecked)
	peak := reconcile.PeakReadBytes(r)
	require.LessOrEqual(t, peak, int64(limit), "the reader held more than its budget")
	require.GreaterOrEqual(t, peak, int64(3<<20), "the budget's accounting saw the big documents")
}

// TestReconciliationMemoryMeasured measures the resident memory of a dry
// run over MAILSYNC_RECONCILE_MEMORY emails of 15 MB (off by default: it
// stores n × 15 MB in both stores). The figure is this test process's
// VmHWM during the run, reset before it.
func TestReconciliationMemoryMeasured(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MAILSYNC_RECONCILE_MEMORY"))
	if n <= 0 {
		t.Skip("set MAILSYNC_RECONCILE_MEMORY=100 to measure a run over 100 emails of 15 MB")
	}
	e := newEnv(t)
	e.bigEmails(n, 15_000_000)
	r := e.reconciler(reconcile.Config{Timeout: 30 * time.Minute})
	runtime.GC()
	debug.FreeOSMemory()
	require.NoError(t, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
	before := vmKB(t, "VmRSS")
	start := time.Now()
	rep, err := r.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Zero(t, rep.MismatchesFound, "%+v", rep.Details)
	hwm := vmKB(t, "VmHWM")
	t.Logf("dry run over %d emails of 15 MB: %s; RSS before %d MB, peak during the run %d MB; read budget peak %d MB",
		n, time.Since(start).Round(time.Second), before>>10, hwm>>10, reconcile.PeakReadBytes(r)>>20)
	require.Less(t, hwm>>10, int64(200), "peak RSS in MB")
}

func vmKB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
