package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// auditRun runs `server audit args...` and returns its error and output.
func auditRun(t *testing.T, cfg config, args ...string) (error, string) {
	t.Helper()
	var out bytes.Buffer
	err := auditCmd(context.Background(), cfg, args, &out)
	return err, out.String()
}

func TestAuditHelp(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"-h", "--help", "help"} {
		err, out := auditRun(t, config{}, h)
		require.NoError(t, err, h)
		require.Contains(t, out, "usage: server audit <command>")
		require.Contains(t, out, "verify [--from-checkpoint FILE]")
	}
	err, out := auditRun(t, config{}, "verify", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "usage: server audit")
	err, _ = auditRun(t, config{})
	require.ErrorContains(t, err, "audit needs a command")
	err, _ = auditRun(t, config{}, "frobnicate")
	require.ErrorContains(t, err, `unknown audit command "frobnicate"`)
	err, _ = auditRun(t, config{}, "verify", "extra")
	require.ErrorContains(t, err, "unexpected arguments")
}

// TestAuditVerifyCommandNamesTheTamperedEvent is the whole round: a key
// made with keygen, a checkpoint signed and copied off the host, then rows
// edited, inserted and deleted by a superuser with the triggers off; each
// time `server audit verify` fails naming the event.
func TestAuditVerifyCommandNamesTheTamperedEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	err, vkey := auditRun(t, config{}, "keygen", "--out", keyFile)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(vkey, "mailsync-audit+"), vkey)
	st, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	err, _ = auditRun(t, config{}, "keygen", "--out", keyFile)
	require.Error(t, err, "an existing key is never overwritten")
	vkeyFile := filepath.Join(dir, "audit.pub")
	require.NoError(t, os.WriteFile(vkeyFile, []byte(vkey), 0o644))

	cases := []struct{ name, sql, want string }{
		{"edit", `UPDATE audit_events SET details = '{"labels": ["hidden"]}' WHERE seq = 3`, "changed: event 3 (seq 3)"},
		{"insert", `INSERT INTO audit_events (id, seq, client_id, action, target, details_hash, prev_hash, hash)
			SELECT 100, 3, 'ops', 'email.erase', 'email:9', details_hash, prev_hash, hash FROM audit_events WHERE seq = 3`,
			"inserted: event 100 (seq 3)"},
		{"delete", `DELETE FROM audit_events WHERE seq = 3`, "deleted: seq 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, url := dbtest.New(t)
			ctx := context.Background()
			cfg := config{DatabaseURL: url, Audit: auditSettings{SigningKeyFile: keyFile}}
			for i := 0; i < 5; i++ {
				require.NoError(t, db.InTx(ctx, pool, func(q *db.Queries) error {
					return audit.Record(ctx, q, audit.Actor{ClientID: "ops"}, audit.ActionSyncRetry, "email:1", nil)
				}))
			}
			err, note := auditRun(t, cfg, "checkpoint")
			require.NoError(t, err)
			require.Contains(t, note, "mailsync audit checkpoint\n5\n")
			noteFile := filepath.Join(t.TempDir(), "checkpoint.txt")
			require.NoError(t, os.WriteFile(noteFile, []byte(note), 0o644))

			err, out := auditRun(t, config{DatabaseURL: url}, "verify", "--key", vkeyFile, "--from-checkpoint", noteFile)
			require.NoError(t, err, out)
			require.Contains(t, out, "5 events verified (seq 1 to 5), 0 redacted; 2 checkpoints match")
			require.Contains(t, out, "audit chain intact")

			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, `SET session_replication_role = replica`)
			require.NoError(t, err)
			_, err = conn.Exec(ctx, tc.sql)
			require.NoError(t, err)

			err, out = auditRun(t, cfg, "verify", "--from-checkpoint", noteFile)
			require.Error(t, err)
			require.Contains(t, err.Error(), "audit chain broken: "+tc.want)
			require.True(t, strings.HasPrefix(out, tc.want), out)
		})
	}
}

func TestAuditVerifyRejectsAnotherKeysCheckpoint(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	mine, theirs := filepath.Join(dir, "mine.key"), filepath.Join(dir, "theirs.key")
	err, _ := auditRun(t, config{}, "keygen", "--out", mine)
	require.NoError(t, err)
	err, _ = auditRun(t, config{}, "keygen", "--out", theirs)
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, pool, func(q *db.Queries) error {
		return audit.Record(ctx, q, audit.Actor{ClientID: "ops"}, audit.ActionSyncRetry, "email:1", nil)
	}))
	err, note := auditRun(t, config{DatabaseURL: url, Audit: auditSettings{SigningKeyFile: theirs}}, "checkpoint")
	require.NoError(t, err)

	err, out := auditRun(t, config{DatabaseURL: url, Audit: auditSettings{SigningKeyFile: mine}}, "verify")
	require.Error(t, err)
	require.Contains(t, out, "checkpoint: checkpoint 1: checkpoint signature")

	_, err = pool.Exec(ctx, `DELETE FROM audit_checkpoints`)
	require.NoError(t, err)
	noteFile := filepath.Join(dir, "note")
	require.NoError(t, os.WriteFile(noteFile, []byte(note), 0o644))
	err, out = auditRun(t, config{DatabaseURL: url, Audit: auditSettings{SigningKeyFile: mine}}, "verify", "--from-checkpoint", noteFile)
	require.Error(t, err)
	require.Contains(t, out, "the external checkpoint: checkpoint signature")
	err, _ = auditRun(t, config{DatabaseURL: url, Audit: auditSettings{SigningKeyFile: theirs}}, "verify", "--from-checkpoint", noteFile)
	require.NoError(t, err)
}
