package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// record appends n events in transactions of their own.
func record(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		require.NoError(t, db.InTx(context.Background(), pool, func(q *db.Queries) error {
			return audit.Record(context.Background(), q, audit.Actor{ClientID: "ops", RequestID: fmt.Sprint("r-", i)},
				audit.ActionPatch, fmt.Sprint("email:", i), map[string]any{"labels": []string{"x"}, "n": i})
		}))
	}
}

// attacker is a superuser session with mailsync's triggers switched off, as
// someone with full access to the database host would have.
func attacker(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(context.Background(), `SET session_replication_role = replica`)
	require.NoError(t, err)
	return conn
}

func verify(t *testing.T, pool *pgxpool.Pool) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), pool, audit.VerifyOptions{})
	require.NoError(t, err)
	return rep
}

func TestConcurrentAuditedActionsFormOneLinearChain(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	const workers, each = 16, 25
	var g errgroup.Group
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			for i := 0; i < each; i++ {
				err := db.InTx(ctx, pool, func(q *db.Queries) error {
					return audit.Record(ctx, q, audit.Actor{ClientID: fmt.Sprint("c", w)}, audit.ActionSyncRetry,
						fmt.Sprintf("email:%d", w*each+i), nil)
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())

	rep := verify(t, pool)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, workers*each, rep.Events)
	require.EqualValues(t, workers*each, rep.HeadSeq)
	var distinct, maxSeq int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(DISTINCT seq), max(seq) FROM audit_events`).Scan(&distinct, &maxSeq))
	require.EqualValues(t, workers*each, distinct, "every event has a seq of its own")
	require.EqualValues(t, workers*each, maxSeq, "no gaps")
}

func TestRolledBackActionLeavesNoGapInTheChain(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	record(t, pool, 2)
	err := db.InTx(ctx, pool, func(q *db.Queries) error {
		require.NoError(t, audit.Record(ctx, q, audit.Actor{ClientID: "ops"}, audit.ActionErase, "email:9", nil))
		return fmt.Errorf("the action failed")
	})
	require.Error(t, err)
	record(t, pool, 1)
	rep := verify(t, pool)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 3, rep.HeadSeq)
}

func TestAuditEventsRefuseUpdateDeleteAndTruncate(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	record(t, pool, 3)
	for _, stmt := range []string{
		`UPDATE audit_events SET target = 'email:999' WHERE seq = 2`,
		`UPDATE audit_events SET details = '{"labels": []}' WHERE seq = 2`,
		`DELETE FROM audit_events WHERE seq = 1`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		_, err := pool.Exec(ctx, stmt)
		require.ErrorContains(t, err, "audit_events is append-only", stmt)
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE target <> 'email:999'`).Scan(&n))
	require.Equal(t, 3, n)

	// A redaction replaces the details and keeps their hash: the chain holds.
	_, err := pool.Exec(ctx, `UPDATE audit_events SET details = '{"redacted": true, "reason": "erasure request"}' WHERE seq = 2`)
	require.NoError(t, err)
	rep := verify(t, pool)
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 1, rep.Redacted)
}

// TestVerifyNamesTheTamperedEvent tampers with the trail as a superuser
// with the triggers off would, one way per case, and expects Verify to name
// the event.
func TestVerifyNamesTheTamperedEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		sql    string
		kind   string
		seq    int64
		byID   bool // the finding names an event that exists (by id = seq here)
		detail string
	}{
		{"edit a field", `UPDATE audit_events SET target = 'email:999' WHERE seq = 4`, audit.KindChanged, 4, true, "fields"},
		{"edit details", `UPDATE audit_events SET details = '{"labels": ["y"], "n": 4}' WHERE seq = 4`, audit.KindChanged, 4, true, "details"},
		{"edit details and their hash", `UPDATE audit_events SET details = '{"n": 0}', details_hash = sha256('{"n": 0}') WHERE seq = 4`,
			audit.KindChanged, 4, true, "fields"},
		{"edit and recompute the row's hash", `UPDATE audit_events SET target = 'email:999',
			hash = audit_event_hash(prev_hash, seq, at, client_id, action, 'email:999', request_id, details_hash) WHERE seq = 4`,
			audit.KindChanged, 4, true, "event 5 recorded"},
		{"delete an event", `DELETE FROM audit_events WHERE seq = 4`, audit.KindDeleted, 4, false, "seq 4 to 4 are missing"},
		{"delete the newest event", `DELETE FROM audit_events WHERE seq = 6`, audit.KindDeleted, 6, false, "newest"},
		{"insert an event at an existing seq", `INSERT INTO audit_events (id, seq, at, client_id, action, target, details, details_hash, prev_hash, hash)
			SELECT 100, seq, at, 'ops', 'email.erase', 'email:7', details, details_hash, prev_hash, hash FROM audit_events WHERE seq = 4`,
			audit.KindInserted, 4, true, "2 events hold seq 4"},
		{"insert an event and renumber", `UPDATE audit_events SET seq = seq + 1 WHERE seq >= 4;
			INSERT INTO audit_events (id, seq, at, client_id, action, target, details, details_hash, prev_hash, hash)
			SELECT 100, 4, at, 'ops', 'email.erase', 'email:7', details, details_hash, hash, sha256('forged') FROM audit_events WHERE seq = 3`,
			audit.KindInserted, 4, true, "chained to event 3"},
		{"append an event", `INSERT INTO audit_events (id, seq, at, client_id, action, target, details, details_hash, prev_hash, hash)
			SELECT 100, 7, at, 'ops', 'email.erase', 'email:7', details, details_hash, hash, hash FROM audit_events WHERE seq = 6`,
			audit.KindInserted, 7, true, "after the chain's recorded head"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, url := dbtest.New(t)
			record(t, pool, 6)
			require.True(t, verify(t, pool).Intact())
			_, err := attacker(t, url).Exec(context.Background(), tc.sql)
			require.NoError(t, err)

			rep := verify(t, pool)
			require.False(t, rep.Intact())
			f := rep.Findings[0]
			require.Equal(t, tc.kind, f.Kind, f.String())
			require.Equal(t, tc.seq, f.Seq, f.String())
			if tc.byID {
				want := tc.seq
				if tc.kind == audit.KindInserted {
					want = 100
				}
				require.Equal(t, want, f.ID, f.String())
			}
			require.Contains(t, f.String(), tc.detail)
		})
	}
}
