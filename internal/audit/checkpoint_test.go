package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/maintenance"
	"mailsync/internal/testwait"
)

func newKey(t *testing.T, name string) audit.Key {
	t.Helper()
	skey, vkey, err := audit.GenerateKey(name)
	require.NoError(t, err)
	k, err := audit.ParseKey([]byte(skey + "\n"))
	require.NoError(t, err)
	require.Equal(t, vkey, k.Verifier, "the verifier key is derived from the signing key")
	return k
}

func verifiersOf(t *testing.T, keys ...audit.Key) note.Verifiers {
	t.Helper()
	text := ""
	for _, k := range keys {
		text += k.Verifier + "\n"
	}
	v, err := audit.ParseVerifiers([]byte(text))
	require.NoError(t, err)
	return v
}

func checkpoint(t *testing.T, pool *pgxpool.Pool, k audit.Key) *audit.Checkpoint {
	t.Helper()
	cp, err := audit.NewCheckpointer(pool, &audit.CheckpointConfig{Key: k}).Checkpoint(context.Background())
	require.NoError(t, err)
	return cp
}

func verifyWith(t *testing.T, pool *pgxpool.Pool, o audit.VerifyOptions) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), pool, o)
	require.NoError(t, err)
	return rep
}

func TestCheckpointsSignTheHeadAndVerify(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	k := newKey(t, "mailsync-audit")
	require.Nil(t, checkpoint(t, pool, k), "an empty chain has nothing to sign")
	record(t, pool, 3)
	first := checkpoint(t, pool, k)
	require.NotNil(t, first)
	require.EqualValues(t, 3, first.Seq)
	require.Equal(t, "mailsync-audit", first.KeyName)
	require.Contains(t, first.Note, "mailsync audit checkpoint\n3\n")
	require.Contains(t, first.Note, "\n— mailsync-audit ")
	require.Nil(t, checkpoint(t, pool, k), "an unchanged head is not signed again")
	record(t, pool, 2)
	require.EqualValues(t, 5, checkpoint(t, pool, k).Seq)

	rep := verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, k), External: [][]byte{[]byte(first.Note)}})
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.Equal(t, 3, rep.Checkpoints)

	other := newKey(t, "mailsync-audit")
	rep = verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, other)})
	require.False(t, rep.Intact(), "another key with the same name does not verify them")
	require.Equal(t, audit.KindCheckpoint, rep.Findings[0].Kind)
	require.Contains(t, rep.Findings[0].Detail, "checkpoint signature")

	rep = verifyWith(t, pool, audit.VerifyOptions{})
	require.False(t, rep.Intact(), "checkpoints cannot be skipped for want of a key")
	require.Contains(t, rep.Findings[0].Detail, "without a verifier key")
}

func TestForgedCheckpointsAreRejected(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.New(t)
	k := newKey(t, "mailsync-audit")
	record(t, pool, 4)
	require.NotNil(t, checkpoint(t, pool, k))

	// A note of the right form, signed by another key of the same name.
	forger := newKey(t, "mailsync-audit")
	seq, hash := int64(4), []byte{}
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT seq, hash FROM audit_events WHERE seq = 4`).Scan(&seq, &hash))
	forged, err := audit.SignStatement(audit.Statement{Seq: seq, Hash: hash, At: time.Now()}, forger.Signer)
	require.NoError(t, err)
	rep := verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, k), External: [][]byte{[]byte(forged)}})
	require.False(t, rep.Intact())
	require.Equal(t, audit.KindCheckpoint, rep.Findings[0].Kind)
	require.Contains(t, rep.Findings[0].String(), "the external checkpoint: checkpoint signature")

	_, err = attacker(t, url).Exec(context.Background(),
		`INSERT INTO audit_checkpoints (seq, hash, key_name, note) VALUES (4, $1, 'mailsync-audit', $2)`, hash, forged)
	require.NoError(t, err)
	rep = verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, k)})
	require.False(t, rep.Intact())
	require.Contains(t, rep.Findings[0].String(), "checkpoint signature")

	// A note altered after signing fails too.
	good := []byte{}
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT note FROM audit_checkpoints ORDER BY id LIMIT 1`).Scan(&good))
	altered := []byte(string(good[:len("mailsync audit checkpoint\n")]) + "5" + string(good[len("mailsync audit checkpoint\n")+1:]))
	_, err = audit.OpenCheckpoint(altered, verifiersOf(t, k))
	require.Error(t, err)
}

