package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

func render(e email.Stored) ([]byte, error) { return []byte(fmt.Sprint(e.ID)), nil }

func content(i int) email.Content {
	c := email.Content{MessageID: fmt.Sprintf("<%d@relay.test>", i), From: "a@example.com", To: []string{"b@example.com"},
		Subject: fmt.Sprintf("mail %d", i), TextBody: "hello", ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	c.Normalize()
	return c
}

// ingestN stores n emails through the real ingest path, in batches of 100.
func ingestN(t *testing.T, svc *ingest.Service, from, n int) {
	t.Helper()
	for lo := from; lo < from+n; lo += 100 {
		var items []ingest.Item
		for i := lo; i < min(lo+100, from+n); i++ {
			items = append(items, ingest.Item{Key: fmt.Sprint("k", i), Fingerprint: fmt.Sprint(i), Content: content(i)})
		}
		_, err := svc.Ingest(context.Background(), "test", items)
		require.NoError(t, err)
	}
}

func fastConfig() *relay.Config {
	return &relay.Config{Workers: 2, BatchSize: 100, MaxRetries: 3, Lease: 2 * time.Second,
		PollInterval: 50 * time.Millisecond, BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
}

func newIngest(pool *pgxpool.Pool, r *relay.Relay) *ingest.Service {
	return ingest.NewService(pool, &ingest.Config{Render: render, MaxRetries: 3, Committed: func(int) { r.Notify() }})
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

func docCount(t *testing.T, m *mongostore.Store) int {
	t.Helper()
	n, err := m.Coll().CountDocuments(context.Background(), bson.D{})
	require.NoError(t, err)
	return int(n)
}

// assertAllSyncedOnce checks that every email is synced and has exactly one
// document with its content hash.
func assertAllSyncedOnce(t *testing.T, pool *pgxpool.Pool, m *mongostore.Store, n int) {
	t.Helper()
	require.Equal(t, n, count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`))
	require.Equal(t, n, docCount(t, m))
	rows, err := pool.Query(context.Background(), `SELECT id, content_hash FROM incoming_emails`)
	require.NoError(t, err)
	want, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]any, error) {
		var id int64
		var h string
		err := r.Scan(&id, &h)
		return [2]any{id, h}, err
	})
	require.NoError(t, err)
	cur, err := m.Coll().Find(context.Background(), bson.D{})
	require.NoError(t, err)
	var docs []mongostore.Document
	require.NoError(t, cur.All(context.Background(), &docs))
	got := map[int64]string{}
	for _, d := range docs {
		got[d.ID] = d.Content().Hash()
	}
	for _, w := range want {
		require.Equal(t, w[1], got[w[0].(int64)], "document %d matches PostgreSQL", w[0])
	}
}

// TestIngestedEmailIsSyncedByTheWakeUp: the workers have made their first
// claims and poll only hourly, so an email synced now was synced because
// its commit woke the relay. (How fast: make bench's latency section.)
func TestIngestedEmailIsSyncedByTheWakeUp(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	r := relay.New(pool, m, &relay.Config{Workers: 2, PollInterval: time.Hour})
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 10*time.Second, "the workers' first claims", func() bool { return r.EmptyClaims() == 2 })
	svc := newIngest(pool, r)
	start := time.Now()
	ingestN(t, svc, 0, 1)
	testwait.Until(t, 30*time.Second, "sync", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 1
	})
	t.Logf("synced %s after the commit", time.Since(start).Round(time.Millisecond))
	assertAllSyncedOnce(t, pool, m, 1)
}

func TestKilledWorkerLeaseIsReclaimed(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	cfg := fastConfig()
	r := relay.New(pool, m, cfg)
	svc := newIngest(pool, r)
	ingestN(t, svc, 0, 300)
	// A worker claimed a batch and died before writing anything.
	_, err := pool.Exec(context.Background(), `UPDATE outbox_messages SET locked_until = now() + interval '1 second', locked_by = 'dead-worker'
		WHERE id IN (SELECT id FROM outbox_messages ORDER BY id LIMIT 100)`)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 30*time.Second, "all synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 300
	})
	assertAllSyncedOnce(t, pool, m, 300)
}

func TestPoisonEmailFailsWhileOthersSync(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	r := relay.New(pool, m, fastConfig())
	svc := newIngest(pool, r)
	ingestN(t, svc, 0, 20)
	// Poison: a row whose content cannot be turned into a document.
	_, err := svc.Ingest(context.Background(), "test", []ingest.Item{{Key: "poison", Fingerprint: "p", Content: content(999)}})
	require.NoError(t, err)
	_, err = pool.Exec(context.Background(), `UPDATE incoming_emails SET headers = '42' WHERE idempotency_key = 'poison'`)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 30*time.Second, "poison failed and others synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 20 &&
			count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'failed'`) == 1
	})
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL AND error_message <> ''`))
	require.Equal(t, 20, docCount(t, m))
}

func TestTwoRelaysWriteEveryEmailOnce(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	var relays []*relay.Relay
	for i := range 2 {
		cfg := fastConfig()
		cfg.Name = fmt.Sprint("instance-", i)
		cfg.BatchSize = 25
		relays = append(relays, relay.New(pool, m, cfg))
	}
	svc := newIngest(pool, relays[0])
	var wg sync.WaitGroup
	for _, r := range relays {
		require.NoError(t, r.Start(context.Background()))
		defer func() { require.NoError(t, r.Stop(context.Background())) }()
	}
	for w := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); ingestN(t, svc, w*250, 250) }()
	}
	wg.Wait()
	testwait.Until(t, 60*time.Second, "all synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 1000
	})
	assertAllSyncedOnce(t, pool, m, 1000)
	require.Equal(t, 0, count(t, pool, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL`))
}
