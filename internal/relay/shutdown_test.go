package relay_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// TestStopReturnsWithinItsDeadlineWhenPostgresBlackHoles cuts PostgreSQL
// off silently (connections stay open, nothing answers) while the relay is
// busy: Stop must return once its deadline has passed, cutting in-flight
// work off, instead of waiting for the hour-long lease.
func TestStopReturnsWithinItsDeadlineWhenPostgresBlackHoles(t *testing.T) {
	t.Parallel()
	direct, url := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	ingestN(t, ingest.NewService(direct, &ingest.Config{Render: render, MaxRetries: 3}), 0, 2000)
	p, proxied := dbtest.ProxyURL(t, url)
	pool, err := pgxpool.New(context.Background(), proxied)
	require.NoError(t, err)
	r := relay.New(pool, m, &relay.Config{Workers: 2, BatchSize: 10, Lease: time.Hour, PollInterval: 50 * time.Millisecond})
	require.NoError(t, r.Start(context.Background()))
	testwait.Until(t, 30*time.Second, "the relay at work", func() bool {
		return count(t, direct, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) >= 20
	})
	p.BlackHole()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.DeadlineExceeded, "in-flight batches were cut off")
	case <-time.After(time.Minute):
		t.Fatal("Stop has not returned a minute after its 500 ms deadline: it waits for the lease")
	}
	p.Restore()
	pool.Close()
}

// bigContent is email i with a text body of size bytes.
func bigContent(i, size int) email.Content {
	c := content(i)
	c.TextBody = strings.Repeat("x", size)
	c.Normalize()
	return c
}

// TestBatchOverrunningItsLeaseDoesNotLoop makes one batch take longer than
// its lease to write (MongoDB is reached at 1 MiB/s, the batch is 4 MiB,
// the lease 2 s). The relay writes and records it chunk by chunk; the chunk
// that overran is backed off (an attempt counted, its next attempt later),
// not issued again at once, the chunks not tried are given back, and the
// next claims finish it: it neither loops nor takes the overrun for an
// outage.
func TestBatchOverrunningItsLeaseDoesNotLoop(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	murl := mongotest.URL(t)
	host := strings.TrimSuffix(strings.TrimPrefix(murl, "mongodb://"), "/")
	p := dbtest.NewProxy(t, host)
	p.Throttle(1 << 20)
	m, _ := mongotest.StoreAt(t, "mongodb://"+p.Addr+"/")
	svc := ingest.NewService(pool, &ingest.Config{Render: render, MaxRetries: 3})
	var items []ingest.Item
	for i := range 8 {
		items = append(items, ingest.Item{Key: fmt.Sprint("big", i), Fingerprint: fmt.Sprint(i), Content: bigContent(i, 512<<10)})
	}
	_, err := svc.Ingest(context.Background(), "test", items)
	require.NoError(t, err)

	r := relay.New(pool, m, &relay.Config{Workers: 1, Lease: 2 * time.Second, LoadBytes: 600 << 10, MaxRetries: 3})
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 60*time.Second, "every big email synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 8
	})
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL`))
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL`))
	// Only an overrun counts an attempt here (MongoDB is slow, not down).
	overran := count(t, pool, `SELECT count(*) FROM outbox_messages WHERE retry_count > 0`)
	require.GreaterOrEqual(t, overran, 1, "the batch overran its lease")
	require.Equal(t, overran, count(t, pool, `SELECT count(*) FROM outbox_messages
		WHERE retry_count > 0 AND next_attempt_at > created_at + interval '500 milliseconds'`),
		"a chunk that overran is backed off, not issued again at once")
	assertAllSyncedOnce(t, pool, m, 8)
}