// TestCheckpointCatchesARecomputedChain rewrites an event and recomputes
// every hash after it and the head, as someone who knows the algorithm but
// not the signing key would: the chain alone looks intact, the checkpoint
// signed before does not match.
func TestCheckpointCatchesARecomputedChain(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.New(t)
	k := newKey(t, "mailsync-audit")
	record(t, pool, 5)
	cp := checkpoint(t, pool, k)
	require.NotNil(t, cp)

	_, err := attacker(t, url).Exec(context.Background(), `
		UPDATE audit_events SET target = 'email:999' WHERE seq = 2;
		DO $$
		DECLARE r record; prev bytea;
		BEGIN
			SELECT hash INTO prev FROM audit_events WHERE seq = 1;
			FOR r IN SELECT * FROM audit_events WHERE seq >= 2 ORDER BY seq LOOP
				UPDATE audit_events SET prev_hash = prev,
					hash = audit_event_hash(prev, r.seq, r.at, r.client_id, r.action, r.target, r.request_id, r.details_hash)
				WHERE id = r.id RETURNING hash INTO prev;
			END LOOP;
			UPDATE audit_chain SET head_hash = prev;
		END $$;`)
	require.NoError(t, err)

	require.True(t, verifyWith(t, pool, audit.VerifyOptions{}).Findings[0].Kind == audit.KindCheckpoint,
		"without the key only the checkpoint's want of a key is reported")
	rep := verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, k)})
	require.False(t, rep.Intact())
	f := rep.Findings[0]
	require.Equal(t, audit.KindChanged, f.Kind, f.String())
	require.EqualValues(t, 5, f.Seq)
	require.Contains(t, f.Detail, "differs from checkpoint")

	// The same check from a copy of the note kept elsewhere, with the stored
	// checkpoints gone.
	_, err = attacker(t, url).Exec(context.Background(), `DELETE FROM audit_checkpoints`)
	require.NoError(t, err)
	rep = verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, k), External: [][]byte{[]byte(cp.Note)}})
	require.False(t, rep.Intact())
	require.Contains(t, rep.Findings[0].Detail, "differs from the external checkpoint")
}

func TestPEMKeySignsAndVerifies(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	file := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	k, err := audit.ParseKey(file)
	require.NoError(t, err)
	require.Equal(t, audit.DefaultKeyName, k.Signer.Name())
	text, err := audit.SignStatement(audit.Statement{Seq: 7, Hash: audit.ZeroHash, At: time.Now()}, k.Signer)
	require.NoError(t, err)
	v, err := audit.ParseVerifiers(file)
	require.NoError(t, err)
	s, err := audit.OpenCheckpoint([]byte(text), v)
	require.NoError(t, err)
	require.EqualValues(t, 7, s.Seq)

	_, err = audit.ParseKey([]byte("not a key"))
	require.Error(t, err)
}

func TestPruningKeepsCheckpointsVerifiable(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	k := newKey(t, "mailsync-audit")
	old := func(n int) {
		for i := 0; i < n; i++ {
			_, err := pool.Exec(ctx, `INSERT INTO audit_events (client_id, action, target, at)
				VALUES ('ops', 'email.patch', 'email:1', now() - interval '400 days')`)
			require.NoError(t, err)
		}
	}
	old(2)
	require.EqualValues(t, 2, checkpoint(t, pool, k).Seq) // will be inside the pruned prefix
	old(1)
	require.EqualValues(t, 3, checkpoint(t, pool, k).Seq) // will be the pruned prefix's end
	record(t, pool, 3)
	require.EqualValues(t, 6, checkpoint(t, pool, k).Seq)

	res, err := maintenance.New(pool, &maintenance.Config{AuditRetention: 365 * 24 * time.Hour}).RunOnce(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, res["audit_events"])
	record(t, pool, 1)

	rep := verifyWith(t, pool, audit.VerifyOptions{Verifiers: verifiersOf(t, k)})
	require.True(t, rep.Intact(), "%v", rep.Findings)
	require.EqualValues(t, 3, rep.FromSeq)
	require.EqualValues(t, 4, rep.Events)
	require.Equal(t, 2, rep.Checkpoints, "the checkpoint at the pruned seq and the newer one")
	require.Equal(t, 1, rep.Unreachable, "the one inside the pruned prefix")
}

func TestCheckpointerSignsAtItsInterval(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	k := newKey(t, "mailsync-audit")
	record(t, pool, 1)
	c := audit.NewCheckpointer(pool, &audit.CheckpointConfig{Key: k, Interval: 50 * time.Millisecond})
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { _ = c.Stop(ctx) })
	latest := func() int64 {
		cp, err := db.New(pool).LatestAuditCheckpoint(ctx)
		require.NoError(t, err)
		if cp == nil {
			return 0
		}
		return cp.Seq
	}
	testwait.Until(t, 10*time.Second, "the first checkpoint", func() bool { return latest() == 1 })
	record(t, pool, 2)
	testwait.Until(t, 10*time.Second, "a checkpoint of the new head", func() bool { return latest() == 3 })
	require.NoError(t, c.Stop(ctx))
	var n, heads int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT seq) FROM audit_checkpoints`).Scan(&n, &heads))
	require.Equal(t, heads, n, "one checkpoint per head")
}
