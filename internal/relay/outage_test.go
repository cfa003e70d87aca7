package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// TestMongoOutageResumesAtOnceAndBurnsNoRetries stops MongoDB while 2,000
// emails are ingested, with the default relay settings. No attempt may count
// against the emails and no row may be pushed into the future, so nothing
// but the probe stands between the store's return and the first document.
// (How soon it lands is logged here and measured by make bench's drain after
// an outage: a wall-clock bound would not hold under the race detector.)
func TestMongoOutageResumesAtOnceAndBurnsNoRetries(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	srv := mongotest.StartServer(t)
	m, _ := mongotest.StoreAt(t, srv.URL)
	const total = 2000
	r := relay.New(pool, m, &relay.Config{Workers: 4, MaxRetries: 3})
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	svc := newIngest(pool, r)

	srv.Stop()
	ingestN(t, svc, 0, 1000)
	testwait.Until(t, 30*time.Second, "the relay to meet the outage", func() bool {
		return count(t, pool, `SELECT count(*) FROM outbox_messages WHERE error_message LIKE 'store unreachable%'`) > 0
	})
	// Ingest goes on during the outage: each commit wakes a paused worker,
	// which must wait for the probe instead of claiming and releasing again.
	ingestN(t, svc, 1000, 1000)
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE retry_count > 0 OR failed_at IS NOT NULL`))
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE next_attempt_at > created_at`),
		"no row is pushed into the future by the outage")

	require.NoError(t, srv.Start())
	restarted := time.Now()
	// The store is reachable when a fresh client's ping is answered (a
	// restarted devmongo takes about a second to answer its first one).
	fresh, err := mongostore.Connect(context.Background(), srv.URL, "reachable", 30*time.Second)
	require.NoError(t, err)
	reachable := time.Now()
	require.NoError(t, fresh.Close(context.Background()))
	testwait.Until(t, 30*time.Second, "the first document after the outage", func() bool { return docCount(t, m) > 0 })
	t.Logf("first document %s after the restart, %s after the store answered a ping",
		time.Since(restarted).Round(time.Millisecond), time.Since(reachable).Round(time.Millisecond))

	testwait.Until(t, 60*time.Second, "drain after the outage", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == total
	})
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE retry_count > 0 OR failed_at IS NOT NULL`))
	assertAllSyncedOnce(t, pool, m, total)
}
