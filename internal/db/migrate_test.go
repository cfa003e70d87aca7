package db_test

import (
	"context"
	"io/fs"
	"strconv"
	stdstrings "strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/migrations"
)

// emptyDatabase returns a migrator and a connection on a fresh database
// with no migration applied; both are closed when t ends.
func emptyDatabase(t *testing.T) (*db.Migrator, *pgx.Conn) {
	t.Helper()
	url := dbtest.EmptyURL(t)
	m, err := db.NewMigrator(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return m, conn
}

// TestMigrationsUpDownUp applies every migration, reverts them one by one
// down to an empty database and applies them again, checking the schema the
// code relies on at the top and what is left after the first migration.
func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	m, conn := emptyDatabase(t)

	require.NoError(t, m.Up())
	assertSchema(t, conn)
	v, dirty, err := m.Version()
	require.NoError(t, err)
	require.False(t, dirty)
	require.EqualValues(t, latestMigration(t), v)

	for ; v > 2; v, _, _ = m.Version() { // down to the saga schema, one by one
		require.NoError(t, m.Steps(-1))
	}
	require.NoError(t, m.Steps(-1))
	require.Equal(t, []string{"incoming_emails"}, tables(t, conn))
	require.NotContains(t, columns(t, conn, "incoming_emails"), "sync_status")

	require.NoError(t, m.Down())
	require.Empty(t, tables(t, conn))

	require.NoError(t, m.Up())
	assertSchema(t, conn)
}

// latestMigration is the highest migration number in migrations/.
func latestMigration(t *testing.T) uint64 {
	entries, err := fs.ReadDir(migrations.FS, ".")
	require.NoError(t, err)
	var latest uint64
	for _, e := range entries {
		if n, err := strconv.ParseUint(stdstrings.SplitN(e.Name(), "_", 2)[0], 10, 64); err == nil && n > latest {
			latest = n
		}
	}
	return latest
}

// TestSagaMigrationEnqueuesExistingEmails applies 000002 over existing
// emails: each becomes pending with a message in the outbox.
func TestSagaMigrationEnqueuesExistingEmails(t *testing.T) {
	t.Parallel()
	m, conn := emptyDatabase(t)
	ctx := context.Background()

	require.NoError(t, m.Steps(1))
	_, err := conn.Exec(ctx, `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at)
		VALUES ('c', '<a@x>', 'a@x', '{b@x}', now()), ('c', '<b@x>', 'a@x', '{b@x}', now())`)
	require.NoError(t, err)
	require.NoError(t, m.Up())

	var pending, queued int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'pending'`).Scan(&pending))
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL`).Scan(&queued))
	require.Equal(t, 2, pending)
	require.Equal(t, 2, queued)
}

// TestRawMailMigration applies 000003 over an existing email: the row takes
// the defaults (no envelope, a header Message-ID, complete), the check on
// message_id_source holds, and the migration reverts and reapplies.
func TestRawMailMigration(t *testing.T) {
	t.Parallel()
	m, conn := emptyDatabase(t)
	ctx := context.Background()

	require.NoError(t, m.Steps(2))
	_, err := conn.Exec(ctx, `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at)
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

func assertSchema(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	require.Subset(t, tables(t, conn), []string{"audit_events", "email_status_counts", "erasure_jobs", "idempotency_keys", "incoming_emails", "outbox_messages", "reconciliation_reports"})
	require.Subset(t, columns(t, conn, "incoming_emails"), []string{"labels", "erased_at", "erased_by", "erase_reason"})
	require.Subset(t, columns(t, conn, "incoming_emails"), []string{
		"id", "client_id", "message_id", "mailbox", "from_address", "to_addresses", "cc_addresses", "subject",
		"text_body", "html_body", "headers", "attachments", "raw_size_bytes", "received_at", "created_at",
		"updated_at", "version", "content_hash", "sync_status", "sync_error", "sync_retry_count", "synced_at",
		"idempotency_key"})
	require.Subset(t, columns(t, conn, "outbox_messages"), []string{
		"id", "aggregate_type", "aggregate_id", "operation", "payload", "idempotency_key", "created_at",
		"processed_at", "retry_count", "max_retries", "error_message", "next_attempt_at", "locked_until",
		"locked_by", "failed_at"})
	require.Subset(t, columns(t, conn, "idempotency_keys"), []string{
		"id", "client_id", "key", "request_fingerprint", "status", "response_status",
		"resource_id", "created_at", "expires_at"})
	require.Subset(t, columns(t, conn, "reconciliation_reports"), []string{
		"id", "run_at", "completed_at", "trigger", "dry_run", "records_checked", "mismatches_found",
		"auto_repaired", "failed_repairs", "details", "status", "error_message"})
	require.Subset(t, indexes(t, conn), []string{
		"outbox_messages_claimable_idx", "outbox_messages_created_at_idx", "idempotency_keys_expires_at_idx",
		"idempotency_keys_client_key_key", "incoming_emails_client_idempotency_key_key"})

	ctx := context.Background()
	var reloptions []string
	require.NoError(t, conn.QueryRow(ctx, `SELECT reloptions FROM pg_class WHERE relname = 'outbox_messages'`).Scan(&reloptions))
	require.Contains(t, reloptions, "autovacuum_vacuum_scale_factor=0.01")

	// The CHECK on sync_status and the UNIQUE (client_id, idempotency_key) hold.
	_, err := conn.Exec(ctx, `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at, sync_status)
		VALUES ('c', '<m@x>', 'a@x', '{b@x}', now(), 'lost')`)
	require.ErrorContains(t, err, "incoming_emails_sync_status_check")
	insert := `INSERT INTO incoming_emails (client_id, message_id, from_address, to_addresses, received_at, idempotency_key)
		VALUES ('c', '<m@x>', 'a@x', '{b@x}', now(), 'k1')`
	_, err = conn.Exec(ctx, insert)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, insert)
	require.ErrorContains(t, err, "incoming_emails_client_idempotency_key_key")
	_, err = conn.Exec(ctx, `DELETE FROM incoming_emails`)
	require.NoError(t, err)
}

func tables(t *testing.T, conn *pgx.Conn) []string {
	return strings(t, conn, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1`)
}

func columns(t *testing.T, conn *pgx.Conn, table string) []string {
	return strings(t, conn, `SELECT column_name FROM information_schema.columns WHERE table_name = $1`, table)
}

func indexes(t *testing.T, conn *pgx.Conn) []string {
	return strings(t, conn, `SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`)
}

func strings(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	if out == nil {
		out = []string{}
	}
	return out
}
