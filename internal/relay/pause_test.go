package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

const (
	syncedSQL   = `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`
	pendingSQL  = `SELECT count(*) FROM incoming_emails WHERE sync_status = 'pending'`
	leasedSQL   = `SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL AND locked_until > now()`
	auditRelSQL = `SELECT count(*) FROM audit_events WHERE action IN ('relay.pause', 'relay.resume')`
)

// TestPauseStopsEveryInstanceAndResumeSyncsAll runs two relay instances on
// one database. The relay is paused (through the first instance) while
// emails are being ingested: in-flight batches finish, then neither
// instance claims anything while every email ingested after stays pending.
// Resuming (through the second instance) syncs them all, each exactly once.
func TestPauseStopsEveryInstanceAndResumeSyncsAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	a := relay.New(pool, m, &relay.Config{Workers: 2, BatchSize: 50, PollInterval: 20 * time.Millisecond, Name: "a"})
	b := relay.New(pool, m, &relay.Config{Workers: 2, BatchSize: 50, PollInterval: time.Hour, Name: "b"})
	for _, r := range []*relay.Relay{a, b} {
		require.NoError(t, r.Start(ctx))
		defer func() { require.NoError(t, r.Stop(ctx)) }()
	}
	adminA := relay.NewAdmin(pool, 2, 3, a.Notify)
	adminB := relay.NewAdmin(pool, 2, 3, b.Notify)
	svc := newIngest(pool, a)
	ops := audit.Actor{ClientID: "ops"}

	done := make(chan struct{})
	go func() {
		defer close(done)
		ingestN(t, svc, 0, 300)
	}()
	testwait.Until(t, 30*time.Second, "some emails synced", func() bool { return count(t, pool, syncedSQL) > 0 })
	reason := "MongoDB maintenance"
	c, err := adminA.Pause(ctx, ops, &reason)
	require.NoError(t, err)
	require.True(t, c.Paused)
	require.Equal(t, "ops", *c.PausedBy)
	<-done
	ingestN(t, svc, 300, 200)

	// In-flight batches finish; then nothing is claimed by either instance.
	testwait.Until(t, 30*time.Second, "in-flight batches finished", func() bool { return count(t, pool, leasedSQL) == 0 })
	synced := count(t, pool, syncedSQL)
	claimsA, claimsB := a.EmptyClaims(), b.EmptyClaims()
	b.Notify() // b's workers are woken and claim nothing either
	testwait.Until(t, 30*time.Second, "both instances tried to claim while paused", func() bool {
		return a.EmptyClaims() >= claimsA+5 && b.EmptyClaims() > claimsB
	})
	require.Equal(t, synced, count(t, pool, syncedSQL), "nothing synced while paused")
	require.Equal(t, synced, docCount(t, m))
	require.Equal(t, 500-synced, count(t, pool, pendingSQL), "every email ingested stays pending")
	require.Less(t, synced, 500)

	st, err := adminB.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Control.Paused)
	require.Equal(t, reason, *st.Control.Reason)

	c, err = adminB.Resume(ctx, ops, nil)
	require.NoError(t, err)
	require.False(t, c.Paused)
	require.Nil(t, c.PausedSince)
	testwait.Until(t, 60*time.Second, "all synced after resume", func() bool { return count(t, pool, syncedSQL) == 500 })
	assertAllSyncedOnce(t, pool, m, 500)
	require.Equal(t, 2, count(t, pool, auditRelSQL), "pause and resume are audited")
}
