package reconcile_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
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
	"mailsync/internal/reconcile"
	"mailsync/internal/relay"
)

// env is one test's stores, relay and ingest path.
type env struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	url    string // the test database
	mongo  *mongostore.Store
	relay  *relay.Relay
	ingest *ingest.Service
	next   int // the next email number to ingest
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool, url := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	r := relay.New(pool, m, &relay.Config{BatchSize: 500, MaxRetries: 3, Lease: 30 * time.Second})
	svc := ingest.NewService(pool, &ingest.Config{MaxRetries: 3,
		Render: func(e email.Stored) ([]byte, error) { return []byte(fmt.Sprint(e.ID)), nil }})
	return &env{t: t, ctx: context.Background(), pool: pool, url: url, mongo: m, relay: r, ingest: svc}
}

// reconciler returns a Reconciler on e's stores with small ranges, so that
// 2,000 emails span many ranges and clean ranges are really skipped.
func (e *env) reconciler(cfg reconcile.Config) *reconcile.Reconciler {
	if cfg.RangeSize == 0 {
		cfg.RangeSize = 100
	}
	r := reconcile.New(e.pool, e.mongo, &cfg)
	e.t.Cleanup(func() { require.NoError(e.t, r.Stop(context.Background())) })
	return r
}

func content(i int) email.Content {
	c := email.Content{MessageID: fmt.Sprintf("<%d@reconcile.test>", i), Mailbox: "support", From: "a@example.com",
		To: []string{"b@example.com"}, Subject: fmt.Sprintf("mail %d", i), TextBody: "hello",
		Headers:    map[string][]string{"X-Test": {fmt.Sprint(i)}},
		ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	c.Normalize()
	return c
}

// ingestN stores n emails through the real ingest path, in batches of 100.
func (e *env) ingestN(n int) {
	e.t.Helper()
	for done := 0; done < n; {
		var items []ingest.Item
		for ; done < n && len(items) < 100; done++ {
			items = append(items, ingest.Item{Key: fmt.Sprint("k", e.next), Fingerprint: fmt.Sprint(e.next), Content: content(e.next)})
			e.next++
		}
		_, err := e.ingest.Ingest(e.ctx, "test", items)
		require.NoError(e.t, err)
	}
}

// drain runs relay passes until nothing is left to claim. A pass that
// overran its lease on a loaded machine gave its rows back, as the relay's
// workers would: the next pass claims them again.
func (e *env) drain() {
	e.t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		n, err := e.relay.RunOnce(e.ctx, "test")
		if err == nil && n == 0 {
			return
		}
		require.True(e.t, time.Now().Before(deadline), "relay drain timed out (last error: %v)", err)
	}
}

func (e *env) ids(sql string, args ...any) []int64 {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, sql, args...)
	require.NoError(e.t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(e.t, err)
	return ids
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(e.ctx, sql, args...).Scan(&n))
	return n
}

// snapshot is the state of both stores that a dry run must not change.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	rows, err := e.pool.Query(e.ctx, `SELECT id, version, content_hash, sync_status, coalesce(sync_error, ''),
		coalesce(synced_at::text, ''), updated_at::text FROM incoming_emails ORDER BY id`)
	require.NoError(e.t, err)
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(e.t, err)
		fmt.Fprintln(&b, vals...)
	}
	require.NoError(e.t, rows.Err())
	fmt.Fprintln(&b, "outbox", e.count(`SELECT count(*) FROM outbox_messages`),
		e.count(`SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL`))
	cur, err := e.mongo.Coll().Find(e.ctx, bson.D{})
	require.NoError(e.t, err)
	var docs []string
	for cur.Next(e.ctx) {
		docs = append(docs, cur.Current.String())
	}
	require.NoError(e.t, cur.Err())
	sort.Strings(docs)
	fmt.Fprintln(&b, strings.Join(docs, "\n"))
	return b.String()
}

// orphanDoc is a well-formed document of an email PostgreSQL never had.
func orphanDoc(id int64) mongostore.Document {
	c := content(int(id))
	return mongostore.FromEmail(email.Stored{Content: c, ID: id, Version: 1, ContentHash: c.Hash()}, time.Now())
}

func idFilter(ids []int64) bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
}

// pick returns n ids of all, evenly spread, starting at offset.
func pick(all []int64, n, offset int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = all[(offset+i*len(all)/n)%len(all)]
	}
	return out
}
