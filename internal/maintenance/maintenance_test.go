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

func TestEmailRetentionErasesOldEmailsAndKeepsAudit(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, subject, received_at, idempotency_key) VALUES
		  ('c', '<old-1@x>', 'alice@example.com', '{b@x}', 'old', now() - interval '40 days', 'k-old-1'),
		  ('c', '<old-2@x>', 'alice@example.com', '{b@x}', 'old', now() - interval '31 days', 'k-old-2'),
		  ('c', '<new@x>',   'alice@example.com', '{b@x}', 'new', now() - interval '29 days', 'k-new');
		INSERT INTO audit_events (client_id, action, target, at) VALUES ('ops', 'email.patch', 'email:1', now() - interval '400 days');`)
	require.NoError(t, err)
	count := func(sql string) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}

	off := maintenance.New(pool, &maintenance.Config{})
	res, err := off.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, res["incoming_emails"], "off by default")

	woken := 0
	c := maintenance.New(pool, &maintenance.Config{EmailRetention: 30 * 24 * time.Hour, BatchSize: 1, Wake: func() { woken++ }})
	res, err = c.RunOnce(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, res["incoming_emails"])
	require.Positive(t, woken)
	require.Equal(t, 2, count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NOT NULL AND erased_by = 'retention'
		AND from_address = '' AND subject = '' AND message_id = '' AND idempotency_key LIKE 'k-old-%'`))
	require.Equal(t, 1, count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NULL AND subject = 'new'`))
	require.Equal(t, 2, count(`SELECT count(*) FROM outbox_messages WHERE operation = 'delete'`))
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_events WHERE action = 'retention.erase'`))
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_events WHERE action = 'email.patch'`), "audit rows outlive retention")

	res, err = c.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, res["incoming_emails"], "tombstones are not erased again")
}
