package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/reconcile"
	"mailsync/internal/testwait"
)

// TestRunsAreAudited: a scheduled run and a command-line run each record a
// reconciliation.start event naming their report, by "scheduler" and
// "cli", as a run started through the API (StartRun) records its client.
func TestRunsAreAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.reconciler(reconcile.Config{Interval: 50 * time.Millisecond})
	require.NoError(t, r.Start(e.ctx))
	testwait.Until(t, time.Minute, "a scheduled run", func() bool {
		return e.count(`SELECT count(*) FROM reconciliation_reports WHERE trigger = 'scheduled'`) >= 1
	})
	require.NoError(t, r.Stop(e.ctx))
	require.Equal(t, e.count(`SELECT count(*) FROM reconciliation_reports WHERE trigger = 'scheduled'`),
		e.count(`SELECT count(*) FROM audit_events a JOIN reconciliation_reports r ON a.target = 'reconciliation:' || r.id
			WHERE a.action = 'reconciliation.start' AND a.client_id = 'scheduler' AND r.trigger = 'scheduled'
			  AND a.details = '{"dry_run": false, "trigger": "scheduled"}'`))

	cli := e.reconciler(reconcile.Config{})
	rep, err := cli.Run(e.ctx, reconcile.TriggerManual, true)
	require.NoError(t, err)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM audit_events WHERE action = 'reconciliation.start' AND client_id = 'cli'
		AND target = $1 AND details = '{"dry_run": true, "trigger": "manual"}'`, fmt.Sprint("reconciliation:", rep.ID)))

	started, err := cli.StartRun(e.ctx, true, audit.Actor{ClientID: "ops", RequestID: "req-1"})
	require.NoError(t, err)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM audit_events WHERE action = 'reconciliation.start' AND client_id = 'ops'
		AND request_id = 'req-1' AND target = $1`, fmt.Sprint("reconciliation:", started.ID)))
	testwait.Until(t, time.Minute, "the API's run", func() bool {
		got, err := cli.Get(e.ctx, started.ID)
		return err == nil && got.Status != reconcile.StatusRunning
	})
}
