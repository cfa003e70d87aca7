package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// TestIngestDoesNotWaitForTheAuditChain holds the audit chain's lock (as a
// long audited transaction would) and ingests meanwhile: ingest writes no
// audit event and goes on, while a PATCH, which is audited, waits for the
// lock and completes once it is released.
func TestIngestDoesNotWaitForTheAuditChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	id := e.create("lock-0", sampleEmail(1))

	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, _, err = db.New(tx).LockAuditChainHead(ctx)
	require.NoError(t, err)

	for i, key := range []string{"lock-1", "lock-2", "lock-3"} {
		e.create(key, sampleEmail(i+2))
	}
	batch := e.do(http.MethodPost, "/v1/emails/batch", "application/json",
		[]byte(`{"emails": [{"idempotency_key": "lock-4", "email": {"message_id": "<lock-4@x>", "from": "a@example.com", "to": ["b@example.com"], "subject": "s", "received_at": "2026-11-27T10:00:00Z"}}]}`))
	require.Equal(t, http.StatusOK, batch.status, string(batch.body))
	item := batch.json(t)["results"].([]any)[0].(map[string]any)
	require.EqualValues(t, http.StatusCreated, item["status"], string(batch.body))

	patched := make(chan response, 1)
	go func() { patched <- e.patch(id, `"1"`, `{"labels": ["x"]}`) }()
	dbtest.AwaitLockWait(t, e.pool)
	select {
	case r := <-patched:
		t.Fatalf("the audited PATCH completed while the chain was locked: %d %s", r.status, r.body)
	default:
	}
	require.NoError(t, tx.Rollback(ctx))
	r := <-patched
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}
