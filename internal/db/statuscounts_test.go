package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// requireCountsExact compares the counters the sync status reads with a
// count over the whole table (a tombstone whose document is gone counts as
// erased, not synced).
func requireCountsExact(t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	got, err := db.New(pool).CountEmailsByStatus(ctx)
	require.NoError(t, err)
	want := map[string]int64{"pending": 0, "synced": 0, "failed": 0, "not_applicable": 0, "erased": 0}
	r, err := pool.Query(ctx, `SELECT CASE WHEN sync_status = 'synced' AND erased_at IS NOT NULL THEN 'erased' ELSE sync_status END,
		count(*) FROM incoming_emails GROUP BY 1`)
	require.NoError(t, err)
	for r.Next() {
		var s string
		var n int64
		require.NoError(t, r.Scan(&s, &n))
		want[s] = n
	}
	require.NoError(t, r.Err())
	require.Equal(t, want, got)
	return got
}

func TestEmailStatusCountsFollowEveryChange(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	insert := `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at, idempotency_key)
		SELECT 'c', '<' || g || '@x>', 'a@x', '{b@x}', now(), $1 || g FROM generate_series(1, $2::int) g`
	exec(insert, "a", 100)
	require.Equal(t, int64(100), requireCountsExact(t, pool)["pending"])
	// Relay: synced and failed; re-drive; reconciliation's status repair; a no-op update.
	exec(`UPDATE incoming_emails SET sync_status = 'synced' WHERE id <= 60`)
	exec(`UPDATE incoming_emails SET sync_status = 'failed' WHERE id > 90`)
	exec(`UPDATE incoming_emails SET sync_status = 'pending' WHERE sync_status = 'failed' AND id > 95`)
	exec(`UPDATE incoming_emails SET sync_status = 'not_applicable' WHERE id = 1`)
	exec(`UPDATE incoming_emails SET subject = 'x'`)
	got := requireCountsExact(t, pool)
	require.Equal(t, map[string]int64{"pending": 35, "synced": 59, "failed": 5, "not_applicable": 1, "erased": 0}, got)
	// Erasure: tombstones leave synced once their delete is relayed; a
	// tombstone still pending stays pending.
	exec(`UPDATE incoming_emails SET erased_at = now(), sync_status = 'pending' WHERE id IN (2, 3, 4, 61)`)
	exec(`UPDATE incoming_emails SET sync_status = 'synced' WHERE id IN (2, 3, 4)`)
	got = requireCountsExact(t, pool)
	require.Equal(t, map[string]int64{"pending": 35, "synced": 56, "failed": 5, "not_applicable": 1, "erased": 3}, got)
	// Rolled back changes do not count.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE incoming_emails SET sync_status = 'failed'`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	exec(`DELETE FROM incoming_emails WHERE id > 80`)
	exec(`SELECT email_status_counts_fold()`)
	requireCountsExact(t, pool)
	var rows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM email_status_counts`).Scan(&rows))
	require.Equal(t, 1, rows, "folded into one row")
	exec(`TRUNCATE incoming_emails CASCADE`)
	requireCountsExact(t, pool)
}

func TestEmailStatusCountsUnderConcurrentWritersAndFolds(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 6 {
		wg.Go(func() {
			for i := range 30 {
				_, err := pool.Exec(ctx, `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at, idempotency_key)
					SELECT 'c', '<m@x>', 'a@x', '{b@x}', now(), $1 || g FROM generate_series(1, 5) g`, fmt.Sprintf("w%d-%d-", w, i))
				if err == nil && i%3 == 0 {
					_, err = pool.Exec(ctx, `UPDATE incoming_emails SET sync_status = 'synced'
						WHERE id IN (SELECT id FROM incoming_emails WHERE sync_status = 'pending' ORDER BY id LIMIT 7 FOR UPDATE SKIP LOCKED)`)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 40 {
				if _, err := pool.Exec(ctx, `SELECT email_status_counts_fold()`); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := requireCountsExact(t, pool)
	require.Equal(t, int64(6*30*5), got["pending"]+got["synced"])
}

// TestTruncateLeavesNoCounterPagesBehind: after a burst of writes, TRUNCATE
// incoming_emails gives the counters' pages back, so status reads do not
// keep scanning thousands of empty pages.
func TestTruncateLeavesNoCounterPagesBehind(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO email_status_counts (pending) SELECT 0 FROM generate_series(1, 5000)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `TRUNCATE incoming_emails CASCADE`)
	require.NoError(t, err)
	var pages int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_relation_size('email_status_counts') / 8192`).Scan(&pages))
	require.Zero(t, pages)
	requireCountsExact(t, pool)
}
