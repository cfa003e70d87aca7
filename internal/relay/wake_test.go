package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// TestCommitWakesOneWorker ingests emails one at a time into a relay of 4
// workers that never poll: each commit must wake one worker (which finds
// the email), not all four, and the instance's own NOTIFY must not wake
// them all again. Each wasted wake-up is a claim that finds nothing.
func TestCommitWakesOneWorker(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	r := relay.New(pool, m, &relay.Config{Workers: 4, PollInterval: time.Hour})
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 10*time.Second, "the workers' first claims", func() bool { return r.EmptyClaims() == 4 })
	svc := newIngest(pool, r)
	const n = 20
	for i := range n {
		ingestN(t, svc, i, 1)
		testwait.Until(t, 10*time.Second, "sync", func() bool {
			return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == i+1
		})
	}
	require.LessOrEqual(t, r.EmptyClaims()-4, int64(n/4), "claims that found nothing after %d commits", n)
}

// TestOtherInstanceIsWokenByNotify checks the cross-instance wake-up: an
// instance without workers (role api) ingests, and the relay of another
// instance, which never polls, syncs the email at once.
func TestOtherInstanceIsWokenByNotify(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	api := relay.New(pool, m, &relay.Config{Workers: 0, Name: "api"})
	worker := relay.New(pool, m, &relay.Config{Workers: 2, PollInterval: time.Hour, Name: "worker"})
	for _, r := range []*relay.Relay{api, worker} {
		require.NoError(t, r.Start(context.Background()))
		defer func() { require.NoError(t, r.Stop(context.Background())) }()
	}
	testwait.Until(t, 10*time.Second, "the listeners and the first claims", func() bool {
		return worker.EmptyClaims() == 2 &&
			count(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN mailsync_outbox'`) == 2
	})
	svc := newIngest(pool, api)
	start := time.Now()
	ingestN(t, svc, 0, 1)
	testwait.Until(t, 10*time.Second, "sync by the other instance", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 1
	})
	t.Logf("synced by the other instance after %s", time.Since(start).Round(time.Millisecond))
}
