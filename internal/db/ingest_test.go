package db_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
)

func newEmail(client, key, subject string) db.NewEmail {
	c := email.Content{ClientID: client, MessageID: "<" + key + "@db.test>", From: "a@example.com",
		To: []string{"b@example.com"}, Subject: subject, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.Normalize()
	return db.NewEmail{Content: c, Hash: c.Hash(), Key: key, Fingerprint: "fp-" + key}
}

func countRows(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestIdempotencyKeysClaimCompleteFind(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	q := db.New(pool)
	expires := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	claims := []db.KeyClaim{
		{ClientID: "a", Key: "k1", Fingerprint: "f1", ExpiresAt: expires},
		{ClientID: "a", Key: "k2", Fingerprint: "f2", ExpiresAt: expires},
	}
	ids, err := q.ClaimIdempotencyKeys(ctx, claims)
	require.NoError(t, err)
	require.Len(t, ids, 2)
	require.NotZero(t, ids[0])
	require.NotZero(t, ids[1])

	k, ok, err := q.FindIdempotencyKey(ctx, "a", "k1")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, k.Completed())
	require.Zero(t, k.ResponseStatus)
	require.Zero(t, k.ResourceID)

	again, err := q.ClaimIdempotencyKeys(ctx, []db.KeyClaim{claims[1], {ClientID: "b", Key: "k1", ExpiresAt: expires}})
	require.NoError(t, err)
	require.Zero(t, again[0], "a key claimed before is not claimed again")
	require.NotZero(t, again[1], "keys are per client")

	require.NoError(t, q.CompleteIdempotencyKeys(ctx, []db.KeyCompletion{
		{ID: ids[0], Status: http.StatusCreated, ResourceID: 7},
		{ID: ids[1], Status: http.StatusUnprocessableEntity},
	}))
	k, ok, err = q.FindIdempotencyKey(ctx, "a", "k1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, db.IdempotencyKey{ID: ids[0], ClientID: "a", Key: "k1", RequestFingerprint: "f1",
		Status: db.KeyCompleted, ResponseStatus: http.StatusCreated, ResourceID: 7, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}, k)
	require.True(t, k.ExpiresAt.Equal(expires))
	k, _, err = q.FindIdempotencyKey(ctx, "a", "k2")
	require.NoError(t, err)
	require.True(t, k.Completed())
	require.Zero(t, k.ResourceID, "no resource is stored as none")

	_, ok, err = q.FindIdempotencyKey(ctx, "a", "never")
	require.NoError(t, err)
	require.False(t, ok)

	id, err := q.ClaimIdempotencyKey(ctx, db.KeyClaim{ClientID: "a", Key: "k3", ExpiresAt: expires})
	require.NoError(t, err)
	require.NoError(t, q.CompleteIdempotencyKey(ctx, db.KeyCompletion{ID: id, Status: http.StatusAccepted, ResourceID: 9}))
	id, err = q.ClaimIdempotencyKey(ctx, db.KeyClaim{ClientID: "a", Key: "k3", ExpiresAt: expires})
	require.NoError(t, err)
	require.Zero(t, id)
}

func TestInsertEmailsStoresEachKeyOnce(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	q := db.New(pool)
	first, err := q.InsertEmails(ctx, []db.NewEmail{newEmail("a", "k1", "one"), newEmail("a", "k2", "two")}, 7)
	require.NoError(t, err)
	require.Len(t, first, 2)
	for i, e := range first {
		require.NotZero(t, e.ID)
		require.Equal(t, int64(1), e.Version)
		require.Equal(t, "pending", e.SyncStatus)
		require.Equal(t, []string{"k1", "k2"}[i], *e.IdempotencyKey)
		got, err := q.GetEmail(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, got, e, "the email returned is the email stored")
	}
	require.Equal(t, 2, countRows(t, pool, `SELECT count(*) FROM outbox_messages WHERE operation = 'upsert' AND max_retries = 7`))

	again, err := q.InsertEmails(ctx, []db.NewEmail{newEmail("a", "k1", "other"), newEmail("b", "k1", "three")}, 7)
	require.NoError(t, err)
	require.Zero(t, again[0].ID, "the client already stored an email under k1")
	require.NotZero(t, again[1].ID)
	require.Equal(t, 3, countRows(t, pool, `SELECT count(*) FROM outbox_messages`))

	e, fingerprint, ok, err := q.FindEmailByKey(ctx, "a", "k1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, first[0].ID, e.ID)
	require.Equal(t, "one", e.Subject)
	require.Equal(t, "fp-k1", fingerprint, "the request's fingerprint is kept with the email")
	_, _, ok, err = q.FindEmailByKey(ctx, "b", "k2")
	require.NoError(t, err)
	require.False(t, ok)
}

func TestLockAndUpdateEmailPlacement(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	stored, err := db.New(pool).InsertEmails(ctx, []db.NewEmail{newEmail("a", "k", "s")}, 3)
	require.NoError(t, err)
	id := stored[0].ID

	_, err = db.New(pool).LockEmail(ctx, id+1000)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))

	err = db.InTx(ctx, pool, func(q *db.Queries) error {
		cur, err := q.LockEmail(ctx, id)
		require.NoError(t, err)
		require.Equal(t, stored[0], cur)
		u := db.PlacementUpdate{ID: id, ExpectedVersion: cur.Version + 1, Mailbox: "Archive",
			Labels: []string{"x"}, ContentHash: "h", MaxRetries: 3}
		_, ok, err := q.UpdateEmailPlacement(ctx, u)
		require.NoError(t, err)
		require.False(t, ok, "not at the expected version")
		u.ExpectedVersion = cur.Version
		e, ok, err := q.UpdateEmailPlacement(ctx, u)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, cur.Version+1, e.Version)
		require.Equal(t, "Archive", e.Mailbox)
		require.Equal(t, []string{"x"}, e.Labels)
		require.Equal(t, "h", e.ContentHash)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, countRows(t, pool, `SELECT count(*) FROM outbox_messages WHERE aggregate_id = $1`, id))
}
