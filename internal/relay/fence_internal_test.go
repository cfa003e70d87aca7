package relay

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
)

func scalar(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// TestLateWorkerCannotTouchAnotherWorkersRows claims a batch as worker A,
// lets A's lease pass to worker B (as when A stalled past its lease and B
// reclaimed the rows), then has A complete, fail and release the batch:
// none of it may change B's rows or their emails. B, the owner, can.
func TestLateWorkerCannotTouchAnotherWorkersRows(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	ctx := context.Background()
	svc := ingest.NewService(pool, &ingest.Config{Render: func(e email.Stored) ([]byte, error) { return []byte("{}"), nil }, MaxRetries: 3})
	var items []ingest.Item
	for i := range 3 {
		c := email.Content{MessageID: fmt.Sprintf("<%d@fence.test>", i), From: "a@example.com", To: []string{"b@example.com"},
			Subject: "s", TextBody: "t", ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		c.Normalize()
		items = append(items, ingest.Item{Key: fmt.Sprint("k", i), Fingerprint: fmt.Sprint(i), Content: c})
	}
	_, err := svc.Ingest(ctx, "test", items)
	require.NoError(t, err)

	r := New(pool, m, &Config{Lease: time.Minute})
	rows, err := r.q.ClaimOutbox(ctx, "A", time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	takeOver := func(worker string) {
		_, err := pool.Exec(ctx, `UPDATE outbox_messages SET locked_by = $1, locked_until = now() + interval '1 minute'`, worker)
		require.NoError(t, err)
	}
	takeOver("B")

	late := &batch{r: r, worker: "A", parent: ctx, ctx: ctx, writeBy: time.Now().Add(time.Minute), rows: map[int64][]db.OutboxMessage{}, aggregateOf: map[int64]int64{}}
	var ids []int64
	for _, m := range rows {
		late.rows[m.AggregateID] = append(late.rows[m.AggregateID], m)
		late.aggregateOf[m.ID] = m.AggregateID
		ids = append(ids, m.AggregateID)
	}
	c := chunk{ids: ids}
	refused := mongostore.WriteResult{Refused: map[int64]error{ids[0]: errors.New("refused")}, Deferred: ids[1:2]}
	require.NoError(t, late.complete(c, mongostore.WriteResult{}, nil))
	require.NoError(t, late.complete(c, refused, nil))
	require.NoError(t, late.failAll(c, errors.New("boom")))
	require.NoError(t, late.release([]chunk{c}, "store unreachable"))

	require.Equal(t, 3, scalar(t, pool, `SELECT count(*) FROM outbox_messages
		WHERE locked_by = 'B' AND locked_until > now() AND processed_at IS NULL AND failed_at IS NULL
		  AND retry_count = 0 AND error_message IS NULL`), "B's rows and leases untouched")
	require.Equal(t, 3, scalar(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'pending' AND sync_retry_count = 0`))

	// A lease that merely expired (nobody took it over) is not A's either.
	takeOver("A")
	_, err = pool.Exec(ctx, `UPDATE outbox_messages SET locked_until = now() - interval '1 second'`)
	require.NoError(t, err)
	require.NoError(t, late.complete(c, mongostore.WriteResult{}, nil))
	require.Equal(t, 0, scalar(t, pool, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NOT NULL`))

	// The owner completes.
	takeOver("A")
	require.NoError(t, late.complete(c, mongostore.WriteResult{}, nil))
	require.Equal(t, 3, scalar(t, pool, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NOT NULL AND locked_by IS NULL`))
	require.Equal(t, 3, scalar(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`))
}
