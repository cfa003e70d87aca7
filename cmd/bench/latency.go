package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// latencyResult is one open-loop run at a steady rate.
type latencyResult struct {
	sent, failed int             // failed: refused even after the client's retries
	rate         float64         // achieved requests/s
	http         []time.Duration // sorted request latencies
	sync         []time.Duration // sorted created_at → synced_at
	maxBacklog   int             // most outbox rows waiting, sampled every 100 ms
	xactPerEmail float64         // PostgreSQL commits+rollbacks in the database per email
}

// latencyOnce posts new emails at a steady rate for d (open loop: each send
// is scheduled at start+i/rate whatever the earlier responses do), waits
// until every stored email is synced, and returns each email's
// synced_at - created_at. Both are PostgreSQL timestamps: created_at is the
// start of the ingest transaction, so the figure is an upper bound of the
// time from the 201 response to synced.
func latencyOnce(ctx context.Context, st *stack, p poster, tag string, rate float64, d time.Duration) (latencyResult, error) {
	var res latencyResult
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	x0, err := xacts(ctx, st.pool)
	if err != nil {
		return res, err
	}
	stopSampler := sampleBacklog(ctx, st.pool, &res.maxBacklog)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		wg.Go(func() {
			t := time.Now()
			id, err := p.single(fmt.Sprintf("%s-%d", tag, i))
			lat := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			res.sent++
			if err != nil {
				res.failed++
				return
			}
			ids = append(ids, id)
			res.http = append(res.http, lat)
		})
	}
	wg.Wait()
	res.rate = float64(res.sent) / time.Since(start).Seconds()
	stopSampler()
	slices.Sort(res.http)
	// Requests still refused after the client's retries (503 + Retry-After:
	// more arrive than the machine can store) are counted, not waited for.
	if err := waitSynced(ctx, st.pool, ids, time.Minute); err != nil {
		return res, err
	}
	if x1, err := xacts(ctx, st.pool); err == nil && len(ids) > 0 {
		res.xactPerEmail = float64(x1-x0) / float64(len(ids))
	}
	rows, err := st.pool.Query(ctx, `SELECT (extract(epoch FROM synced_at - created_at) * 1e6)::bigint
		FROM incoming_emails WHERE id = ANY($1)`, ids)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return res, err
		}
		res.sync = append(res.sync, time.Duration(us)*time.Microsecond)
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	slices.Sort(res.sync)
	return res, nil
}

// waitSynced polls until every email in ids is synced.
func waitSynced(ctx context.Context, pool *pgxpool.Pool, ids []int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var left int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM incoming_emails WHERE id = ANY($1) AND sync_status <> 'synced'", ids).Scan(&left)
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d emails still not synced after %s", left, len(ids), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sampleBacklog records the largest number of outbox rows waiting to be
// relayed, sampled every 100 ms until the returned stop is called.
func sampleBacklog(ctx context.Context, pool *pgxpool.Pool, maxSeen *int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var n int
			if pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages
				WHERE processed_at IS NULL AND failed_at IS NULL`).Scan(&n) == nil {
				*maxSeen = max(*maxSeen, n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// xacts is the number of transactions the database has ended (commits and
// rollbacks), as the cumulative statistics report it after a flush.
func xacts(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	time.Sleep(1100 * time.Millisecond) // backends flush their statistics at most once a second
	var n int64
	err := pool.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database
		WHERE datname = current_database()`).Scan(&n)
	return n, err
}
