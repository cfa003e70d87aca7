package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/maintenance"
)

type counter map[string]int64

func (c counter) Deleted(table string, n int64) { c[table] += n }

func TestRetentionDeletesExactlyWhatExpired(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	now := time.Now()
	_, err := pool.Exec(ctx, `
		INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, created_at, processed_at, failed_at) VALUES
		  ('email', 1, 'upsert', now() - interval '10 days', now() - interval '10 days', NULL), -- expired: goes
		  ('email', 2, 'upsert', now() - interval '9 days',  now() - interval '9 days',  NULL), -- expired: goes
		  ('email', 3, 'upsert', now() - interval '8 days',  now() - interval '8 days',  NULL), -- expired: goes
		  ('email', 4, 'upsert', now() - interval '1 day',   now() - interval '1 day',   NULL), -- recent: stays
		  ('email', 5, 'upsert', now() - interval '10 days', NULL, NULL),                       -- unprocessed: stays
		  ('email', 6, 'upsert', now() - interval '10 days', NULL, now() - interval '10 days'); -- dead letter: stays
		INSERT INTO idempotency_keys (client_id, key, request_fingerprint, status, expires_at) VALUES
		  ('c', 'old-1', 'f', 'completed', now() - interval '1 hour'),
		  ('c', 'old-2', 'f', 'completed', now() - interval '1 minute'),
		  ('c', 'live', 'f', 'completed', now() + interval '1 hour');
		INSERT INTO reconciliation_reports (run_at, trigger, status) VALUES
		  (now() - interval '100 days', 'scheduled', 'completed'),
		  (now() - interval '100 days', 'scheduled', 'running'),
		  (now() - interval '1 day', 'manual', 'completed');`)
	require.NoError(t, err)

	deleted := counter{}
	c := maintenance.New(pool, &maintenance.Config{BatchSize: 2, Metrics: deleted, Now: func() time.Time { return now }})
	res, err := c.RunOnce(ctx)
	require.NoError(t, err)
	want := maintenance.Result{"outbox_messages": 3, "idempotency_keys": 2, "reconciliation_reports": 1}
	require.Equal(t, want, res)
	require.Equal(t, counter{"outbox_messages": 3, "idempotency_keys": 2, "reconciliation_reports": 1}, deleted)

	ids := func(sql string) []int64 {
		rows, err := pool.Query(ctx, sql)
		require.NoError(t, err)
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var id int64
			require.NoError(t, rows.Scan(&id))
			out = append(out, id)
		}
		return out
	}
	require.Equal(t, []int64{4, 5, 6}, ids(`SELECT aggregate_id FROM outbox_messages ORDER BY aggregate_id`))
	var keys []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(key) FROM idempotency_keys`).Scan(&keys))
	require.Equal(t, []string{"live"}, keys)
	require.Len(t, ids(`SELECT id FROM reconciliation_reports`), 2)

	again, err := c.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, maintenance.Result{"outbox_messages": 0, "idempotency_keys": 0, "reconciliation_reports": 0}, again)
}
