package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// TestRawMailMigration applies 000003 over an existing email: the row takes
// the defaults (no envelope, a header Message-ID, complete), the check on
// message_id_source holds, and the migration reverts and reapplies.
func TestRawMailMigration(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyURL(t)
	m, err := db.NewMigrator(url)
	require.NoError(t, err)
	defer m.Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	require.NoError(t, m.Steps(2))
	_, err = conn.Exec(ctx, `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at)
		VALUES ('c', '<a@x>', 'a@x', '{b@x}', now())`)
	require.NoError(t, err)
	require.NoError(t, m.Steps(1))

	var from, source string
	var to []string
	var incomplete bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT envelope_from, envelope_to, message_id_source, incomplete FROM incoming_emails`).
		Scan(&from, &to, &source, &incomplete))
	require.Equal(t, "", from)
	require.Equal(t, []string{}, to)
	require.Equal(t, "header", source)
	require.False(t, incomplete)
	_, err = conn.Exec(ctx, `UPDATE incoming_emails SET message_id_source = 'guessed'`)
	require.ErrorContains(t, err, "incoming_emails_message_id_source_check")
	require.Contains(t, indexes(t, conn), "incoming_emails_incomplete_idx")

	require.NoError(t, m.Steps(-1))
	require.NotContains(t, columns(t, conn, "incoming_emails"), "envelope_from")
	require.NotContains(t, columns(t, conn, "incoming_emails"), "incomplete")
	require.NotContains(t, indexes(t, conn), "incoming_emails_incomplete_idx")
	require.NoError(t, m.Steps(1))
	require.Subset(t, columns(t, conn, "incoming_emails"), []string{"envelope_from", "envelope_to", "message_id_source", "incomplete"})
}
