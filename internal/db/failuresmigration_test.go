package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFailuresMigrationBackfillsTheFailureTime applies 000018 over failed
// emails: each gets the time its last outbox message died (updated_at when
// it has none), updated_at is left alone, and emails that are not failed
// get none; the migration reverts and reapplies.
func TestFailuresMigrationBackfillsTheFailureTime(t *testing.T) {
	t.Parallel()
	m, conn := emptyDatabase(t)
	ctx := context.Background()
	require.NoError(t, m.Up())
	for v, _, _ := m.Version(); v >= 18; v, _, _ = m.Version() {
		require.NoError(t, m.Steps(-1))
	}
	require.NotContains(t, columns(t, conn, "incoming_emails"), "sync_failed_at")

	var dead, gone, synced int64
	insert := `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at, sync_status)
		VALUES ('c', $1, 'a@x', '{b@x}', now(), $2) RETURNING id`
	require.NoError(t, conn.QueryRow(ctx, insert, "<dead@x>", "failed").Scan(&dead))
	require.NoError(t, conn.QueryRow(ctx, insert, "<gone@x>", "failed").Scan(&gone))
	require.NoError(t, conn.QueryRow(ctx, insert, "<synced@x>", "synced").Scan(&synced))
	first, last := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	_, err := conn.Exec(ctx, `INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, failed_at)
		VALUES ('email', $1, 'upsert', $2), ('email', $1, 'upsert', $3), ('email', $4, 'upsert', $2)`, dead, last, first, synced)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE incoming_emails SET updated_at = '2026-10-01T00:00:00Z'`)
	require.NoError(t, err) // the row trigger keeps now(): set it apart from the migration's time below
	var updated time.Time
	require.NoError(t, conn.QueryRow(ctx, `SELECT updated_at FROM incoming_emails WHERE id = $1`, gone).Scan(&updated))

	require.NoError(t, m.Up())
	at := func(id int64) (*time.Time, time.Time) {
		var failedAt *time.Time
		var updatedAt time.Time
		require.NoError(t, conn.QueryRow(ctx, `SELECT sync_failed_at, updated_at FROM incoming_emails WHERE id = $1`, id).
			Scan(&failedAt, &updatedAt))
		return failedAt, updatedAt
	}
	failedAt, updatedAt := at(dead)
	require.NotNil(t, failedAt)
	require.True(t, failedAt.Equal(last), "the last dead message: %s", failedAt)
	require.True(t, updatedAt.Equal(updated), "updated_at kept: %s", updatedAt)
	failedAt, updatedAt = at(gone)
	require.NotNil(t, failedAt)
	require.True(t, failedAt.Equal(updated), "no outbox message: updated_at, %s", failedAt)
	require.True(t, updatedAt.Equal(updated))
	failedAt, _ = at(synced)
	require.Nil(t, failedAt, "not failed: no failure time")

	require.Contains(t, indexes(t, conn), "incoming_emails_failed_at_idx")
	require.NoError(t, m.Steps(-1))
	require.NotContains(t, columns(t, conn, "incoming_emails"), "sync_failed_at")
	require.NotContains(t, indexes(t, conn), "incoming_emails_failed_client_idx")
	require.NoError(t, m.Up())
}
