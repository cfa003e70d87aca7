package erasure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// acked is an email whose ingest was answered.
type acked struct {
	id    int64
	item  ingest.Item
	at    time.Time
	alice bool
}

// marker is the unique token in the content of the email stored under key.
func marker(key string) string { return "zq" + key + "qz" }

var markerRE = regexp.MustCompile(`zq[a-z0-9-]+qz`)

// TestErasureHoldsUnderConcurrentWrites runs erasure jobs and single
// erasures against concurrent ingest, PATCHes, retries of requests whose
// idempotency record expired, and relay workers killed at random. Once the
// load stops and everything settles: every email of hers acknowledged
// before a job was requested is erased, and no erased email's content is
// left anywhere in PostgreSQL (emails, idempotency records, outbox
// payloads, audit details: every table) or MongoDB.
func TestErasureHoldsUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	ctx := context.Background()
	q := db.New(pool)

	var relayMu sync.Mutex
	var cur *relay.Relay
	startRelay := func() {
		r := relay.New(pool, m, &relay.Config{Workers: 2, BatchSize: 20, Lease: time.Second, PollInterval: 50 * time.Millisecond,
			BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, MaxRetries: 50})
		require.NoError(t, r.Start(ctx))
		relayMu.Lock()
		cur = r
		relayMu.Unlock()
	}
	wake := func() {
		relayMu.Lock()
		defer relayMu.Unlock()
		if cur != nil {
			cur.Notify()
		}
	}
	kill := func() { // cut off: work in flight is abandoned, its leases expire
		relayMu.Lock()
		r := cur
		cur = nil
		relayMu.Unlock()
		if r != nil {
			dead, cancel := context.WithCancel(ctx)
			cancel()
			_ = r.Stop(dead)
		}
	}
	startRelay()

	render := func(e email.Stored) ([]byte, error) { return json.Marshal(e) } // a response holds the content
	svc := ingest.NewService(pool, &ingest.Config{Render: render, MaxRetries: 50, Committed: func(int) { wake() }})
	eraser := erasure.New(pool, &erasure.Config{Worker: "e", BatchSize: 7, PollInterval: 20 * time.Millisecond,
		MaxRetries: 50, Wake: wake})
	require.NoError(t, eraser.Start(ctx))

	var mu sync.Mutex
	var acks []acked
	type jobAt struct {
		id int64
		at time.Time
	}
	var jobs []jobAt
	pick := func(r *rand.Rand) (acked, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(acks) == 0 {
			return acked{}, false
		}
		return acks[r.IntN(len(acks))], true
	}
	forms := []string{"alice@ex.com", "Alice <ALICE@ex.com>", "alice@ex.com (Alice)", "< alice@ex.com >", `"alice"@ex.com`}
	var seq atomic.Int64
	newItem := func(r *rand.Rand) (ingest.Item, bool) {
		n := seq.Add(1)
		key := fmt.Sprintf("c-%d", n)
		from, alice := fmt.Sprintf("bob%d@example.net", n), r.IntN(2) == 0
		if alice {
			from = forms[r.IntN(len(forms))]
		}
		c := email.Content{MessageID: fmt.Sprintf("<%d@conc.test>", n), Mailbox: "in", From: from,
			To: []string{"support@example.org"}, Subject: "subject " + marker(key), TextBody: "body " + marker(key),
			ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		c.Normalize()
		return ingest.Item{Key: key, Fingerprint: "fp-" + key, Content: c}, alice
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(seed uint64, every time.Duration, f func(r *rand.Rand)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, seed))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(r.Int64N(int64(every)))):
				}
				f(r)
			}
		}()
	}
	for i := range 3 { // ingest
		loop(uint64(i+1), 20*time.Millisecond, func(r *rand.Rand) {
			it, alice := newItem(r)
			res, err := svc.IngestOne(ctx, "test", it)
			if err == nil && res.Err == nil && res.ID > 0 {
				mu.Lock()
				acks = append(acks, acked{id: res.ID, item: it, at: time.Now(), alice: alice})
				mu.Unlock()
			}
		})
	}
	loop(10, 30*time.Millisecond, func(r *rand.Rand) { // PATCH
		a, ok := pick(r)
		if !ok {
			return
		}
		if e, err := q.GetEmail(ctx, a.id); err == nil && !e.Erased() {
			mb := fmt.Sprintf("box-%d", r.IntN(5))
			_, _ = svc.Patch(ctx, a.id, e.Version, ingest.Patch{Mailbox: &mb}, audit.Actor{ClientID: "test"})
		}
	})
	loop(11, 30*time.Millisecond, func(r *rand.Rand) { // a retry after the key's record expired
		a, ok := pick(r)
		if !ok {
			return
		}
		_, _ = pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE client_id = 'test' AND key = $1`, a.item.Key)
		_, _ = svc.IngestOne(ctx, "test", a.item)
	})
	loop(12, 60*time.Millisecond, func(r *rand.Rand) { // single erasures
		if a, ok := pick(r); ok {
			_, _ = eraser.Erase(ctx, a.id, "single erasure", audit.Actor{ClientID: "ops"})
		}
	})
	loop(13, 300*time.Millisecond, func(r *rand.Rand) { // relay workers killed at random
		kill()
		startRelay()
	})
	addr := "alice@ex.com"
	loop(14, 1500*time.Millisecond, func(r *rand.Rand) { // erasure jobs
		at := time.Now()
		job, _, err := eraser.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr},
			Reason: "request " + addr, Key: fmt.Sprint("job-", at.UnixNano()), Fingerprint: "f", TTL: time.Hour},
			audit.Actor{ClientID: "ops"})
		require.NoError(t, err)
		mu.Lock()
		jobs = append(jobs, jobAt{id: job.ID, at: at})
		mu.Unlock()
	})

	// The load runs until three erasure jobs have started among it (about
	// 5 s); what follows waits on conditions.
	testwait.Until(t, 2*time.Minute, "three erasure jobs started under load", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(jobs) >= 3
	})
	close(stop)
	wg.Wait()
	require.NotEmpty(t, jobs)
	testwait.Until(t, 2*time.Minute, "every erasure job ended", func() bool {
		for _, j := range jobs {
			got, err := eraser.Job(ctx, j.id)
			require.NoError(t, err)
			require.NotEqual(t, erasure.StatusFailed, got.Status, "job %d: %v", j.id, got.ErrorMessage)
			if got.Status != erasure.StatusCompleted {
				return false
			}
		}
		return true
	})
	require.NoError(t, eraser.Stop(ctx))
	kill()
	startRelay()
	testwait.Until(t, 2*time.Minute, "the relay drained the outbox", func() bool {
		var open int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL AND failed_at IS NULL`).Scan(&open))
		return open == 0
	})
	kill()
	var dead int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL`).Scan(&dead))
	require.Zero(t, dead)

	// Every email of hers acknowledged before a job was requested is erased.
	erasedIDs := map[int64]bool{}
	for _, id := range dbtest.Column[int64](t, pool, `SELECT id FROM incoming_emails WHERE erased_at IS NOT NULL`) {
		erasedIDs[id] = true
	}
	lastJob := jobs[len(jobs)-1].at
	erasedMarkers := map[string]bool{}
	for _, a := range acks {
		if a.alice && a.at.Before(lastJob) {
			require.True(t, erasedIDs[a.id], "email %d of hers, acknowledged before a job was requested, is not erased", a.id)
		}
		if erasedIDs[a.id] {
			erasedMarkers[marker(a.item.Key)] = true
		}
	}
	require.NotEmpty(t, erasedMarkers)
	t.Logf("%d emails acknowledged, %d erased, %d jobs", len(acks), len(erasedIDs), len(jobs))

	// No erased content anywhere in PostgreSQL.
	for table, texts := range pgTexts(t, pool) {
		for _, s := range texts {
			for _, mk := range markerRE.FindAllString(s, -1) {
				require.False(t, erasedMarkers[mk], "table %s holds %s of an erased email: %.300s", table, mk, s)
			}
			if table == "audit_events" || table == "erasure_jobs" {
				require.NotContains(t, s, "alice@ex.com", "table %s holds her address", table)
			}
		}
	}
	// Nor in MongoDB: an erased email's document is a tombstone (or absent).
	docs, err := m.Coll().Find(ctx, bson.D{})
	require.NoError(t, err)
	for docs.Next(ctx) {
		id, _ := docs.Current.Lookup("_id").AsInt64OK()
		if erasedIDs[id] {
			require.True(t, mongostore.IsTombstone(docs.Current), "document %d of an erased email holds content", id)
		}
		js, err := bson.MarshalExtJSON(docs.Current, false, false)
		require.NoError(t, err)
		for _, mk := range markerRE.FindAllString(string(js), -1) {
			require.False(t, erasedMarkers[mk], "document %d holds %s of an erased email", id, mk)
		}
	}
	require.NoError(t, docs.Err())
}

// pgTexts returns every row of every table of the public schema as text,
// by table.
func pgTexts(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range dbtest.Column[string](t, pool, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`) {
		out[table] = dbtest.Column[string](t, pool, fmt.Sprintf(`SELECT x::text FROM %q AS x`, table))
	}
	return out
}
