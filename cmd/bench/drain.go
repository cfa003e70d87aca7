package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"mailsync/internal/db"
	"mailsync/internal/db/gen"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/relay"
)

// seedEmails stores n new emails (and their outbox rows) through ingest.Service
// in transactions of batch emails from two goroutines, with no relay running.
func seedEmails(ctx context.Context, pool *pgxpool.Pool, tag string, n, batch int) error {
	svc := ingest.NewService(pool, &ingest.Config{Render: handlers.RenderEmail})
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
}

// requeue makes the n stored emails a backlog again: an empty outbox gets
// one message per email, as the ingest transaction writes it, and every
// email is pending.
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
		"UPDATE incoming_emails SET sync_status = 'pending', synced_at = NULL",
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
// database, then one unordered InsertMany of the same documents (built by
// mongostore.FromEmail from the same rows) into another fresh database with
// the same indexes. With seed set the backlog is stored anew through
// ingest.Service; otherwise the emails of the previous run are enqueued
// again (one fresh outbox row each, as ingest writes it) to save the time.
func drainOnce(ctx context.Context, pool *pgxpool.Pool, mongoURL, tag string, n int, seed bool, rcfg relay.Config) (drainResult, error) {
	var res drainResult
	if seed {
		if err := reset(ctx, pool); err != nil {
			return res, err
		}
		start := time.Now()
		if err := seedEmails(ctx, pool, tag, n, 500); err != nil {
			return res, fmt.Errorf("seed: %w", err)
		}
		res.seedElapsed = time.Since(start)
	} else if err := requeue(ctx, pool, n); err != nil {
		return res, err
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE outbox_messages, incoming_emails"); err != nil {
		return res, err
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return res, err
	}

	relayStore, err := freshStore(ctx, mongoURL, "bench_relay_"+tag)
	if err != nil {
		return res, err
	}
	defer dropStore(relayStore)
	rel := relay.New(pool, relayStore, &rcfg)
	start := time.Now()
	rel.Start(ctx)
	err = waitDrained(ctx, pool, 5*time.Minute)
	res.relayElapsed = time.Since(start)
	rel.Stop()
	if err != nil {
		return res, err
	}
	var failed int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM outbox_messages WHERE failed_at IS NOT NULL").Scan(&failed); err != nil {
		return res, err
	}
	docs, err := relayStore.Coll().CountDocuments(ctx, bson.D{})
	if err != nil {
		return res, err
	}
	if failed > 0 || docs != int64(n) {
		return res, fmt.Errorf("relay drain: %d documents in MongoDB, %d dead outbox rows, want %d and 0", docs, failed, n)
	}
	res.relayDocsPerSec = float64(n) / res.relayElapsed.Seconds()

	items, err := documents(ctx, pool)
	if err != nil {
		return res, err
	}
	rawStore, err := freshStore(ctx, mongoURL, "bench_raw_"+tag)
	if err != nil {
		return res, err
	}
	defer dropStore(rawStore)
	start = time.Now()
	out, err := rawStore.Coll().InsertMany(ctx, items, options.InsertMany().SetOrdered(false))
	res.rawElapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("raw InsertMany: %w", err)
	}
	if len(out.InsertedIDs) != n {
		return res, fmt.Errorf("raw InsertMany inserted %d of %d", len(out.InsertedIDs), n)
	}
	res.rawDocsPerSec = float64(n) / res.rawElapsed.Seconds()
	return res, nil
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

// documents reads every stored email and builds its MongoDB document.
func documents(ctx context.Context, pool *pgxpool.Pool) ([]any, error) {
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q := gen.New(pool)
	now := time.Now()
	out := make([]any, 0, len(ids))
	for start := 0; start < len(ids); start += 5000 {
		emails, err := q.GetEmailsByIDs(ctx, ids[start:min(start+5000, len(ids))])
		if err != nil {
			return nil, err
		}
		for _, r := range emails {
			e, err := db.EmailFromRow(r)
			if err != nil {
				return nil, err
			}
			out = append(out, mongostore.FromEmail(e, now))
		}
	}
	return out, nil
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
