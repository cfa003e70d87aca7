package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"mailsync/internal/db"
	"mailsync/internal/email"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/relay"
)

// seedEmails stores n new emails (and their outbox rows) through ingest.Service
// in transactions of batch emails from two goroutines; committed (optional)
// is called after each commit, as serve wakes its relay.
func seedEmails(ctx context.Context, pool *pgxpool.Pool, tag string, n, batch int, committed func()) error {
	cfg := &ingest.Config{Render: handlers.RenderEmail}
	if committed != nil {
		cfg.Committed = func(int) { committed() }
	}
	svc := ingest.NewService(pool, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Go(func() {
			for start := g * batch; start < n; start += 2 * batch {
				items := make([]ingest.Item, 0, batch)
				for i := start; i < min(start+batch, n); i++ {
					k := fmt.Sprintf("%s-%d", tag, i)
					items = append(items, ingest.Item{Key: k, Fingerprint: k, Content: sampleContent("<" + k + "@bench.example.com>")})
				}
				if _, err := svc.Ingest(ctx, "bench", items); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// drainResult is one drain measurement and its baseline.
type drainResult struct {
	relayDocsPerSec float64
	rawDocsPerSec   float64
	relayElapsed    time.Duration
	rawElapsed      time.Duration
	seedElapsed     time.Duration // 0 when the backlog was re-enqueued
	outage          time.Duration // seeded runs: how long MongoDB was down while seeding
	firstSynced     time.Duration // seeded runs: store back → first email synced
	relayCPU        cpuUse
	rawCPU          cpuUse
	overhead        []string // the unmeasured work of the run, by phase
}

// requeue makes the n stored emails a backlog again: an empty outbox gets
// one message per email, as the ingest transaction writes it. (The emails
// stay marked synced; the relay marks them synced again all the same.)
func requeue(ctx context.Context, pool *pgxpool.Pool, n int) error {
	var have int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM incoming_emails").Scan(&have); err != nil {
		return err
	}
	if have != n {
		return fmt.Errorf("requeue: %d emails stored, want %d", have, n)
	}
	for _, sql := range []string{
		"TRUNCATE outbox_messages RESTART IDENTITY",
		`INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, max_retries)
		 SELECT 'email', id, 'upsert', jsonb_build_object('version', version, 'reason', 'ingest'), idempotency_key, 10
		 FROM incoming_emails ORDER BY id`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
	}
	return nil
}

// drainOnce times a relay draining an n-email backlog into a fresh MongoDB
// database, then the raw relay limit (rawInsert: InsertMany with the
// relay's parallelism and batch size, the documents built from the
// PostgreSQL rows inside the timing) into another fresh database with the
// same indexes. With seed set the backlog is built
// by a real outage: stored anew through ingest.Service while the relay runs
// and MongoDB is unreachable (see drainAfterOutage); otherwise the emails of
// the previous run are enqueued again (one fresh outbox row each, as ingest
// writes it) and drained by a relay started on the backlog.
func drainOnce(ctx context.Context, pool *pgxpool.Pool, w *cpuWatch, mongoURL, tag string, n int, seed bool,
	rcfg relay.Config) (res drainResult, err error) {
	phase := time.Now()
	lap := func(name string) {
		res.overhead = append(res.overhead, fmt.Sprintf("%s %.1fs", name, time.Since(phase).Seconds()))
		phase = time.Now()
	}
	if seed {
		if err := reset(ctx, pool); err != nil {
			return res, err
		}
		if err := drainAfterOutage(ctx, pool, w, mongoURL, tag, n, rcfg, &res); err != nil {
			return res, err
		}
		lap("verify")
	} else {
		if err := requeue(ctx, pool, n); err != nil {
			return res, err
		}
		if err := drainBacklog(ctx, pool, w, mongoURL, tag, n, rcfg, &res, lap); err != nil {
			return res, err
		}
	}
	ids, err := emailIDs(ctx, pool)
	if err != nil {
		return res, err
	}
	rawStore, err := freshStore(ctx, mongoURL, "bench_raw_"+tag)
	if err != nil {
		return res, err
	}
	defer dropStore(rawStore)
	lap("prepare raw")
	stop := w.start(ctx)
	start := time.Now()
	inserted, err := rawInsert(ctx, pool, rawStore, ids, rcfg.Workers, rcfg.BatchSize)
	res.rawElapsed = time.Since(start)
	res.rawCPU = stop()
	if err != nil {
		return res, fmt.Errorf("raw InsertMany: %w", err)
	}
	if inserted != n {
		return res, fmt.Errorf("raw InsertMany inserted %d of %d", inserted, n)
	}
	res.rawDocsPerSec = float64(n) / res.rawElapsed.Seconds()
	phase = time.Now()
	dropStore(rawStore)
	lap("cleanup")
	return res, nil
}

// drainBacklog times a relay draining the outbox into a fresh database.
func drainBacklog(ctx context.Context, pool *pgxpool.Pool, w *cpuWatch, mongoURL, tag string, n int,
	rcfg relay.Config, res *drainResult, lap func(string)) error {
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE outbox_messages, incoming_emails"); err != nil {
		return err
	}
	relayStore, err := freshStore(ctx, mongoURL, "bench_relay_"+tag)
	if err != nil {
		return err
	}
	defer dropStore(relayStore)
	lap("prepare")
	rel := relay.New(pool, relayStore, &rcfg)
	stop := w.start(ctx)
	start := time.Now()
	if err := rel.Start(ctx); err != nil {
		return err
	}
	err = waitDrained(ctx, pool, 5*time.Minute)
	res.relayElapsed = time.Since(start)
	res.relayCPU = stop()
	stopRelay(rel)
	if err != nil {
		return err
	}
	if err := verifyDrain(ctx, pool, relayStore, n); err != nil {
		return err
	}
	res.relayDocsPerSec = float64(n) / res.relayElapsed.Seconds()
	lap("verify")
	return nil
}

// waitDrained polls until no outbox row is left to relay.
func waitDrained(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var left bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox_messages
			WHERE processed_at IS NULL AND failed_at IS NULL)`).Scan(&left)
		if err != nil {
			return fmt.Errorf("waiting for the outbox to drain: %w", err)
		}
		if !left {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the outbox did not drain within %s", timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// emailIDs lists the stored emails' ids.
func emailIDs(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	var ids []int64
	rows, err := pool.Query(ctx, "SELECT id FROM incoming_emails ORDER BY id")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// rawInsert is the raw relay limit: workers goroutines (the relay's
// parallelism) each take batch ids at a time (the relay's batch size), read
// those emails from PostgreSQL, build their documents as the relay does
// (mongostore.FromEmail) and insert them with one unordered InsertMany. It
// returns the documents inserted.
func rawInsert(ctx context.Context, pool *pgxpool.Pool, s *mongostore.Store, ids []int64, workers, batch int) (int, error) {
	chunks := make(chan []int64)
	go func() {
		defer close(chunks)
		for start := 0; start < len(ids); start += batch {
			select {
			case chunks <- ids[start:min(start+batch, len(ids))]:
			case <-ctx.Done():
				return
			}
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := db.New(pool)
	var mu sync.Mutex
	total := 0
	var firstErr error
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for chunk := range chunks {
				emails, err := q.GetEmails(ctx, chunk)
				if err == nil {
					now := time.Now()
					docs := make([]any, len(emails))
					for i, e := range emails {
						docs[i] = mongostore.FromEmail(e, now)
					}
					var out *mongo.InsertManyResult
					if out, err = s.Coll().InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err == nil {
						mu.Lock()
						total += len(out.InsertedIDs)
						mu.Unlock()
						continue
					}
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
				for range chunks { // let the feeder finish
				}
				return
			}
		})
	}
	wg.Wait()
	return total, firstErr
}

// freshStore connects to an empty database name with the service's indexes.
func freshStore(ctx context.Context, url, name string) (*mongostore.Store, error) {
	s, err := mongostore.Connect(ctx, url, name, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := s.Coll().Database().Drop(ctx); err != nil {
		return nil, err
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		return nil, fmt.Errorf("MongoDB indexes: %w", err)
	}
	return s, nil
}

func dropStore(s *mongostore.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.Coll().Database().Drop(ctx)
	_ = s.Close(ctx)
}

// fitDrain returns the backlog size to drain: -drain-n, or less when the
// runs would not end before the deadline (less the time kept for the
// sections after). It estimates with a probe: one InsertMany of up to 2,000
// sample documents; seeding, the relay and the baseline each move documents
// at roughly that rate. note explains a reduction.
func fitDrain(ctx context.Context, o benchOptions) (n int, note string, err error) {
	if o.deadline.IsZero() {
		return o.drainN, "", nil
	}
	probe := min(o.drainN, 2000)
	docs := make([]any, probe)
	now := time.Now()
	for i := range docs {
		c := sampleContent(fmt.Sprintf("<probe-%d@bench.example.com>", i))
		docs[i] = mongostore.FromEmail(email.Stored{Content: c, ID: int64(i + 1), Version: 1, ContentHash: c.Hash()}, now)
	}
	s, err := freshStore(ctx, o.mongoURL, fmt.Sprintf("bench_probe_%d", os.Getpid()))
	if err != nil {
		return 0, "", err
	}
	defer dropStore(s)
	start := time.Now()
	if _, err := s.Coll().InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		return 0, "", fmt.Errorf("probe InsertMany: %w", err)
	}
	perDoc := time.Since(start) / time.Duration(probe)
	left := time.Until(o.deadline) - o.reserve - 20*time.Second
	passes := time.Duration(1 + 2*o.runs) // seed once, then relay and baseline per run
	if o.drainReseed {
		passes = time.Duration(3 * o.runs)
	}
	fit := int(float64(left) * 0.85 / float64(perDoc*passes))
	if fit >= o.drainN {
		return o.drainN, "", nil
	}
	fit = max(fit/1000*1000, 1000)
	return fit, fmt.Sprintf(" (cut from %d to fit -budget %s: the probe inserted %.0f docs/s)", o.drainN, o.budget,
		float64(time.Second)/float64(perDoc)), nil
}

// verifyDrain checks that the relay did its job: every email synced, no
// dead outbox row, and a sample of 20 emails present in MongoDB (counting
// or $in-matching every document is slow on FerretDB, which reads them all).
func verifyDrain(ctx context.Context, pool *pgxpool.Pool, s *mongostore.Store, n int) error {
	var synced, dead int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'),
		(SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL)`).Scan(&synced, &dead); err != nil {
		return err
	}
	var sample []int64
	rows, err := pool.Query(ctx, "SELECT id FROM incoming_emails ORDER BY random() LIMIT 20")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		sample = append(sample, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	found := 0
	for _, id := range sample {
		err := s.Coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
		switch {
		case err == nil:
			found++
		case !errors.Is(err, mongo.ErrNoDocuments):
			return err
		}
	}
	if synced != n || dead != 0 || found != len(sample) {
		return fmt.Errorf("relay drain: %d of %d emails synced, %d dead outbox rows, %d of %d sampled documents in MongoDB",
			synced, n, dead, found, len(sample))
	}
	return nil
}
